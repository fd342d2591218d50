//! Caches of the read side: full tiles kept in memory (they never change once full), rendered
//! label images (immutable per label index and format), and the tiles and memoised nodes
//! behind many inclusion proofs at one tree size (bulk responses).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, RwLock};

use axum::body::Bytes;
use cyberlabel_core::merkle;
use cyberlabel_core::tiles::{self, TilePath, TileSet};

use crate::ledger::Ledger;
use crate::service::ServiceError;

/// Full hash tiles and full entry bundles, bounded in bytes (an entry bundle of 256 labels is
/// tens of KB, a hash tile 8 KiB: counting items would not bound memory). The map is simply
/// cleared when the next tile would not fit: full tiles never change, so a cleared one is only
/// read from the store again.
pub(crate) struct FullTiles {
    max_bytes: usize,
    inner: RwLock<(HashMap<TilePath, Bytes>, usize)>,
}

impl FullTiles {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: RwLock::new((HashMap::new(), 0)),
        }
    }

    pub(crate) fn get(&self, tp: &TilePath) -> Option<Bytes> {
        if !tp.is_full() {
            return None;
        }
        self.inner.read().ok().and_then(|m| m.0.get(tp).cloned())
    }

    pub(crate) fn insert(&self, tp: TilePath, bytes: &Bytes) {
        if tp.is_full()
            && bytes.len() <= self.max_bytes
            && let Ok(mut m) = self.inner.write()
        {
            if m.1 + bytes.len() > self.max_bytes {
                m.0.clear();
                m.1 = 0;
            }
            if let Some(old) = m.0.insert(tp, bytes.clone()) {
                m.1 -= old.len();
            }
            m.1 += bytes.len();
        }
    }
}

/// Rendered label images by (label index, format), bounded in bytes, least recently used
/// evicted first.
///
/// A label's bytes never change for its index, and neither do its images (the verifier URL is
/// fixed for the server's life), so an entry never goes stale. The bound counts image bytes
/// (artwork PNGs are tens of KB, SVGs and QR codes a few): counting items would let a few
/// large images hold far more memory than the setting says. An image larger than the whole
/// bound is not kept.
pub(crate) struct ImageCache {
    max_bytes: usize,
    inner: Mutex<Lru>,
    /// For the bytes-held gauge.
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

#[derive(Default)]
struct Lru {
    bytes: usize,
    tick: u64,
    map: HashMap<ImageKey, (Bytes, u64)>,
    /// use tick → key, oldest first
    order: BTreeMap<u64, ImageKey>,
}

/// (label index, format)
pub(crate) type ImageKey = (u64, crate::service::ImageKind);

impl ImageCache {
    pub(crate) fn new(max_bytes: usize, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Lru::default()),
            metrics,
        }
    }

    /// The image, if cached (and marks it recently used).
    pub(crate) fn get(&self, key: &ImageKey) -> Option<Bytes> {
        let mut lru = self.inner.lock().ok()?;
        let lru = &mut *lru;
        lru.tick += 1;
        let tick = lru.tick;
        let (bytes, used) = lru.map.get_mut(key)?;
        lru.order.remove(used);
        *used = tick;
        lru.order.insert(tick, *key);
        Some(bytes.clone())
    }

    pub(crate) fn insert(&self, key: ImageKey, bytes: Bytes) {
        if bytes.len() > self.max_bytes {
            return;
        }
        let Ok(mut lru) = self.inner.lock() else {
            return;
        };
        let lru = &mut *lru;
        lru.tick += 1;
        let tick = lru.tick;
        if let Some((old, used)) = lru.map.remove(&key) {
            lru.order.remove(&used);
            lru.bytes -= old.len();
        }
        while lru.bytes + bytes.len() > self.max_bytes {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some((old, _)) = lru.map.remove(&oldest) {
                lru.bytes -= old.len();
            }
        }
        lru.bytes += bytes.len();
        lru.map.insert(key, (bytes, tick));
        lru.order.insert(tick, key);
        self.metrics.image_cache[2].store(lru.bytes as u64, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        self.inner.lock().map_or((0, 0), |l| (l.bytes, l.map.len()))
    }
}

/// Tiles fetched once for many inclusion proofs against the same tree size.
#[derive(Default)]
pub(crate) struct TileCache {
    set: TileSet,
    have: HashSet<TilePath>,
    nodes: HashMap<merkle::NodeId, merkle::Hash>,
}

impl TileCache {
    pub(crate) fn inclusion_proof(
        &mut self,
        ledger: &Ledger,
        index: u64,
        size: u64,
    ) -> Result<Vec<merkle::Hash>, ServiceError> {
        for t in tiles::tiles_for_inclusion(index, size).map_err(ServiceError::internal)? {
            if self.have.insert(t) {
                let bytes = ledger
                    .tile(&t)
                    .map_err(ServiceError::internal)?
                    .ok_or_else(|| {
                        ServiceError::internal(format!("missing tile {}", t.to_path()))
                    })?;
                self.set.insert(t, bytes).map_err(ServiceError::internal)?;
            }
        }
        // Memoised over the whole request: consecutive labels share their proof nodes, so each
        // node is hashed once instead of being re-folded from its tile for every label.
        merkle::inclusion_proof::<tiles::TileError>(index, size, |id| self.node(id, size))
            .map_err(ServiceError::internal)
    }

    fn node(&mut self, id: merkle::NodeId, size: u64) -> Result<merkle::Hash, tiles::TileError> {
        if let Some(h) = self.nodes.get(&id) {
            return Ok(*h);
        }
        let h = if id.level.is_multiple_of(8) {
            // stored in a tile as is
            self.set.node(id, size)?
        } else {
            let child = |index| merkle::NodeId {
                level: id.level - 1,
                index,
            };
            let l = self.node(child(2 * id.index), size)?;
            let r = self.node(child(2 * id.index + 1), size)?;
            merkle::node_hash(&l, &r)
        };
        self.nodes.insert(id, h);
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ImageKind;

    #[test]
    fn image_cache_is_bounded_in_bytes_and_evicts_least_recently_used() {
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
        let c = ImageCache::new(100, metrics.clone());
        let img = |n: usize| Bytes::from(vec![7u8; n]);
        c.insert((1, ImageKind::ArtworkPng), img(40));
        c.insert((2, ImageKind::ArtworkPng), img(40));
        assert!(c.get(&(1, ImageKind::ArtworkPng)).is_some()); // 1 is now the most recent
        c.insert((3, ImageKind::ArtworkPng), img(40)); // evicts 2, not 1
        assert!(c.get(&(2, ImageKind::ArtworkPng)).is_none());
        assert_eq!(
            c.get(&(1, ImageKind::ArtworkPng)).map(|b| b.len()),
            Some(40)
        );
        assert_eq!(c.held(), (80, 2));
        // many small images: the byte bound holds whatever the count
        for i in 10..200 {
            c.insert((i, ImageKind::QrSvg), img(3));
            assert!(c.held().0 <= 100);
        }
        assert_eq!(c.held().1, 33);
        // too large for the whole cache: not kept, nothing evicted for it
        c.insert((999, ImageKind::ArtworkPng), img(101));
        assert!(c.get(&(999, ImageKind::ArtworkPng)).is_none());
        assert_eq!(metrics.image_cache[2].load(Ordering::Relaxed), 99);
        // replacing a key does not double-count
        c.insert((10, ImageKind::QrSvg), img(3));
        assert!(c.held().0 <= 100);
    }
}
