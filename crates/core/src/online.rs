//! The online part of a label check, sans-I/O: from bytes a verifier fetched (the log's signed
//! checkpoint, the hash tiles on the label's inclusion path, the status proof of the label's
//! bucket) to the final verdict a person sees.
//!
//! The flow (the browser page and the CLI drive it; this module does no I/O):
//! 1. [`plan`]: verify the fetched checkpoint under the trust list's log key and witness policy
//!    and say which tiles and which status bucket to fetch. Only a verified checkpoint may imply
//!    tile widths (C2SP tlog-tiles), and the paths name tiles and a 256-label bucket — never the
//!    label itself.
//! 2. [`check_log`]: rebuild the inclusion proof from the tiles and check it against the
//!    checkpoint root, with the leaf hash computed from the label bytes themselves (never taken
//!    from the server).
//! 3. [`check_status`]: verify the status proof (its own checkpoint is verified under the same
//!    policy) and read the label's state.
//! 4. [`final_verdict`]: combine the offline outcome with both checks. A label whose offline
//!    part fails is never upgraded by the network; a network failure never downgrades a valid
//!    label to "not genuine": it gives [`Verdict::CannotCheck`] with the offline part still shown.

use crate::catalog::Catalog;
use crate::checkpoint::{self, CheckpointError, Policy, VerifiedCheckpoint};
use crate::merkle::{self, Hash, ProofError};
use crate::note::{NoteError, VerifierKey};
use crate::status::{self, State, StatusProofError};
use crate::tiles::{self, TileError, TileKind, TilePath, TileSet};
use crate::trust::TrustList;
use crate::verdict::{self, Report, Verdict};

/// Labels per status bucket (= entries per level-0 tile), FORMATS.md §4.
pub const BUCKET_SIZE: u64 = status::BUCKET_LABELS;

/// Why the online check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OnlineError {
    /// The checkpoint did not verify under the trust list's log key and witness policy.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The label's serial is not below the checkpoint's tree size: the checkpoint predates the
    /// label or the serial is false.
    #[error("label index {index} is not in the log's tree of size {size}")]
    NotYetInLog {
        /// label serial
        index: u64,
        /// checkpoint tree size
        size: u64,
    },
    /// A tile is missing, has the wrong length or its path is not one of the planned paths.
    #[error("tiles: {0}")]
    Tiles(#[from] TileError),
    /// A tile path that the plan did not ask for.
    #[error("unexpected tile")]
    UnexpectedTile,
    /// The inclusion proof built from the tiles does not lead to the checkpoint root: the log
    /// does not hold these label bytes at this index.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// The status proof did not verify.
    #[error("status proof: {0}")]
    Status(#[from] StatusProofError),
    /// The status proof is for another bucket or does not cover the label.
    #[error("status proof is for the wrong bucket")]
    WrongBucket,
    /// The checkpoint's origin is not a log in the trust list.
    #[error("checkpoint origin is not a trusted log")]
    UnknownLog,
    /// The checkpoint is from another trusted log than the one the trust list names for the
    /// label's issuer: asked at the wrong log, which proves nothing about this label.
    #[error("the checkpoint is from another log than the one this issuer's labels are in")]
    WrongLog,
    /// A log or witness key in the trust list does not parse.
    #[error("trust list key: {0}")]
    TrustListKey(#[from] NoteError),
    /// The log's tiles (consistent with the verified checkpoint) hold a different entry at the
    /// label's index: these label bytes were never logged.
    #[error("the log holds a different entry at this label's index")]
    LabelNotInLog,
    /// The status proof's checkpoint is older (smaller) than the checkpoint the inclusion was
    /// checked against: it may predate a revocation (a replayed old proof), so it cannot vouch
    /// for the label's current state.
    #[error(
        "status proof is from an older checkpoint (size {status_size}) than the log check (size {checkpoint_size})"
    )]
    StaleStatus {
        /// tree size of the status proof's checkpoint
        status_size: u64,
        /// tree size of the inclusion checkpoint
        checkpoint_size: u64,
    },
    /// The data was not fetched (network unavailable).
    #[error("not available")]
    Unavailable,
    /// The checkpoint is smaller than one this verifier verified before: the log (or someone
    /// between it and us) is showing an older state — a replay or a rollback.
    #[error("the log showed tree size {size}, older than size {seen} verified before")]
    Rollback {
        /// tree size of the checkpoint just fetched
        size: u64,
        /// tree size of the newest checkpoint verified before
        seen: u64,
    },
    /// The checkpoint cannot extend the one this verifier verified before (same size and
    /// another root, or no valid consistency proof): two views of one log — a split view.
    #[error(
        "the log's checkpoint (size {size}) is not consistent with the one verified before (size {seen})"
    )]
    Fork {
        /// tree size of the checkpoint just fetched
        size: u64,
        /// tree size of the newest checkpoint verified before
        seen: u64,
    },
    /// The label is beyond the tree, though by its issue day and the log's maximum merge
    /// delay it would have to be in it: it was never logged.
    #[error(
        "label index {index} is not in the log (tree size {size} as of {witnessed_at}), though it would have to be by now"
    )]
    NeverLogged {
        /// label serial
        index: u64,
        /// checkpoint tree size
        size: u64,
        /// time the witnesses vouch for
        witnessed_at: u64,
    },
}

