//! `shapes`: a deterministic procedural data set of small grey images in ten classes.
//!
//! Each image is one shape drawn at a random position (±2.5 px), size (half-extent 3.5–6.5
//! px), small rotation (±0.15 rad) and intensity (0.6–1.0), anti-aliased by 3×3 supersampling,
//! plus Gaussian pixel noise (σ = 0.15). Image `i` of a set has class `i mod 10` and is drawn
//! from its own seeded stream, so every set is balanced and the same on every machine.

use super::Dataset;
use crate::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

/// Image side length in pixels.
pub const SIZE: usize = 16;

/// The class names, by label.
pub const CLASSES: [&str; 10] = [
    "square",
    "square outline",
    "disc",
    "ring",
    "horizontal bar",
    "vertical bar",
    "diagonal \\",
    "diagonal /",
    "plus",
    "triangle",
];

/// Whether the normalised point `(u, v)` (shape in `[-1, 1]²`, `v` pointing down) is inside
/// shape `class`; `t` is the stroke half-width in the same units.
fn inside(class: usize, u: f64, v: f64, t: f64) -> bool {
    let (au, av) = (u.abs(), v.abs());
    let box_r = au.max(av);
    let r = (u * u + v * v).sqrt();
    match class {
        0 => box_r <= 0.8,
        1 => (box_r - 0.8).abs() <= t,
        2 => r <= 0.9,
        3 => (r - 0.8).abs() <= t,
        4 => av <= t && au <= 1.0,
        5 => au <= t && av <= 1.0,
        6 => (u - v).abs() / std::f64::consts::SQRT_2 <= t && box_r <= 0.9,
        7 => (u + v).abs() / std::f64::consts::SQRT_2 <= t && box_r <= 0.9,
        8 => (av <= t && au <= 1.0) || (au <= t && av <= 1.0),
        _ => v <= 0.8 && au <= (v + 0.8) / 2.0,
    }
}

/// Draw image `index` of the set with `seed` into `out` (`SIZE²` pixels); returns its label.
fn draw(seed: u64, index: usize, out: &mut [f64]) -> usize {
    let class = index % CLASSES.len();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let unit = Uniform::new(0.0, 1.0).expect("valid bounds");
    let mut uni = |lo: f64, hi: f64| lo + (hi - lo) * unit.sample(&mut rng);
    let half = uni(3.5, 6.5);
    let (cx, cy) = (7.5 + uni(-2.5, 2.5), 7.5 + uni(-2.5, 2.5));
    let angle = uni(-0.15, 0.15);
    let intensity = uni(0.6, 1.0);
    let (sa, ca) = angle.sin_cos();
    let t = 0.9 / half;
    const SUB: usize = 3;
    for py in 0..SIZE {
        for px in 0..SIZE {
            let mut hits = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let x = px as f64 + (sx as f64 + 0.5) / SUB as f64 - 0.5 - cx;
                    let y = py as f64 + (sy as f64 + 0.5) / SUB as f64 - 0.5 - cy;
                    let (u, v) = ((ca * x + sa * y) / half, (-sa * x + ca * y) / half);
                    if inside(class, u, v, t) {
                        hits += 1;
                    }
                }
            }
            out[py * SIZE + px] = intensity * hits as f64 / (SUB * SUB) as f64;
        }
    }
    for p in out.iter_mut() {
        let z: f64 = StandardNormal.sample(&mut rng);
        *p += 0.15 * z;
    }
    class
}

/// `n` images `(n, 1, 16, 16)` with labels `i mod 10`, drawn from `seed`.
///
/// ```
/// let d = fftconv::nn::shapes::generate(20, 1);
/// assert_eq!(d.images.shape(), &[20, 1, 16, 16]);
/// assert_eq!(d.labels[13], 3);
/// assert_eq!(d.images, fftconv::nn::shapes::generate(20, 1).images);
/// ```
pub fn generate(n: usize, seed: u64) -> Dataset {
    let px = SIZE * SIZE;
    let mut data = vec![0.0; n * px];
    let labels = data
        .chunks_mut(px)
        .enumerate()
        .map(|(i, img)| draw(seed, i, img))
        .collect();
    Dataset {
        images: Tensor::new(vec![n, 1, SIZE, SIZE], data).expect("shape matches data"),
        labels,
        classes: CLASSES.len(),
    }
}

/// The standard split: 6000 training images (seed `seed`) and 1200 test images (another seed).
pub fn train_test(seed: u64) -> (Dataset, Dataset) {
    (
        generate(6000, seed),
        generate(1200, seed.wrapping_add(0x5EED_7E57)),
    )
}

/// An image as text (one character per pixel by brightness), for a quick look.
pub fn ascii(image: &[f64]) -> String {
    const RAMP: &[u8] = b" .:-=+*#%@";
    image
        .chunks(SIZE)
        .map(|row| {
            row.iter()
                .map(|&v| RAMP[((v.clamp(0.0, 0.999)) * RAMP.len() as f64) as usize] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
