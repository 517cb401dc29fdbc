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
    // Last resort at a local minimum of the single steps: per axis, every smaller
    // (extent, padding, kernel, dilation) that keeps the output extent's remainder after
    // striding, `(S + lo + hi − d(K − 1) − 1) mod s`, smallest first. A failure that needs a
    // remainder (or a given output extent) does not survive any single step, only these.
    for a in 0..d {
        for c in same_remainder(l, a).into_iter().take(40) {
            push(c);
        }
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

/// Smaller versions of axis `a` (every coordinate ≤, one <) with the same remainder after
/// striding, ordered by the sum of the coordinates.
fn same_remainder(l: &Draft, a: usize) -> Vec<Draft> {
    let (s, (lo, hi), k, dl, st) = (
        l.extent[a],
        l.pads[a],
        l.kernel[a],
        l.dilation[a],
        l.stride[a],
    );
    let Some((r, _)) = remainder(s, lo, hi, k, dl, st) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for s2 in 1..=s {
        for lo2 in 0..=lo {
            for hi2 in 0..=hi {
                for k2 in 1..=k {
                    for dl2 in 1..=dl {
                        if (s2, lo2, hi2, k2, dl2) == (s, lo, hi, k, dl) {
                            continue;
                        }
                        if remainder(s2, lo2, hi2, k2, dl2, st).map(|x| x.0) != Some(r) {
                            continue;
                        }
                        let mut c = l.clone();
                        c.extent[a] = s2;
                        c.pads[a] = (lo2, hi2);
                        c.kernel[a] = k2;
                        c.dilation[a] = dl2;
                        found.push((s2 + lo2 + hi2 + k2 + dl2, c));
                    }
                }
            }
        }
    }
    found.sort_by_key(|(size, _)| *size);
    found.into_iter().map(|(_, c)| c).collect()
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
