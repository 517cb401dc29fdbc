//! The calculator's values: arrays with the rounding of the numbers written, and strings.

use super::*;

/// A value: a string (a layer) or an array of complex numbers (real ones have zero imaginary
/// parts) with a shape (`[]` for a scalar).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// An array.
    Arr {
        /// Shape; empty for a scalar.
        shape: Vec<usize>,
        /// Row-major entries.
        data: Vec<C>,
        /// Per entry: how far a written (rounded) number may be from the exact one.
        tol: Vec<f64>,
    },
    /// A string, e.g. a layer `conv1d(x: [1, 1, 5], w: [1, 1, 3])`.
    Str(String),
}

/// A number token met while parsing: its byte range in the source.
pub type Span = (usize, usize);

pub(super) fn scalar(v: C, tol: f64) -> Val {
    Val::Arr {
        shape: vec![],
        data: vec![v],
        tol: vec![tol],
    }
}

pub(super) fn vector(data: Vec<C>) -> Val {
    let n = data.len();
    Val::Arr {
        shape: vec![n],
        data,
        tol: vec![0.0; n],
    }
}

pub(super) fn real(v: Vec<f64>) -> Val {
    vector(v.into_iter().map(|r| C::new(r, 0.0)).collect())
}

impl Val {
    pub(super) fn squeeze(self) -> Val {
        match self {
            Val::Arr { data, tol, .. } if data.len() == 1 => Val::Arr {
                shape: vec![],
                data,
                tol,
            },
            v => v,
        }
    }
    /// The entries, or an error for a string.
    pub fn data(&self) -> Result<&[C], String> {
        match self {
            Val::Arr { data, .. } => Ok(data),
            Val::Str(s) => Err(format!("`{s}` is a string, expected numbers")),
        }
    }
    pub(super) fn tol(&self) -> Vec<f64> {
        match self {
            Val::Arr { tol, .. } => tol.clone(),
            Val::Str(_) => vec![],
        }
    }
    pub(super) fn reals(&self) -> Result<Vec<f64>, String> {
        let d = self.data()?;
        if d.iter().any(|c| c.im.abs() > 1e-9 * (1.0 + c.re.abs())) {
            return Err("expected real numbers".into());
        }
        Ok(d.iter().map(|c| c.re).collect())
    }
    pub(super) fn usize(&self) -> Result<usize, String> {
        let r = self.reals()?;
        match r.as_slice() {
            [v] if *v >= 0.0 && v.fract() == 0.0 => Ok(*v as usize),
            _ => Err("expected a non-negative integer".into()),
        }
    }
    /// Number of entries (1 for a scalar).
    pub fn len(&self) -> usize {
        self.data().map_or(0, |d| d.len())
    }
    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Printed compactly.
    pub fn show(&self) -> String {
        match self {
            Val::Str(s) => format!("\"{s}\""),
            Val::Arr { shape, data, .. } => {
                let f = |c: &C| {
                    let r = fmt_num(c.re);
                    if c.im.abs() < 1e-12 * (1.0 + c.re.abs()) {
                        r
                    } else {
                        format!(
                            "{r}{}{}i",
                            if c.im < 0.0 { "-" } else { "+" },
                            fmt_num(c.im.abs())
                        )
                    }
                };
                let items: Vec<String> = data.iter().map(f).collect();
                if shape.is_empty() {
                    items.join("")
                } else {
                    format!("[{}]", items.join(", "))
                }
            }
        }
    }
}

pub(super) fn fmt_num(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e-4 && v.abs() < 1e6 {
        let s = format!("{v:.10}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.4e}")
    }
}

/// Do two values agree, entry by entry (flattened), within the written numbers' rounding?
pub fn agree(a: &Val, b: &Val) -> bool {
    let (Ok(da), Ok(db)) = (a.data(), b.data()) else {
        return a == b;
    };
    if da.len() != db.len() {
        return false;
    }
    let (ta, tb) = (a.tol(), b.tol());
    // Exact numbers agree to 1e-12 of the largest entry of either side (the roundoff of an
    // entry that is zero in exact arithmetic is relative to the rest of its array): a lone
    // `2^{-53}` is not `3^{-53}`, and `1007681536` is not `1007681537`.
    let vscale = da.iter().chain(db).fold(0.0f64, |m, c| m.max(c.norm()));
    da.iter().zip(db).enumerate().all(|(i, (x, y))| {
        // A rounded number against an exact one: its rounding; two rounded ones: the finer.
        let t = if ta[i] == 0.0 || tb[i] == 0.0 {
            ta[i].max(tb[i])
        } else {
            ta[i].min(tb[i])
        };
        // Exact numbers agree to 1e-9 absolute (roundoff of an exact zero); a written rounded
        // number only to its rounding, so `3.7e-16` does not match `3.64e-16`.
        let scale = x.norm().max(y.norm());
        let t = if t > 0.0 {
            t + 1e-12 * scale
        } else {
            1e-12 * vscale
        };
        (x.re - y.re).abs() <= t && (x.im - y.im).abs() <= t
    })
}
