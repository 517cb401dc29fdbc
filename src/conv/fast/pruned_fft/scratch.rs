//! The work buffers a thread keeps for a [`PrunedRfft`] between calls.

use super::{PrunedRfft, Scratch};
use crate::conv::fast::memory::Aligned;
use crate::tensor::Scalar;

impl<T: Scalar> PrunedRfft<T> {
    /// Work buffers for this plan kept by the calling thread: taken from the thread's spares
    /// (or made), and given back to them when the guard drops — so that a layer's many tasks
    /// do not allocate and free them over and over.
    pub fn local_scratch(&self) -> LocalScratch<T> {
        let found = SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            let at = spare.iter().position(|b| {
                b.downcast_ref::<Scratch<T>>()
                    .is_some_and(|s| s.period == self.period)
            })?;
            spare.swap_remove(at).downcast::<Scratch<T>>().ok()
        });
        LocalScratch(found.map_or_else(|| self.scratch(), |b| *b))
    }
}

thread_local! {
    /// Spare work buffers of this thread, any plan and type.
    static SPARE: std::cell::RefCell<Vec<Box<dyn std::any::Any>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Spare buffers a thread keeps at most.
const MAX_SPARE: usize = 4;

/// A thread's [`Scratch`], given back to the thread's spares on drop.
pub struct LocalScratch<T: Scalar>(Scratch<T>);

impl<T: Scalar> std::ops::Deref for LocalScratch<T> {
    type Target = Scratch<T>;
    fn deref(&self) -> &Scratch<T> {
        &self.0
    }
}

impl<T: Scalar> std::ops::DerefMut for LocalScratch<T> {
    fn deref_mut(&mut self) -> &mut Scratch<T> {
        &mut self.0
    }
}

impl<T: Scalar> Drop for LocalScratch<T> {
    fn drop(&mut self) {
        // Leave empty buffers behind (no allocation) and keep the real ones.
        let period = self.0.period;
        let s = std::mem::replace(&mut self.0, Scratch::empty(period));
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() >= MAX_SPARE {
                spare.remove(0);
            }
            spare.push(Box::new(s));
        });
    }
}

impl<T: Scalar> Scratch<T> {
    /// Buffers of no length (allocate nothing).
    fn empty(period: [usize; 3]) -> Self {
        Scratch {
            period,
            real: Aligned::default(),
            a: Aligned::default(),
            b: Aligned::default(),
            fft: Aligned::default(),
            r2c: Vec::new(),
            c2r: Vec::new(),
            batch: Aligned::default(),
        }
    }

    /// The real signal buffer (`T0·T1·T2`, row-major) that [`PrunedRfft::forward`] reads.
    pub fn real_mut(&mut self) -> &mut [T] {
        &mut self.real
    }
}
