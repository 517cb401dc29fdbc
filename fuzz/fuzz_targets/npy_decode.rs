//! Fuzz the `.npy` decoder: any bytes must give a tensor or a one-line error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(msg) = fftconv::npy::decode(data) {
        assert!(!msg.contains('\n'));
    }
});
