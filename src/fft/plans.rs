//! The process-wide plan cache: a plan is built once per key and shared (`Arc`) by every later
//! call with an equal key. One cache for every plan type of the crate (the FFT plans, the FFT
//! path's tilings, the polyphase splits), each type kept apart with its own bound.
//!
//! A plan is built outside the lock: a slow build (a tiling search, a large FFT plan) does not
//! hold up the other threads' lookups, and a build may itself look plans up. Two threads that
//! miss on the same key both build; the first to finish is kept and both get it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Most plans kept per plan type (per key and plan type); past it the least recently used
/// goes first.
///
/// Keys are the shapes a user passes, so an unbounded cache grows without limit in a long
/// process that sees many shapes (varying image sizes, a short last batch per epoch). 64 holds
/// every layer shape of a large network twice over (ResNet-50 has about 20 distinct conv
/// geometries; a short last batch doubles them), so a training loop never plans a layer
/// again, while the plans kept stay small: a few KB each (index tables, FFT twiddles), tens of
/// KB for the largest FFT lengths, so at most a few MB per type.
pub const PLANS_KEPT: usize = 64;

/// The plans of one (key, plan) type, at most `keep` of them.
struct Kept<K, P> {
    plans: HashMap<K, (u64, Arc<P>)>,
    /// Counts the lookups; an entry's stamp is the count at its last use.
    clock: u64,
    keep: usize,
}