/// The newest checkpoint of a log that a verifier has verified before (the page keeps it in
/// browser storage, the CLI in a file): every later checkpoint must extend it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// tree size
    pub size: u64,
    /// root hash
    pub root: Hash,
}

/// What to fetch after the checkpoint: hash tiles for the inclusion proof (and for the
/// consistency proof from the checkpoint verified before, if any) and the label's status
/// bucket — plus, for a label in one of the two newest level-0 tiles while the newest is
/// partial, the tiles and bucket of the other one, so that every label there makes the same
/// requests and hides among at least 256 (see [`cover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// tree size of the verified checkpoint the tile widths are for
    pub size: u64,
    /// hash tiles, in fetch order, each once
    pub tiles: Vec<TilePath>,
    /// status bucket number (label index / 256)
    pub bucket: u64,
    /// every status bucket to fetch, ascending: the label's, and a cover bucket if any
    pub buckets: Vec<u64>,
}

/// The level-0 tile whose requests a label in tile `k` also makes, at tree size `size`: while
/// the newest tile is partial (it may hold a single label), labels in it and in the tile before
/// it fetch the union of both tiles' requests, so an observer of the requests learns only that
/// the label is one of those ≥ 256 + w entries. `None` when the label's tile already hides it
/// among 256 (every other full tile) or the log has fewer than 256 entries.
#[must_use]
pub fn cover(k: u64, size: u64) -> Option<u64> {
    if size.is_multiple_of(BUCKET_SIZE) || size < BUCKET_SIZE {
        return None;
    }
    let newest = size / BUCKET_SIZE;
    if k == newest {
        Some(newest - 1)
    } else if k + 1 == newest {
        Some(newest)
    } else {
        None
    }
}

/// The tiles and status buckets a verifier fetches for the label at `index` under a tree of
/// `size` (the inclusion proof, with [`cover`]'s tile), in a fixed order that does not depend
/// on which of the covered labels it is.
///
/// # Errors
/// [`OnlineError::Tiles`] if `index` is not below `size`.
pub fn fetch_set(index: u64, size: u64) -> Result<(Vec<TilePath>, Vec<u64>), OnlineError> {
    let k = index / BUCKET_SIZE;
    let mut tiles = tiles::tiles_for_inclusion(index, size)?;
    let mut buckets = vec![k];
    if let Some(other) = cover(k, size) {
        for t in tiles::tiles_for_inclusion(other * BUCKET_SIZE, size)? {
            if !tiles.contains(&t) {
                tiles.push(t);
            }
        }
        buckets.push(other);
        tiles.sort_by_key(|t| (t.to_path().len(), t.to_path()));
        buckets.sort_unstable();
    }
    Ok((tiles, buckets))
}

impl FetchPlan {
    /// Every status path to fetch, in order (the label's and any cover bucket).
    #[must_use]
    pub fn status_paths(&self) -> Vec<String> {
        self.buckets.iter().map(|b| status_path(*b)).collect()
    }

