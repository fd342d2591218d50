//! Caches of the read side: full tiles kept in memory (they never change once full), and the
//! tiles and memoised nodes behind many inclusion proofs at one tree size (bulk responses).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use axum::body::Bytes;
use cyberlabel_core::merkle;
use cyberlabel_core::tiles::{self, TilePath, TileSet};

use crate::ledger::Ledger;
use crate::service::ServiceError;

/// Full tiles kept in memory (8 KiB each: 64 MiB at most); the map is simply cleared when full.
const MAX_CACHED_TILES: usize = 8192;

/// Full tiles, bounded by [`MAX_CACHED_TILES`] (cleared when full).
#[derive(Default)]
pub(crate) struct FullTiles(RwLock<HashMap<TilePath, Bytes>>);

impl FullTiles {
    pub(crate) fn get(&self, tp: &TilePath) -> Option<Bytes> {
        if !tp.is_full() {
            return None;
        }
        self.0.read().ok().and_then(|m| m.get(tp).cloned())
    }

    pub(crate) fn insert(&self, tp: TilePath, bytes: &Bytes) {
        if tp.is_full()
            && let Ok(mut m) = self.0.write()
        {
            if m.len() >= MAX_CACHED_TILES {
                m.clear();
            }
            m.insert(tp, bytes.clone());
        }
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
