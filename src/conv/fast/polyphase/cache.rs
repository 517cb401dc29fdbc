//! The tiled plans of recently split geometries, shared across calls: a training step plans
//! its layer for the forward pass and again for the gradients, and each plan (the split's
//! index tables, the class layers' padded-plane layouts) was rebuilt on the calling thread
//! while the other threads waited.
//!
//! Keyed by the whole conv geometry and the kernels, so a hit is the plan `new` would build.
//! Bounded to [`KEEP`] entries (the oldest go first); a poisoned lock is a miss.

use super::split::Polyphase;
use crate::conv::fast::direct_simd::{Kernels, TiledSum};
use crate::conv::spec::Geometry;
use std::sync::{Arc, Mutex};

/// Most plans kept (a network's strided layers; each is a few KB of index tables).
const KEEP: usize = 16;

/// A split and its class layers' plans.
pub(super) type Planned = (Arc<Polyphase>, Arc<TiledSum>);

/// Values `V` by (geometry, kernels), at most `keep` of them.
struct Kept<V> {
    entries: Mutex<Vec<(Geometry, Kernels, V)>>,
    keep: usize,
}

impl<V: Clone> Kept<V> {
    const fn new(keep: usize) -> Self {
        Kept {
            entries: Mutex::new(Vec::new()),
            keep,
        }
    }

    fn get(&self, c: &Geometry, kernels: Kernels) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        (entries.iter())
            .find(|(g, k, _)| *k == kernels && g == c)
            .map(|(_, _, v)| v.clone())
    }

    fn put(&self, c: &Geometry, kernels: Kernels, v: V) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.retain(|(g, k, _)| !(*k == kernels && g == c));
        while !entries.is_empty() && entries.len() >= self.keep {
            entries.remove(0);
        }
        entries.push((c.clone(), kernels, v));
    }
}

static PLANS: Kept<Planned> = Kept::new(KEEP);

/// The kept plan of the conv geometry `c` on `kernels`.
pub(super) fn get(c: &Geometry, kernels: Kernels) -> Option<Planned> {
    PLANS.get(c, kernels)
}

/// Keep the plan of `c` on `kernels` (replacing one of the same key).
pub(super) fn put(c: &Geometry, kernels: Kernels, planned: Planned) {
    PLANS.put(c, kernels, planned);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{ConvSpec, Padding};

    fn stem(n: usize) -> Geometry {
        let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
        let g = spec.geometry(&[n, 3, 20, 18], &[8, 3, 7, 7]);
        g.expect("a valid stem geometry").as_conv()
    }

    #[test]
    fn a_kept_value_is_found_by_its_whole_key_only() {
        let kept = Kept::new(4);
        kept.put(&stem(1), Kernels::Portable, 1);
        kept.put(&stem(2), Kernels::Portable, 2);
        assert_eq!(kept.get(&stem(1), Kernels::Portable), Some(1));
        assert_eq!(kept.get(&stem(2), Kernels::Portable), Some(2));
        assert_eq!(kept.get(&stem(1), Kernels::Avx2Only), None);
        assert_eq!(kept.get(&stem(3), Kernels::Portable), None);
        // The same key again replaces the value.
        kept.put(&stem(1), Kernels::Portable, 7);
        assert_eq!(kept.get(&stem(1), Kernels::Portable), Some(7));
    }

    #[test]
    fn the_oldest_value_goes_first_past_the_bound() {
        let kept = Kept::new(3);
        for n in 1..=5 {
            kept.put(&stem(n), Kernels::Detect, n);
        }
        assert_eq!(kept.get(&stem(1), Kernels::Detect), None);
        assert_eq!(kept.get(&stem(2), Kernels::Detect), None);
        for n in 3..=5 {
            assert_eq!(kept.get(&stem(n), Kernels::Detect), Some(n));
        }
        assert!(kept.entries.lock().map(|e| e.len()).unwrap_or(0) == 3);
    }
}