    /// Tile paths relative to the log prefix (`tile/0/x001/234.p/7`).
    #[must_use]
    pub fn tile_paths(&self) -> Vec<String> {
        self.tiles.iter().map(TilePath::to_path).collect()
    }

    /// The status proof path relative to the log prefix: `status/<N>`, `<N>` in tile-path form.
    #[must_use]
    pub fn status_path(&self) -> String {
        status_path(self.bucket)
    }
}

/// `status/<N>` for bucket `N`, `<N>` in tile-path form (`x001/234`).
#[must_use]
pub fn status_path(bucket: u64) -> String {
    let tile = TilePath {
        kind: TileKind::Hash(0),
        index: bucket,
        width: 256,
    }
    .to_path();
    // "tile/0/<N>" → "<N>": reuse the tile index encoding so both agree byte for byte.
    let n = tile.strip_prefix("tile/0/").unwrap_or(&tile);
    let mut s = String::from("status/");
    s.push_str(n);
    s
}

/// Verify the checkpoint and plan the fetches for the label at `index`.
///
/// # Errors
/// [`OnlineError::Checkpoint`] if the checkpoint does not verify under `policy`;
/// [`OnlineError::NotYetInLog`] if `index` is not below its size.
pub fn plan(
    index: u64,
    signed_checkpoint: &[u8],
    policy: &Policy,
    now: u64,
    seen: Option<&Seen>,
) -> Result<(VerifiedCheckpoint, FetchPlan), OnlineError> {
    let vc = checkpoint::open_fresh(signed_checkpoint, policy, now)?;
    let size = vc.checkpoint.size;
    let (mut tiles, buckets) = if index < size {
        fetch_set(index, size)?
    } else {
        (Vec::new(), vec![index / BUCKET_SIZE])
    };
    if let Some(seen) = seen
        && seen.size > 0
        && seen.size < size
    {
        for t in tiles::tiles_for_consistency(seen.size, size)? {
            if !tiles.contains(&t) {
                tiles.push(t);
            }
        }
    }
    Ok((
        vc,
        FetchPlan {
            size,
            tiles,
            bucket: index / BUCKET_SIZE,
            buckets,
        },
    ))
}

/// Check a verified checkpoint against the newest one verified before: same size → same root;
/// larger → a consistency proof rebuilt from the fetched tiles; smaller → rollback.
///
/// # Errors
/// [`OnlineError::Rollback`] or [`OnlineError::Fork`].
pub fn check_consistent_with_seen(
    vc: &VerifiedCheckpoint,
    seen: &Seen,
    set: &TileSet,
) -> Result<(), OnlineError> {
    let (size, root) = (vc.checkpoint.size, &vc.checkpoint.root);
    let fork = OnlineError::Fork {
        size,
        seen: seen.size,
    };
    if size < seen.size {
        return Err(OnlineError::Rollback {
            size,
            seen: seen.size,
        });
    }
    let proof = if seen.size == 0 || seen.size == size {
        Vec::new()
    } else {
        set.consistency_proof(seen.size, size).map_err(|_| fork)?
    };
    merkle::verify_consistency(seen.size, size, &seen.root, root, &proof).map_err(|_| fork)
}

/// Check that `label` (its exact COSE bytes) is the leaf at `index` of the verified checkpoint's
/// tree, using the fetched hash tiles (`tiles[i]` is the body fetched for `plan.tiles[i]`).
///
/// # Errors
/// [`OnlineError::Tiles`] if a tile is missing or the wrong size, [`OnlineError::Inclusion`] if
/// the proof does not lead to the root.
pub fn check_log(
    label: &[u8],
    index: u64,
    vc: &VerifiedCheckpoint,
    plan: &FetchPlan,
    tiles: &[&[u8]],
) -> Result<(), OnlineError> {
    if tiles.len() != plan.tiles.len() {
        return Err(OnlineError::UnexpectedTile);
    }
    let size = vc.checkpoint.size;
    if plan.size != size {
        return Err(OnlineError::UnexpectedTile);
    }
    let set = tile_set(plan, tiles)?;
    check_inclusion(label, index, vc, &set)
}

