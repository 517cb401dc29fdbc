//! Shrinking: the smaller probes one step away from a failing one, smallest first.
//!
//! A step lowers one coordinate (or drops an axis, or simplifies the padding mode or the
//! values) and keeps everything else; the hunt keeps the first step that shows the same kind
//! of failure on the same tensor and starts over from it, until no step does. Values are tried
//! from the smallest up, so a failure that needs, say, a remainder after striding lands on the
//! smallest extent that leaves one, not on the first smaller extent that happens to.

use super::generate::Draft;
use super::probe::{Probe, Values};
use crate::conv::ConvKind;
use crate::op::PadMode;

/// Padding modes from simplest to least simple.
const MODE_ORDER: [PadMode; 4] = [
    PadMode::Zeros,
    PadMode::Circular,
    PadMode::Replicate,
    PadMode::Reflect,
];

fn rank_of(m: PadMode) -> usize {
    MODE_ORDER.iter().position(|&x| x == m).unwrap_or(0)
}

/// Every one-step-smaller probe of `p`, in the order they are tried. `keep_valid` says whether
/// a candidate must be a layer the frameworks accept (true) or refuse (false): shrinking an
/// accepted-invalid layer must stay invalid.
pub fn candidates(p: &Probe, keep_valid: bool) -> Vec<Probe> {
    let l = &p.draft;
    let d = l.rank();
    let mut out: Vec<Draft> = Vec::new();
    let mut push = |c: Draft| out.push(c);
    if d > 1 {
        for a in 0..d {
            push(l.without_axis(a));
        }
    }
    for n in 1..l.n {
        push(Draft { n, ..l.clone() });
    }
    for groups in 1..l.groups {
        push(Draft {
            groups,
            ..l.clone()
        });
    }
    for cin_g in 1..l.cin_g {
        push(Draft { cin_g, ..l.clone() });
    }
    for cout_g in 1..l.cout_g {
        push(Draft {
            cout_g,
            ..l.clone()
        });
    }
    for a in 0..d {
        for lo in 0..l.pads[a].0 {
            let mut c = l.clone();
            c.pads[a].0 = lo;
            push(c);
        }
        for hi in 0..l.pads[a].1 {
            let mut c = l.clone();
            c.pads[a].1 = hi;
            push(c);
        }
    }
    type Field = fn(&mut Draft) -> &mut Vec<usize>;
    let fields: [(Field, usize); 5] = [
        (|c| &mut c.kernel, 1),
        (|c| &mut c.dilation, 1),
        (|c| &mut c.stride, 1),
        (|c| &mut c.output_padding, 0),
        (|c| &mut c.extent, 1),
    ];
    for (field, least) in fields {
        for a in 0..d {
            let now = field(&mut l.clone())[a];
            for v in least..now {
                let mut c = l.clone();
                field(&mut c)[a] = v;
                // Lowering stride or dilation may leave the output padding out of range.
                if c.kind == ConvKind::ConvTranspose {
                    let m = c.stride[a].max(c.dilation[a]);
                    if keep_valid && c.output_padding[a] >= m {
                        c.output_padding[a] = m - 1;
                    }
                }
                push(c);
            }
        }
    }
    for &m in &MODE_ORDER[..rank_of(l.mode)] {
        push(Draft {
            mode: m,
            ..l.clone()
        });
    }
    if l.bias {
        push(Draft {
            bias: false,
            ..l.clone()
        });
    }
    let mut probes: Vec<Probe> = out
        .into_iter()
        .filter(|c| c != l && c.is_valid() == keep_valid)
        .map(|draft| Probe {
            draft,
            values: p.values,
        })
        .collect();
    if p.values == Values::Normal {
        probes.push(Probe {
            draft: l.clone(),
            values: Values::SmallIntegers,
        });
    }
    probes
}

