//! The forward pass of a 2-D depthwise layer under zero padding without a padded copy of
//! each input plane: the row-sharing kernels read the plane where it is, skip the rows
//! outside it (the top and bottom tiles) and load only the lanes inside it (the strips at the
//! left and right edges), so the padding costs no copy.
//!
//! Why: the row copy into the padded plane was about 30 % of the forward kernel's time on
//! ConvNeXt's 7×7 (one thread).

use super::super::depthwise_kernels::{Corr2, DwEngine, Out, ZeroPadded};
use crate::conv::fast::Layout;
use crate::tensor::Scalar;

/// A 2-D plane's geometry for [`DwEngine::corr_zero_padded`].
pub(super) struct InPlace {
    height: usize,
    width: usize,
    lo: [usize; 2],
}

impl InPlace {
    /// For a 2-D layer (depth 1, kernel depth 1) under zero padding (or none), padded by
    /// `lo` before its rows and columns; `None` for others.
    pub(super) fn new(lay: &Layout, lo: [usize; 3], zeros: bool) -> Option<Self> {
        let flat = lay.output[0] == 1 && lay.kernel[0] == 1 && lay.input[0] == 1;
        (zeros && flat).then_some(InPlace {
            height: lay.input[1],
            width: lay.input[2],
            lo: [lo[1], lo[2]],
        })
    }

    /// The cotangent planes of `∂x` for the same layers, when their padding is within the
    /// kernel's reach: `∂x` is the correlation of `dy` zero-padded by `d·(K − 1) − lo` with
    /// the flipped kernel (`None` when a pad exceeds the reach).
    pub(super) fn for_grad(lay: &Layout, lo: [usize; 3], zeros: bool) -> Option<Self> {
        let reach = [1, 2].map(|a| lay.dilation[a] * (lay.kernel[a] - 1));
        let within = reach[0] >= lo[1] && reach[1] >= lo[2];
        Self::new(lay, lo, zeros && within).map(|_| InPlace {
            height: lay.output[1],
            width: lay.output[2],
            lo: [reach[0] - lo[1], reach[1] - lo[2]],
        })
    }

    /// `c` (`out (=|+=) corr(x_p, w)`, its rows and columns the tiles) of the input plane `x`
    /// read in place: whether the engine's row-sharing kernels ran it (then every row and
    /// column of `c` was written), else `out` untouched.
    pub(super) fn run<T: Scalar, E: DwEngine<T>>(
        &self,
        eng: &E,
        c: &Corr2,
        (x, w): (&[T], &[T]),
        out: Out<'_, T>,
    ) -> bool {
        let src = ZeroPadded {
            x,
            height: self.height,
            width: self.width,
            lo: self.lo,
        };
        eng.corr_zero_padded(c, &src, w, out)
    }
}