fn tile_set(plan: &FetchPlan, tiles: &[&[u8]]) -> Result<TileSet, OnlineError> {
    if tiles.len() != plan.tiles.len() {
        return Err(OnlineError::UnexpectedTile);
    }
    let mut set = TileSet::new();
    for (path, bytes) in plan.tiles.iter().zip(tiles) {
        set.insert(*path, bytes.to_vec())?;
    }
    Ok(set)
}

fn check_inclusion(
    label: &[u8],
    index: u64,
    vc: &VerifiedCheckpoint,
    set: &TileSet,
) -> Result<(), OnlineError> {
    let size = vc.checkpoint.size;
    if index >= size {
        return Err(OnlineError::NotYetInLog { index, size });
    }
    let proof = set.inclusion_proof(index, size)?;
    let leaf: Hash = merkle::leaf_hash(label);
    let root = &vc.checkpoint.root;
    match merkle::verify_inclusion(&leaf, index, size, &proof, root) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Tell "the log holds other bytes here" (proven: the tile's own leaf hash is included
            // under the signed root) from "the tiles are corrupt" (nothing proven either way).
            let theirs = set.leaf(index, size)?;
            if merkle::verify_inclusion(&theirs, index, size, &proof, root).is_ok() {
                Err(OnlineError::LabelNotInLog)
            } else {
                Err(OnlineError::Inclusion(e))
            }
        }
    }
}

/// A verified status answer: the state and the checkpoint (tree size, time) it is as of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusAnswer {
    /// the label's stored state ([`State::None`]: the status map has no label at this index)
    pub state: State,
    /// the reason code of the last change (FORMATS §2; 0 while active)
    pub reason: u8,
    /// tree size of the checkpoint the status root comes from
    pub size: u64,
}

/// Verify a status proof (FORMATS.md §4) for the label at `index` under `policy` and read the
/// label's state.
///
/// # Errors
/// [`OnlineError::Status`] if the proof does not verify, [`OnlineError::WrongBucket`] if it is for
/// another bucket or its checkpoint predates the label.
pub fn check_status(
    text: &[u8],
    index: u64,
    policy: &Policy,
    now: u64,
) -> Result<StatusAnswer, OnlineError> {
    check_status_reusing(text, index, policy, now, None)
}

/// [`check_status`] reusing a checkpoint verified moments ago under the same policy
/// ([`status::verify_status_proof_reusing`]).
fn check_status_reusing(
    text: &[u8],
    index: u64,
    policy: &Policy,
    now: u64,
    verified: Option<(&[u8], &VerifiedCheckpoint)>,
) -> Result<StatusAnswer, OnlineError> {
    let verified = match verified {
        Some(v) => status::verify_status_proof_reusing(text, policy, now, v)?,
        None => status::verify_status_proof_at(text, policy, now)?,
    };
    let (state, reason) = verified
        .state_of(index)
        .map_err(|_| OnlineError::WrongBucket)?;
    Ok(StatusAnswer {
        state,
        reason,
        size: verified.checkpoint.checkpoint.size,
    })
}

/// The checkpoint policy of the trust list for the log named by the checkpoint's origin (its
/// first line): the log key, the listed witnesses and the quorum.
///
/// # Errors
/// [`OnlineError::UnknownLog`] if no trusted log has that origin, [`OnlineError::TrustListKey`]
/// if a listed key does not parse.
pub fn policy_for(trust: &TrustList, signed_checkpoint: &[u8]) -> Result<Policy, OnlineError> {
    let origin = signed_checkpoint
        .split(|&b| b == b'\n')
        .next()
        .and_then(|l| core::str::from_utf8(l).ok())
        .ok_or(OnlineError::UnknownLog)?;
    let log = trust
        .logs
        .iter()
        .find(|l| l.origin == origin)
        .ok_or(OnlineError::UnknownLog)?;
    let witnesses = trust
        .witnesses
        .iter()
        .map(|w| VerifierKey::parse(&w.vkey))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        log: VerifierKey::parse(&log.vkey)?,
        witnesses,
        quorum: checkpoint::Rule::from_policy(trust, trust.witness_policy_of(&log.origin))
            .map_err(|_| OnlineError::UnknownLog)?,
        max_age: trust.witness_policy_of(&log.origin).max_age,
    })
}

