//! Allocator tuning for the command line (glibc only).
//!
//! glibc serves large allocations with fresh `mmap`s and returns them with `munmap` on free;
//! its adaptive threshold never lets a block of the *same* size come from the heap again. A
//! conv layer allocates and frees its output tensors (megabytes each) on every call, so every
//! call paid page faults, page clearing and cross-core TLB shootdowns — measured at up to half
//! the time of the FFT layer on the benchmark layers. Raising the mmap and trim thresholds
//! keeps those blocks on the heap for reuse. The library does not do this (it is the
//! program's choice); its own work buffers are pooled (`conv::fast::pool`).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::os::raw::c_int;
    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    /// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` of glibc's malloc.h.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;

    pub fn tune() {
        // SAFETY: mallopt only sets allocator parameters; it is called before any thread
        // starts, and its failure (return 0) leaves the defaults in place.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 256 << 20);
            mallopt(M_TRIM_THRESHOLD, 512 << 20);
        }
    }
}

/// Keep large blocks on the heap (glibc); a no-op elsewhere.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::tune();
}
