//! Parsers of user input never panic: at least 10⁴ random inputs each, within CI time.
use proptest::prelude::*;

/// A valid little-endian f64 .npy file of `n` elements, as numpy writes it.
fn valid_npy(n: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((header.len() as u16).to_le_bytes());
    b.extend(header.as_bytes());
    for i in 0..n {
        b.extend((i as f64).to_le_bytes());
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutated valid files: flipped bytes, truncations, insertions.
    #[test]
    fn npy_decoder_never_panics_on_mutated_files(
        n in 1usize..6,
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..6),
        cut in proptest::option::of(0usize..200),
    ) {
        let mut b = valid_npy(n);
        for (pos, v) in flips {
            let len = b.len();
            b[pos % len] = v;
        }
        if let Some(c) = cut {
            b.truncate(c.min(b.len()));
        }
        if let Err(msg) = fftconv::npy::decode(&b) {
            prop_assert!(!msg.is_empty() && !msg.contains('\n'));
        }
    }

    /// Headers with arbitrary text in the dictionary.
    #[test]
    fn npy_decoder_never_panics_on_random_headers(dict in "\\{'descr': '[<>|]?[a-zA-Z]{1,2}[0-9]{0,3}', 'fortran_order': (True|False|1), 'shape': \\(([0-9]{1,20}, ?){0,4}\\), \\}", tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut header = dict;
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        b.extend(tail);
        let _ = fftconv::npy::decode(&b);
    }
}