/// Combine the offline outcome with the log and status checks (`None` = not fetched / network
/// unavailable). `log` carries the tree size of the checkpoint the inclusion was verified against.
///
/// Rules: an offline failure stands whatever the network says. Tiles consistent with a verified
/// checkpoint that hold a different entry at the label's index prove the label was never
/// logged: not genuine; so does a fresh witnessed checkpoint whose tree should hold the label by
/// now but does not ([`Verdict::NotInLog`]). A checkpoint older than or inconsistent with one
/// verified before is [`Verdict::LogInconsistent`]. Revocation and suspension outrank expiry.
/// Any check that could not be done (network, a stale checkpoint, a log answer that did not
/// verify — including tiles that do not lead to the signed root, or a status map without a label
/// at a logged label's index — or a checkpoint older than the label) leaves the verdict at
/// "cannot check now": the offline part is still shown. So does a status proof from a
/// checkpoint older than the inclusion checkpoint ([`OnlineError::StaleStatus`]).
#[must_use]
pub fn final_verdict(
    offline: Verdict,
    log: Option<&Result<u64, OnlineError>>,
    status: Option<&Result<StatusAnswer, OnlineError>>,
) -> Verdict {
    if !offline.offline_passed() {
        return offline;
    }
    let inclusion_size = match log {
        Some(Err(OnlineError::LabelNotInLog | OnlineError::NeverLogged { .. })) => {
            return Verdict::NotInLog;
        }
        Some(Err(OnlineError::Rollback { .. } | OnlineError::Fork { .. })) => {
            return Verdict::LogInconsistent;
        }
        Some(Ok(size)) => *size,
        _ => return Verdict::CannotCheck,
    };
    let (state, reason) = match status {
        Some(Ok(answer)) if answer.size >= inclusion_size => (answer.state, answer.reason),
        _ => return Verdict::CannotCheck,
    };
    match state {
        State::Revoked => Verdict::Revoked(reason),
        State::Suspended => Verdict::Suspended(reason),
        State::None => Verdict::CannotCheck,
        State::Superseded => Verdict::Superseded,
        // active: genuine, or expired by its dates
        State::Active => offline,
    }
}

/// The bytes a verifier fetched; `None` = could not be fetched (offline, server error).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fetched<'a> {
    /// `/checkpoint` body
    pub checkpoint: Option<&'a [u8]>,
    /// the tiles of [`plan_for_label`]'s plan, in plan order
    pub tiles: &'a [&'a [u8]],
    /// `/status/<bucket>` body
    pub status_proof: Option<&'a [u8]>,
}

/// A verified log inclusion: the checkpoint it is against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// tree size of the checkpoint
    pub size: u64,
    /// checkpoint origin
    pub origin: String,
    /// number of verified witness cosignatures
    pub witnesses: usize,
    /// the time the witness quorum vouches for (`None` if the policy needs no witness)
    pub witnessed_at: Option<u64>,
}

/// Everything known after the online check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineReport {
    /// the offline report (claim, issuer, problem)
    pub offline: Report,
    /// the final verdict
    pub verdict: Verdict,
    /// the log check; `None` when not attempted (offline failure) or nothing was fetched
    pub log: Option<Result<Inclusion, OnlineError>>,
    /// the status check; `None` when not attempted or nothing was fetched
    pub status: Option<Result<StatusAnswer, OnlineError>>,
    /// the checkpoint to remember as the newest verified for this log (set when the fetched
    /// checkpoint verified, is fresh and extends the one seen before)
    pub newest: Option<Seen>,
}