/// The last resort at a local minimum of [`candidates`]: per axis, smaller combinations of
/// (extent, padding, kernel, dilation, stride, output padding) — every coordinate ≤, one <.
/// First those that keep the remainder after striding, `(S + lo + hi − d(K − 1) − 1) mod s`
/// (a failure that needs one survives no single step, only these), then any, smallest first,
/// at most `limit` per axis. Coupled rules (reflect padding below the extent, output padding
/// below the stride, a non-empty output) make single steps stop early; these get past them.
pub fn deep_candidates(p: &Probe, keep_valid: bool, limit: usize) -> Vec<Probe> {
    let l = &p.draft;
    let mut out = Vec::new();
    for a in 0..l.rank() {
        let (keeping, other) = smaller_axis(l, a);
        let pick: Vec<Draft> = keeping
            .into_iter()
            .filter(|c| c.is_valid() == keep_valid)
            .take(40)
            .chain(
                other
                    .into_iter()
                    .filter(|c| c.is_valid() == keep_valid)
                    .take(limit),
            )
            .collect();
        out.extend(pick.into_iter().map(|draft| Probe {
            draft,
            values: p.values,
        }));
    }
    out
}

/// `(S + lo + hi − d(K − 1) − 1) mod s` and the output extent of axis `a`, if non-empty.
fn remainder(
    s: usize,
    lo: usize,
    hi: usize,
    k: usize,
    dl: usize,
    stride: usize,
) -> Option<(usize, usize)> {
    let span = s + lo + hi;
    let kd = dl * (k - 1) + 1;
    (span >= kd).then(|| ((span - kd) % stride, (span - kd) / stride + 1))
}

/// Smaller versions of axis `a`, split into those with the same remainder after striding and
/// the rest, each ordered by the sum of the coordinates.
fn smaller_axis(l: &Draft, a: usize) -> (Vec<Draft>, Vec<Draft>) {
    let (s, (lo, hi), k, dl) = (l.extent[a], l.pads[a], l.kernel[a], l.dilation[a]);
    let (st, op) = (l.stride[a], l.output_padding[a]);
    let r = remainder(s, lo, hi, k, dl, st).map(|x| x.0);
    let mut found = Vec::new();
    for s2 in 1..=s {
        for lo2 in 0..=lo {
            for hi2 in 0..=hi {
                for k2 in 1..=k {
                    for dl2 in 1..=dl {
                        for st2 in 1..=st {
                            for op2 in 0..=op {
                                let t = (s2, lo2, hi2, k2, dl2, st2, op2);
                                if t == (s, lo, hi, k, dl, st, op) {
                                    continue;
                                }
                                let mut c = l.clone();
                                c.extent[a] = s2;
                                c.pads[a] = (lo2, hi2);
                                c.kernel[a] = k2;
                                c.dilation[a] = dl2;
                                c.stride[a] = st2;
                                c.output_padding[a] = op2;
                                let keeps = st2 == st
                                    && remainder(s2, lo2, hi2, k2, dl2, st2).map(|x| x.0) == r;
                                found.push((keeps, s2 + lo2 + hi2 + k2 + dl2 + st2 + op2, c));
                            }
                        }
                    }
                }
            }
        }
    }
    found.sort_by_key(|(_, size, _)| *size);
    let (keeping, other): (Vec<_>, Vec<_>) = found.into_iter().partition(|(k, _, _)| *k);
    (
        keeping.into_iter().map(|(_, _, c)| c).collect(),
        other.into_iter().map(|(_, _, c)| c).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_candidate_is_smaller_and_valid() {
        let mut l = Draft::base(ConvKind::Conv, 2);
        l.n = 2;
        l.groups = 2;
        l.stride = vec![2, 1];
        l.pads = vec![(1, 2), (0, 0)];
        l.mode = PadMode::Reflect;
        l.bias = true;
        let p = Probe {
            draft: l.clone(),
            values: Values::Normal,
        };
        let c = candidates(&p, true);
        assert!(c.iter().all(|q| q.draft.is_valid()));
        assert!(c.iter().any(|q| q.draft.rank() == 1));
        assert!(c.iter().any(|q| q.draft.mode == PadMode::Zeros));
        assert!(c.iter().any(|q| q.values == Values::SmallIntegers));
        assert!(!c.iter().any(|q| q.draft == l && q.values == Values::Normal));
    }
}