impl<K: Hash + Eq, P> Kept<K, P> {
    fn new(keep: usize) -> Self {
        Kept {
            plans: HashMap::new(),
            clock: 0,
            keep: keep.max(1),
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn get(&mut self, key: &K) -> Option<Arc<P>> {
        let now = self.tick();
        let (stamp, plan) = self.plans.get_mut(key)?;
        *stamp = now;
        Some(Arc::clone(plan))
    }

    /// Keep `plan` under `key` and return the plan kept: the one already there if another
    /// thread put it first (so both share one).
    fn put(&mut self, key: K, plan: Arc<P>) -> Arc<P> {
        if let Some(kept) = self.get(&key) {
            return kept;
        }
        while self.plans.len() >= self.keep {
            // Stamps are unique (every tick goes to one entry): drop the entry of the least.
            let Some(oldest) = self.plans.values().map(|(stamp, _)| *stamp).min() else {
                break;
            };
            self.plans.retain(|_, (stamp, _)| *stamp != oldest);
        }
        let now = self.tick();
        self.plans.insert(key, (now, Arc::clone(&plan)));
        plan
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.plans.len()
    }
}

type Stores = Mutex<HashMap<TypeId, Box<dyn Any + Send>>>;

fn stores() -> &'static Stores {
    static STORES: OnceLock<Stores> = OnceLock::new();
    STORES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `f` on the kept plans of type `(K, P)`; `None` only if the store under that type's id is of
/// another type (never: the id is of the store's own type). Every change under the lock leaves
/// the maps whole, so a poisoned lock is used as it is.
fn with_kept<K, P, R>(f: impl FnOnce(&mut Kept<K, P>) -> R) -> Option<R>
where
    K: Hash + Eq + Send + 'static,
    P: Send + Sync + 'static,
{
    let mut stores = stores().lock().unwrap_or_else(PoisonError::into_inner);
    let store = (stores.entry(TypeId::of::<Kept<K, P>>()))
        .or_insert_with(|| Box::new(Kept::<K, P>::new(PLANS_KEPT)));
    store.downcast_mut::<Kept<K, P>>().map(f)
}

/// The plan for `key`, built by `build` on first use and shared afterwards; an error of
/// `build` is returned and not kept (the next call with that key builds again).
///
/// One cache per (key, plan) type, of at most [`PLANS_KEPT`] plans. The key must determine the
/// plan: a hit returns the plan `build` would have built.
///
/// # Errors
/// The error of `build`.
///
/// ```
/// use fftconv::fft::try_cached_plan;
/// #[derive(PartialEq, Eq, Hash)]
/// struct Square(u32);
/// let p = try_cached_plan(Square(3), || Ok::<u32, String>(9)).unwrap();
/// let again = try_cached_plan::<_, u32, _>(Square(3), || Err("not built again".to_string()));
/// let again = again.unwrap();
/// assert!(std::sync::Arc::ptr_eq(&p, &again));
/// assert!(try_cached_plan::<_, u32, _>(Square(4), || Err("no".to_string())).is_err());
/// ```
pub fn try_cached_plan<K, P, E>(key: K, build: impl FnOnce() -> Result<P, E>) -> Result<Arc<P>, E>
where
    K: Hash + Eq + Send + Sync + 'static,
    P: Send + Sync + 'static,
{
    if let Some(Some(plan)) = with_kept::<K, P, _>(|kept| kept.get(&key)) {
        return Ok(plan);
    }
    let plan = Arc::new(build()?);
    Ok(with_kept(|kept| kept.put(key, Arc::clone(&plan))).unwrap_or(plan))
}

/// The plan for `key`, built by `build` on first use and shared afterwards
/// ([`try_cached_plan`] for a build that cannot fail).
pub fn cached_plan<K, P>(key: K, build: impl FnOnce() -> P) -> Arc<P>
where
    K: Hash + Eq + Send + Sync + 'static,
    P: Send + Sync + 'static,
{
    match try_cached_plan(key, || Ok::<P, Infallible>(build())) {
        Ok(plan) => plan,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_kept_plan_is_found_by_its_key_and_the_least_recently_used_goes_first() {
        let mut kept = Kept::<(u8, u8), usize>::new(3);
        for k in 1..=3 {
            kept.put((k, 0), Arc::new(k as usize));
        }
        assert_eq!(kept.get(&(1, 0)).as_deref(), Some(&1));
        assert_eq!(kept.get(&(1, 1)), None);
        // (2, 0) is now the least recently used.
        kept.put((4, 0), Arc::new(4));
        assert_eq!(kept.get(&(2, 0)), None);
        for k in [1, 3, 4] {
            assert_eq!(kept.get(&(k, 0)).as_deref(), Some(&(k as usize)));
        }
        assert_eq!(kept.len(), 3);
        // A key put again keeps the plan already there.
        assert_eq!(*kept.put((3, 0), Arc::new(30)), 3);
        assert_eq!(kept.len(), 3);
    }

    /// A key type no other test uses: the counts below see only this test's builds.
    #[derive(PartialEq, Eq, Hash)]
    struct Bounded(usize);

    #[test]
    fn the_cache_keeps_at_most_keep_plans_per_type() {
        let builds = AtomicUsize::new(0);
        let plan = |k: usize| {
            cached_plan(Bounded(k), || {
                builds.fetch_add(1, Ordering::Relaxed);
                k * 10
            })
        };
        for k in 0..=PLANS_KEPT {
            assert_eq!(*plan(k), k * 10);
        }
        assert_eq!(builds.load(Ordering::Relaxed), PLANS_KEPT + 1);
        // The last PLANS_KEPT are kept (found without a build); the first was dropped.
        for k in (1..=PLANS_KEPT).rev() {
            assert_eq!(*plan(k), k * 10);
        }
        assert_eq!(builds.load(Ordering::Relaxed), PLANS_KEPT + 1);
        assert_eq!(*plan(0), 0);
        assert_eq!(builds.load(Ordering::Relaxed), PLANS_KEPT + 2);
        let len = with_kept::<Bounded, usize, _>(|kept| kept.len());
        assert_eq!(len, Some(PLANS_KEPT));
    }

    #[derive(PartialEq, Eq, Hash)]
    struct Fallible(usize);

    #[test]
    fn an_error_is_returned_and_not_kept() {
        let builds = AtomicUsize::new(0);
        let plan = |ok: bool| {
            try_cached_plan(Fallible(1), || {
                builds.fetch_add(1, Ordering::Relaxed);
                if ok {
                    Ok(11)
                } else {
                    Err("no plan")
                }
            })
        };
        assert_eq!(plan(false), Err("no plan"));
        assert_eq!(plan(false), Err("no plan"));
        assert_eq!(builds.load(Ordering::Relaxed), 2, "an error is not kept");
        let first = plan(true);
        assert_eq!(first.as_deref(), Ok(&11));
        // Kept now: a failing build is not run.
        let again = plan(false);
        assert_eq!(builds.load(Ordering::Relaxed), 3);
        assert!(matches!((first, again), (Ok(a), Ok(b)) if Arc::ptr_eq(&a, &b)));
    }

    #[test]
    fn plan_types_are_kept_apart() {
        let a = cached_plan(Fallible(7), || 1u32);
        let b = cached_plan(Fallible(7), || 2u64);
        assert_eq!((*a, *b), (1, 2));
    }
}
