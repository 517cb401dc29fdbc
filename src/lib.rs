//! # fftconv
//!
//! A derivation-checked reference implementation of convolution layers run through FFTs, with
//! their gradients derived as adjoints of linear operators.
//!
//! A convolution layer is a chain of simple linear maps (pad, circular convolution, crop,
//! subsample, channel sum). Its gradients are the adjoints of that chain, reversed, and every
//! circular convolution runs through an FFT. For input channels `$f$` and output channels
//! `$f'$` (`$\ast$` convolution, `$\star$` correlation):
//!
//! ```math
//! y_{f'} = \sum_f x_f \ast w_{f'f}, \qquad
//! \frac{\partial L}{\partial w_{f'f}} = \frac{\partial L}{\partial y_{f'}} \star x_f, \qquad
//! \frac{\partial L}{\partial x_f} = \sum_{f'} \frac{\partial L}{\partial y_{f'}} \ast w^{\mathsf T}_{f'f}
//! ```
//!
//! Each identity is proved in a note under `derivations/` (IDs such as `CIRC-2`, `SWAP-2`) and
//! executed by the test suite; `fftconv derive` prints the derivation of any layer.
//!
//! ## A layer, its gradients, a dot test and a verify
//!
//! ```
//! use fftconv::check::{compare, dot_test, Tolerance};
//! use fftconv::conv::{self, chain, Algorithm, ConvSpec, Padding};
//! use fftconv::Tensor;
//!
//! # fn main() -> fftconv::Result<()> {
//! // A 2-D layer with PyTorch's semantics: stride 2, padding 1 on each side, no dilation.
//! let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(1, 1), (1, 1)]), &[1, 1]);
//! let x = Tensor::<f64>::randn(&[2, 3, 9, 9], 1); // (N, C_in, H, W)
//! let w = Tensor::<f64>::randn(&[4, 3, 3, 3], 2); // (C_out, C_in, kH, kW)
//! let b = Tensor::<f64>::randn(&[4], 3);
//!
//! // Forward and the three gradients, through the FFT operator chain.
//! let y = conv::forward(&spec, &x, &w, Some(&b), Algorithm::Chain)?;
//! assert_eq!(y.shape(), &[2, 4, 5, 5]);
//! let dy = Tensor::<f64>::randn(y.shape(), 4); // upstream gradient dL/dy
//! let g = conv::backward(&spec, &x, &w, &dy, true, Algorithm::Chain)?;
//! assert_eq!(g.dw.shape(), w.shape());
//!
//! // The dot test: dL/dx is the adjoint of the layer as a linear map of x.
//! let geometry = spec.geometry(x.shape(), w.shape())?;
//! let input_op = chain::input_operator(&geometry, &w)?; // x ↦ y as an operator
//! let report = dot_test(&*input_op, 5, 7)?;
//! assert!(report.max_err < 1e-12);
//! // The same by hand, with the bilinearity of the layer: <y - b, dy> = <x, dx> = <w, dw>.
//! let y0 = conv::forward(&spec, &x, &w, None, Algorithm::Chain)?;
//! let (lhs, by_x, by_w) = (y0.dot(&dy)?, x.dot(&g.dx)?, w.dot(&g.dw)?);
//! assert!((lhs - by_x).abs() < 1e-9 * lhs.abs().max(1.0));
//! assert!((lhs - by_w).abs() < 1e-9 * lhs.abs().max(1.0));
//!
//! // Verify tensors from another implementation: here the direct loops (no FFT), judged
//! // norm-wise against the reference with the f64 tolerance profile.
//! let theirs = conv::backward(&spec, &x, &w, &dy, true, Algorithm::Direct)?;
//! assert!(compare(&theirs.dx, &g.dx, Tolerance::F64)?.pass);
//! assert!(compare(&theirs.dw, &g.dw, Tolerance::F64)?.pass);
//! # Ok(())
//! # }
//! ```
//!
//! Tensors written by another implementation as `.npy` files are judged the same way by
//! `fftconv verify` (the case format is `docs/CASES.md`; [`case`] is its library side).
//!
//! ## Modules
//!
//! Data flows down the list; nothing imports anything above it.
//!
//! | module | for | proved in |
//! |---|---|---|
//! | [`tensor`] | `Tensor<T>` (`f64` reference, `f32`): shape, row-major data, seeded random, inner product | `derivations/01-notation.md` (NOT-1, NOT-2) |
//! | [`fft`] | real n-D FFTs, planned once and cached; normalisation | `01-notation.md` (NOT-3), `03-circular-convolution.md` (RFFT-1) |
//! | [`op`] | the linear-operator algebra: each primitive with its adjoint | notes 02–05, 09–14 (PAD, CIRC, COMP, STRIDE, DIL, CHAN, MODE, TRANS, BIAS) |
//! | [`spec`] | `ConvSpec`/`Geometry`: the frameworks' layer semantics as plain data, the period and padding arithmetic once | `06-conv-layer.md` (LAYER-2), `09-stride.md` |
//! | [`expr`] | the DSL: expressions, the adjoint as named rewrites, printing, lowering | `01-notation.md` (NOT-4), `05-composition.md` |
//! | [`conv`] | the layer (1-D/2-D/3-D, stride, padding, dilation, groups, modes, transpose), the FFT chain, the direct witness, the fast paths | `06-conv-layer.md` … `13-conv-transpose.md` (LAYER, DX, SWAP, TRANS) |
//! | [`derive`](mod@derive) | the derivation of a layer's gradients, step by step, with numeric checks | every note it cites |
//! | [`check`] | dot test, dense transpose, finite differences, tensor comparison | `01-notation.md` (NOT-2) |
//! | [`case`] | validation cases (`docs/CASES.md`): load, judge, export; tolerance profiles | `docs/CASES.md` |
//! | [`hunt`] | drive another implementation through an adapter (`docs/HUNT.md`), judge, shrink each failure to a minimal layer | `docs/HUNTING.md` |
//! | [`nn`] | just enough to train: conv, ReLU, pooling, dense, loss, SGD | `15-training-step.md` (TRAIN-1, TRAIN-2) |
//! | [`notes`] | runs the `check` blocks of the notes | `derivations/README.md` |
//! | [`npy`], [`limits`], [`error`] | `.npy` files, the memory guard, typed errors | |
//!
//! Maths in these pages is rendered by KaTeX when the docs are built with the header in
//! `docs/katex-header.html` (`.cargo/config.toml` passes it to `cargo doc`); without it the
//! LaTeX source shows as code.

pub mod case;
pub mod check;
pub mod conv;
pub mod derive;
pub mod error;
pub mod expr;
pub mod fft;
pub mod hunt;
pub mod limits;
pub mod nn;
pub mod notes;
pub mod npy;
pub mod op;
pub mod spec;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{Scalar, Tensor};