/// Plan the fetches for a label after its checkpoint was fetched: verifies the checkpoint (and
/// its freshness at `now`) under the trust list's policy for its origin, and adds the tiles for
/// a consistency proof from `seen`, the newest checkpoint of this log verified before.
///
/// # Errors
/// Any [`OnlineError`] from [`policy_for`] and [`plan`].
pub fn plan_for_label(
    serial: u64,
    trust: &TrustList,
    signed_checkpoint: &[u8],
    now: u64,
    seen: Option<&Seen>,
) -> Result<FetchPlan, OnlineError> {
    let policy = policy_for(trust, signed_checkpoint)?;
    plan(serial, signed_checkpoint, &policy, now, seen).map(|(_, p)| p)
}

/// The full check of a label: offline (signature, issuer, catalog, dates), then the log
/// inclusion and the status from the fetched bytes, combined by [`final_verdict`]. `seen` is the
/// newest checkpoint of the label's log this verifier verified before; the report's `newest`
/// is what to remember next.
#[must_use]
pub fn verify(
    label: &[u8],
    trust: &TrustList,
    catalog: &Catalog,
    now: u64,
    fetched: &Fetched<'_>,
    seen: Option<&Seen>,
) -> OnlineReport {
    let offline = verdict::verify_offline(label, trust, catalog, now);
    let claim = offline.claim.as_ref().map(|c| (c.serial, c.issued_at));
    let mut newest = None;
    let (log, status) = match (offline.verdict.offline_passed(), claim, fetched.checkpoint) {
        (true, Some((serial, issued_at)), Some(cp)) => {
            let issuer_log = offline
                .kid
                .and_then(|kid| trust.log_of_issuer(&kid))
                .map(|l| l.origin.as_str());
            let log = check_log_bytes(
                label,
                (serial, issued_at),
                trust,
                issuer_log,
                cp,
                fetched.tiles,
                now,
                seen,
            )
            .map(|(inclusion, remember, vc)| {
                newest = Some(remember);
                (inclusion, vc)
            });
            // The checkpoint just verified for the inclusion is not verified again when the
            // status proof embeds the same bytes.
            let known = log.as_ref().ok().map(|(_, vc)| (cp, vc));
            let status = match fetched.status_proof {
                Some(text) => Some(
                    policy_for(trust, cp)
                        .and_then(|policy| check_status_reusing(text, serial, &policy, now, known)),
                ),
                None => Some(Err(OnlineError::Unavailable)),
            };
            let log = log.map(|(inclusion, _)| inclusion);
            // A status proof older than the inclusion checkpoint may predate a revocation.
            let status = match (&log, status) {
                (Ok(inc), Some(Ok(answer))) if answer.size < inc.size => {
                    Some(Err(OnlineError::StaleStatus {
                        status_size: answer.size,
                        checkpoint_size: inc.size,
                    }))
                }
                (_, status) => status,
            };
            (Some(log), status)
        }
        (true, Some(_), None) => (Some(Err(OnlineError::Unavailable)), None),
        _ => (None, None),
    };
    let log_size = log
        .as_ref()
        .map(|r| r.as_ref().map(|i| i.size).map_err(|e| *e));
    let verdict = final_verdict(offline.verdict, log_size.as_ref(), status.as_ref());
    OnlineReport {
        offline,
        verdict,
        log,
        status,
        newest,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_log_bytes(
    label: &[u8],
    (serial, issued_at): (u64, u64),
    trust: &TrustList,
    issuer_log: Option<&str>,
    signed_checkpoint: &[u8],
    tiles: &[&[u8]],
    now: u64,
    seen: Option<&Seen>,
) -> Result<(Inclusion, Seen, VerifiedCheckpoint), OnlineError> {
    // Only the issuer's own log can prove anything about its label: another log's tree holds
    // other entries at the label's index, which must not read as "never logged".
    let origin = signed_checkpoint.split(|&b| b == b'\n').next();
    if issuer_log.is_some_and(|want| origin != Some(want.as_bytes())) {
        return Err(OnlineError::WrongLog);
    }
    let policy = policy_for(trust, signed_checkpoint)?;
    let (vc, plan) = plan(serial, signed_checkpoint, &policy, now, seen)?;
    let set = tile_set(&plan, tiles)?;
    if let Some(seen) = seen {
        check_consistent_with_seen(&vc, seen, &set)?;
    }
    let size = vc.checkpoint.size;
    let remember = Seen {
        size,
        root: vc.checkpoint.root,
    };
    if serial >= size {
        let max_merge_delay = trust
            .logs
            .iter()
            .find(|l| l.origin == vc.checkpoint.origin)
            .map_or(0, |l| l.max_merge_delay);
        // The label's whole issue day plus the merge delay must have passed before the time
        // the witnesses vouch for: only then must its entry be in the tree.
        let due = issued_at
            .saturating_add(crate::claim::DAY)
            .saturating_add(max_merge_delay);
        return Err(match vc.witnessed_at {
            Some(t) if t >= due => OnlineError::NeverLogged {
                index: serial,
                size,
                witnessed_at: t,
            },
            _ => OnlineError::NotYetInLog {
                index: serial,
                size,
            },
        });
    }
    check_inclusion(label, serial, &vc, &set)?;
    let witnesses = policy
        .witnesses
        .iter()
        .filter(|w| vc.note.is_signed_by(w))
        .count();
    Ok((
        Inclusion {
            size,
            origin: vc.checkpoint.origin.clone(),
            witnesses,
            witnessed_at: vc.witnessed_at,
        },
        remember,
        vc,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_paths_use_tile_index_form() {
        assert_eq!(status_path(0), "status/000");
        assert_eq!(status_path(1234067), "status/x001/x234/067");
    }

    #[test]
    fn offline_failures_are_never_upgraded() {
        let ok_log = Ok(10);
        let active = Ok(StatusAnswer {
            state: State::Active,
            reason: 0,
            size: 10,
        });
        // every offline failure stands; genuine and expired pass through an active status
        for v in Verdict::ALL {
            assert_eq!(final_verdict(v, Some(&ok_log), Some(&active)), v);
        }
    }

    #[test]
    fn network_failures_give_cannot_check() {
        assert_eq!(
            final_verdict(Verdict::Genuine, None, None),
            Verdict::CannotCheck
        );
        let bad_cp = Err(OnlineError::Checkpoint(CheckpointError::NotSignedByLog));
        assert_eq!(
            final_verdict(Verdict::Genuine, Some(&bad_cp), None),
            Verdict::CannotCheck
        );
        assert_eq!(
            final_verdict(Verdict::Genuine, Some(&Ok(10)), None),
            Verdict::CannotCheck
        );
    }

    #[test]
    fn status_outranks_expiry_and_missing_leaf_is_not_genuine() {
        let ok_log = Ok(10);
        let answer = |state, reason| {
            Ok(StatusAnswer {
                state,
                reason,
                size: 10,
            })
        };
        assert_eq!(
            final_verdict(
                Verdict::Expired,
                Some(&ok_log),
                Some(&answer(State::Revoked, 6))
            ),
            Verdict::Revoked(6)
        );
        assert_eq!(
            final_verdict(
                Verdict::Genuine,
                Some(&ok_log),
                Some(&answer(State::Suspended, 12))
            ),
            Verdict::Suspended(12)
        );
        assert_eq!(
            final_verdict(
                Verdict::Genuine,
                Some(&ok_log),
                Some(&answer(State::None, 0))
            ),
            Verdict::CannotCheck
        );
        // a status proof from an older checkpoint than the inclusion's cannot say "genuine"
        let old = Ok(StatusAnswer {
            state: State::Active,
            reason: 0,
            size: 9,
        });
        assert_eq!(
            final_verdict(Verdict::Genuine, Some(&ok_log), Some(&old)),
            Verdict::CannotCheck
        );
        let corrupt = Err(OnlineError::Inclusion(ProofError::RootMismatch));
        assert_eq!(
            final_verdict(
                Verdict::Genuine,
                Some(&corrupt),
                Some(&answer(State::Active, 0))
            ),
            Verdict::CannotCheck
        );
        let mismatch = Err(OnlineError::LabelNotInLog);
        assert_eq!(
            final_verdict(
                Verdict::Genuine,
                Some(&mismatch),
                Some(&answer(State::Active, 0))
            ),
            Verdict::NotInLog
        );
    }
}
