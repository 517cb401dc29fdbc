//! Numbers in the notes: a small calculator for the worked examples, used twice.
//!
//! - In ```` ```check ```` blocks, `val NAME = EXPR` binds a value and `value EXPR = EXPR`
//!   (or `<`, `>`) is a claim. Functions run the library where it has the operation (the conv
//!   layer forward and gradients through the FFT chain *and* the direct loops, the real FFT),
//!   and the definitions of the notes otherwise (pad, crop, flip, circular convolution by its
//!   sum); adjoints (`fold_*`, `rfft_adj`) are computed as transposes of dense matrices, not by
//!   their formulas.
//! - In the prose, `$…$` spans are split at `=`/`≈` and every piece that is plain arithmetic
//!   (numbers, `+ − · ×`, `\frac`, powers, tuples `(1, 2)`, complex `2+2i`) is evaluated
//!   (see [`super::prose`]).
//!
//! A number written with `d` decimals stands for itself rounded: it matches within half a unit
//! of its last digit; an integer matches to 1e-9.

// The parts below share these names (and each other's) through `use super::*`: one
// calculator split by what it does (values, parsing, functions), not four APIs.
use crate::conv::{self, Algorithm};
use crate::expr::claim::{parse_statement, Statement};
use crate::expr::layer::Layer;
use crate::tensor::Tensor;
use num_complex::Complex64 as C;
use std::collections::HashMap;

mod fast;
mod functions;
mod parse;
mod value;

use functions::*;
use parse::*;
pub use parse::{eval, eval_tex, eval_tex_in, Env};
use value::*;
pub use value::{agree, Span, Val};
