//! Validation cases (`docs/CASES.md`): the exchange format in which other implementations hand their
//! tensors to fftconv to be judged, and in which fftconv hands golden vectors out.
//!
//! - [`format`](mod@format): `case.toml` → [`Case`] (a [`ConvSpec`](crate::conv::ConvSpec), the tensor
//!   files, an optional tolerance), every key typed and checked;
//! - [`judge`](mod@judge): load the tensors, compute the reference in f64 through the operator chain, and
//!   compare each expected tensor norm-wise → [`CaseReport`];
//! - [`export`]: write a golden case for a spec and a seed;
//! - [`layer`]: a layer with its shapes as `case.toml` keys, JSON and a DSL string.
//!
//! The reference a case is judged against is the layer of `derivations/06-conv-layer.md` and
//! its adjoints (`07`, `08`, `13`, `14`); the tolerance profiles come from the error bound of
//! `derivations/16-fft-error.md` (see [`crate::check::profile`]).

pub mod export;
pub mod format;
pub mod judge;
pub mod layer;

pub use crate::check::compare::{compare, Comparison, Tolerance};
pub use export::{export_case, ExportRequest};
pub use format::{Case, InputFiles, TensorName};
pub use judge::{
    judge, judge_path, judge_path_with, judge_with, tolerance_profile, CaseReport, JudgeOptions,
    TensorVerdict, ToleranceSource,
};
pub use layer::LayerSpec;
