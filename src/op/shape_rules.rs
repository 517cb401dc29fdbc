//! The pieces the primitives' shape rules are made of (per-axis pads and strides, channel
//! groups, convolution shapes). Errors are the text that follows the operator, printed in
//! backticks by the caller, so every message reads "`op` …".

use super::primitive::{Params, Site};

/// A shape rule's error text.
pub(crate) type Msg = String;

/// `[2, 3, 8]`.
pub(crate) fn fmt_shape(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `Err(": msg")` unless `ok`.
pub(crate) fn need(ok: bool, msg: impl FnOnce() -> String) -> Result<(), Msg> {
    if ok {
        Ok(())
    } else {
        Err(format!(": {}", msg()))
    }
}

/// The first of the trailing `k` axes of `s`.
pub(crate) fn trailing(s: &[usize], k: usize) -> Result<usize, Msg> {
    if k == 0 || k > s.len() {
        return Err(format!(
            " has {k} per-axis parameters but acts on {} (rank {}); give one per trailing axis",
            fmt_shape(s),
            s.len()
        ));
    }
    Ok(s.len() - k)
}

/// `s` with `lo + hi` added to (`grow`) or removed from each trailing axis.
pub(crate) fn pad_shape(
    s: &[usize],
    pads: &[(usize, usize)],
    grow: bool,
) -> Result<Vec<usize>, Msg> {
    let lead = trailing(s, pads.len())?;
    let mut out = s.to_vec();
    for (a, &(lo, hi)) in pads.iter().enumerate() {
        let n = s[lead + a];
        out[lead + a] = if grow {
            n.checked_add(lo)
                .and_then(|m| m.checked_add(hi))
                .ok_or_else(|| format!(" makes axis {} of {} overflow", lead + a, fmt_shape(s)))?
        } else if lo.saturating_add(hi) <= n {
            n - lo - hi
        } else {
            return Err(format!(
                " removes {} entries from axis {} of {}, which has only {n}",
                lo.saturating_add(hi),
                lead + a,
                fmt_shape(s)
            ));
        };
    }
    Ok(out)
}

/// `s` with `f(extent, parameter)` on each trailing axis (parameters at least 1).
pub(crate) fn per_axis(
    s: &[usize],
    v: &[usize],
    f: impl Fn(usize, usize) -> Option<usize>,
) -> Result<Vec<usize>, Msg> {
    let lead = trailing(s, v.len())?;
    let mut out = s.to_vec();
    for (a, &k) in v.iter().enumerate() {
        if k == 0 {
            return Err(": parameters must be at least 1".into());
        }
        out[lead + a] = f(s[lead + a], k)
            .ok_or_else(|| format!(" does not fit axis {} of {}", lead + a, fmt_shape(s)))?;
    }
    Ok(out)
}

/// `(m − 1)s + 1`: the extent after inserting `s − 1` zeros between `m` entries.
pub(crate) fn spread(m: usize, s: usize) -> Option<usize> {
    m.checked_sub(1)
        .and_then(|m| m.checked_mul(s))
        .and_then(|m| m.checked_add(1))
}

/// The `m` with `(m − 1)s + 1 = n`, if there is one.
pub(crate) fn unspread(n: usize, s: usize) -> Option<usize> {
    (n > 0 && (n - 1).is_multiple_of(s)).then(|| (n - 1) / s + 1)
}

/// The `[lo:hi, …]` parameters.
pub(crate) fn pads<'a>(site: &Site<'a>) -> Result<&'a [(usize, usize)], Msg> {
    match site.params {
        Params::Pads(v) => Ok(v),
        _ => Err(": expects [lo:hi, ...] parameters".into()),
    }
}

/// The `[s, …]` parameters.
pub(crate) fn list<'a>(site: &Site<'a>) -> Result<&'a [usize], Msg> {
    match site.params {
        Params::List(v) => Ok(v),
        _ => Err(": expects [s, ...] parameters".into()),
    }
}

/// The `[k]` parameter.
pub(crate) fn count(site: &Site) -> Result<usize, Msg> {
    match site.params {
        Params::Count(k) => Ok(*k),
        _ => Err(": expects one [k] parameter".into()),
    }
}

/// The tensor argument's shape, of rank `rank` (0: any rank ≥ 3).
pub(crate) fn operand<'a>(site: &Site<'a>, rank: usize, what: &str) -> Result<&'a [usize], Msg> {
    let s = site
        .operand
        .ok_or_else(|| format!(": needs {what} as its argument"))?;
    if s.len() != rank && !(rank == 0 && s.len() >= 3) {
        return Err(format!(
            ": {what} must have rank {rank}, has shape {}",
            fmt_shape(s)
        ));
    }
    Ok(s)
}

/// Does the rule need a guess (the written `groups` missing) and is none allowed?
pub(crate) fn wait_for_groups(site: &Site) -> bool {
    site.groups.is_none() && !site.guess
}

/// `s` with its channel axis (1) set to `ch`.
pub(crate) fn with_channels(ch: usize, s: &[usize]) -> Vec<usize> {
    let mut v = s.to_vec();
    v[1] = ch;
    v
}

/// The groups of a channel-mixing primitive given the side that carries `C` and the channels
/// per group `cg`.
pub(crate) fn groups_from(groups: Option<usize>, c: usize, cg: usize) -> Result<usize, Msg> {
    let g = match groups {
        Some(g) => g,
        None => {
            need(cg > 0 && c.is_multiple_of(cg), || {
                format!("{c} channels are not a multiple of {cg}")
            })?;
            c / cg
        }
    };
    need(g > 0 && g.checked_mul(cg) == Some(c), || {
        format!("groups={g} times {cg} channels per group is not {c}")
    })?;
    Ok(g)
}

/// A signal `(N, C, *P)` and a kernel `(O, C/g, *P)` that fit with `groups`.
pub(crate) fn conv_check(signal: &[usize], kernel: &[usize], groups: usize) -> Result<(), Msg> {
    need(signal.len() == kernel.len() && signal.len() >= 3, || {
        format!(
            "signal {} and kernel {} need equal rank ≥ 3",
            fmt_shape(signal),
            fmt_shape(kernel)
        )
    })?;
    need(signal[2..] == kernel[2..], || {
        format!(
            "the kernel's period {} is not the signal's {}",
            fmt_shape(&kernel[2..]),
            fmt_shape(&signal[2..])
        )
    })?;
    need(
        groups > 0
            && kernel[0].is_multiple_of(groups)
            && kernel[1].checked_mul(groups) == Some(signal[1]),
        || {
            format!(
                "groups={groups} must divide O={} and give C/groups={} for C={}",
                kernel[0], kernel[1], signal[1]
            )
        },
    )
}
