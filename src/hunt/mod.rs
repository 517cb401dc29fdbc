//! `fftconv hunt`: drive another convolution implementation through an adapter (HUNT.md),
//! judge every result against the reference, and shrink each failure to the smallest layer
//! that still fails.
//!
//! - [`generate`]: the layers sent — an edge grid over the semantic space, then seeded random
//!   layers (and, on request, layers the frameworks refuse);
//! - [`adapter`]: the implementation's process and the JSON Lines protocol, with time limits
//!   and restarts;
//! - [`probe`]: one case folder, one request, one verdict per wanted tensor;
//! - [`shrink`]: the one-step-smaller layers a failure is reduced along;
//! - [`report`]: distinct bugs as a table, as JSON, and as replayable case folders;
//! - [`reference_adapter`]: an adapter that computes with fftconv itself, with bugs of the
//!   kinds real libraries have planted on request (`fftconv adapter --plant …`).
//!
//! A finding is always real: a wrong value is confirmed against the direct loops as well as
//! the operator chain, and a failure that does not come back in a freshly started adapter is
//! reported as order-dependent, with the earlier request that brings it back.
//!
//! What counts as a wrong value is decided by [`crate::case`]'s judge against the derived
//! layer (`derivations/06-conv-layer.md` to `14-bias.md`); the layer space generated and shrunk
//! is the one `ConvSpec` describes (`docs/CASES.md`).

pub mod adapter;
pub mod generate;
pub mod probe;
pub mod reference_adapter;
pub mod report;
pub mod shrink;

use crate::case::{LayerSpec, TensorName};
use crate::check::Profile;
use crate::conv::ConvKind;
use crate::error::{Error, Result};
use crate::npy::NpyDtype;
use crate::op::PadMode;
use adapter::Adapter;
use probe::{Failure, Kind, Probe, ProbeSettings, Values};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which part of the semantic space a hunt visits.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    /// Ops: conv, conv_transpose.
    pub ops: Vec<ConvKind>,
    /// Spatial ranks (1..=3).
    pub dims: Vec<usize>,
    /// Padding modes (conv_transpose always uses zeros).
    pub modes: Vec<PadMode>,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope {
            ops: vec![ConvKind::Conv, ConvKind::ConvTranspose],
            dims: vec![1, 2, 3],
            modes: vec![
                PadMode::Zeros,
                PadMode::Circular,
                PadMode::Reflect,
                PadMode::Replicate,
            ],
        }
    }
}

/// Everything a hunt needs.
#[derive(Clone, Debug)]
pub struct HuntOptions {
    /// The adapter command, run through `sh -c`.
    pub command: String,
    /// The part of the space to visit.
    pub scope: Scope,
    /// dtype of the inputs (and of the results expected back).
    pub dtype: NpyDtype,
    /// Tensors to ask for.
    pub want: Vec<TensorName>,
    /// Number of cases (edge grid first, random after).
    pub cases: usize,
    /// Seed of the random layers and of every input.
    pub seed: u64,
    /// Time limit per request.
    pub timeout: Duration,
    /// Also send layers the frameworks refuse (about one case in eight).
    pub invalid: bool,
    /// Folder for the reproducers.
    pub out: Option<PathBuf>,
    /// Tolerance profile (default: the dtype's).
    pub profile: Option<Profile>,
    /// Requests one shrink may send before it stops where it is.
    pub shrink_budget: usize,
}

impl HuntOptions {
    /// Defaults of the command line for `command`: both ops, 1-3 axes, every mode, f64, every
    /// tensor, 500 cases, seed 0, 60 s per request.
    pub fn new(command: &str) -> HuntOptions {
        HuntOptions {
            command: command.to_string(),
            scope: Scope::default(),
            dtype: NpyDtype::F64,
            want: TensorName::ALL.to_vec(),
            cases: 500,
            seed: 0,
            timeout: Duration::from_secs(60),
            invalid: false,
            out: None,
            profile: None,
            shrink_budget: 400,
        }
    }
}

/// One distinct bug: a kind of failure on a tensor, with the smallest layer that shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What goes wrong.
    pub kind: Kind,
    /// On which tensor (None for refused, crash, accepted-invalid).
    pub tensor: Option<TensorName>,
    /// The minimal layer (for an order-dependent finding: the case that failed).
    pub layer: LayerSpec,
    /// The input values of the minimal case.
    pub values: Values,
    /// How many generated cases this bug explains.
    pub cases: usize,
    /// The reproducer folder, when `--out` was given.
    pub dir: Option<PathBuf>,
    /// The largest norm-wise relative error seen (wrong values).
    pub max_rel_err: Option<f64>,
    /// The failure did not come back in a freshly started adapter.
    pub order_dependent: bool,
    /// For an order-dependent finding: the earlier request that brings it back, if found.
    pub brought_back_by: Option<LayerSpec>,
    /// The values of that earlier request.
    pub brought_back_values: Option<Values>,
    /// One line: what was seen on the minimal case.
    pub message: String,
}

/// The outcome of a hunt.
#[derive(Clone, Debug, PartialEq)]
pub struct HuntReport {
    /// Distinct bugs, in the order found.
    pub findings: Vec<Finding>,
    /// Cases generated and judged.
    pub cases: usize,
    /// Requests sent (cases, shrinking steps, replays).
    pub requests: usize,
    /// Times the adapter was started.
    pub adapter_starts: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The adapter, the settings and what was learned so far.
struct Session {
    adapter: Adapter,
    settings: ProbeSettings,
    work: PathBuf,
    next: u64,
    requests: usize,
    cache: HashMap<Probe, Vec<Failure>>,
    history: Vec<Probe>,
}

/// Requests remembered for the order-dependence search.
const HISTORY: usize = 24;

impl Session {
    fn run(&mut self, p: &Probe, use_cache: bool) -> Result<Vec<Failure>> {
        if use_cache {
            if let Some(f) = self.cache.get(p) {
                return Ok(f.clone());
            }
        }
        let dir = self.work.join(format!("r{:06}", self.next));
        self.next += 1;
        let starts = self.adapter.starts;
        let failures = p.run(&mut self.adapter, &dir, &self.settings)?;
        self.requests += 1;
        let _ = std::fs::remove_dir_all(&dir);
        if self.adapter.starts != starts {
            self.history.clear();
        }
        if failures.iter().any(|f| f.kind == Kind::Crash) {
            self.history.clear();
        } else {
            self.history.push(p.clone());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.cache.insert(p.clone(), failures.clone());
        Ok(failures)
    }

    fn restart(&mut self) {
        self.adapter.restart();
        self.history.clear();
    }

    /// Reduce `start` one step at a time while the same kind of failure on the same tensor
    /// remains.
    fn shrink(
        &mut self,
        start: &Probe,
        target: &Failure,
        budget: usize,
    ) -> Result<(Probe, Failure)> {
        let keep_valid = target.kind != Kind::AcceptedInvalid;
        let (mut current, mut failure) = (start.clone(), target.clone());
        let (mut sent, mut timeouts) = (0usize, 0usize);
        'step: loop {
            let singles = shrink::candidates(&current, keep_valid);
            let deep = || shrink::deep_candidates(&current, keep_valid, 160);
            for candidate in singles
                .into_iter()
                .chain(std::iter::once_with(deep).flatten())
            {
                if sent >= budget || timeouts >= 6 {
                    break 'step;
                }
                if !self.cache.contains_key(&candidate) {
                    sent += 1;
                }
                let fs = self.run(&candidate, true)?;
                if let Some(f) = fs.iter().find(|f| f.same_as(target)) {
                    current = candidate;
                    failure = f.clone();
                    continue 'step;
                }
                // A step that hangs the adapter costs the whole time limit; a few of them end
                // the shrink where it is.
                if fs.iter().any(|f| f.message.starts_with("no reply within")) {
                    timeouts += 1;
                }
            }
            break;
        }
        Ok((current, failure))
    }
}

/// A fresh folder for one hunt's request folders, under the system's temporary folder.
fn work_dir() -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("fftconv-hunt-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::file(dir.display(), format!("cannot create the work folder: {e}")))?;
    Ok(dir)
}

/// The cases of a hunt, in order: the edge grid, then random layers; with `invalid`, about
/// one case in eight is a layer the frameworks refuse.
pub fn cases(options: &HuntOptions) -> Vec<Probe> {
    let mut rng = generate::rng(options.seed);
    let mut drafts = generate::grid(&options.scope);
    drafts.truncate(options.cases);
    while drafts.len() < options.cases {
        drafts.push(generate::random(&options.scope, &mut rng));
    }
    if options.invalid {
        for i in (7..drafts.len()).step_by(8) {
            if let Some(bad) = generate::invalid(&drafts[i], &options.scope, &mut rng) {
                drafts[i] = bad;
            }
        }
    }
    drafts
        .into_iter()
        .map(|draft| Probe {
            draft,
            values: Values::Normal,
        })
        .collect()
}

fn check_options(options: &HuntOptions) -> Result<()> {
    let s = &options.scope;
    if s.ops.is_empty() || s.dims.is_empty() || s.modes.is_empty() || options.want.is_empty() {
        let empty = [
            ("ops", s.ops.is_empty()),
            ("dims", s.dims.is_empty()),
            ("modes", s.modes.is_empty()),
            ("want", options.want.is_empty()),
        ];
        let name = empty.iter().find(|(_, e)| *e).map_or("ops", |(n, _)| *n);
        return Err(Error::field(
            name,
            "[]",
            format!("{name} is empty; give at least one value"),
        ));
    }
    if let Some(d) = s.dims.iter().find(|d| !(1..=3).contains(*d)) {
        return Err(Error::field(
            "dims",
            d,
            format!("{d} is not a number of spatial axes; use 1, 2 or 3"),
        ));
    }
    if s.ops == [ConvKind::ConvTranspose] && !s.modes.contains(&PadMode::Zeros) {
        return Err(Error::field(
            "modes",
            format!("{:?}", s.modes),
            "conv_transpose pads with zeros only; add zeros to the padding modes",
        ));
    }
    if options.cases == 0 {
        return Err(Error::field("cases", 0, "must be at least 1"));
    }
    Ok(())
}

/// Run a hunt. `progress(done, total, findings)` is called after every case.
///
/// # Errors
/// [`Error::Invalid`] for options that cannot work and when the adapter cannot run at all
/// (it does not start, or gives no usable reply to the first request); [`Error::File`] when
/// the work or output folder cannot be written.
pub fn hunt(
    options: &HuntOptions,
    progress: &mut dyn FnMut(usize, usize, usize),
) -> Result<HuntReport> {
    check_options(options)?;
    let started = Instant::now();
    let work = work_dir()?;
    let result = hunt_in(options, &work, progress, started);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn hunt_in(
    options: &HuntOptions,
    work: &std::path::Path,
    progress: &mut dyn FnMut(usize, usize, usize),
    started: Instant,
) -> Result<HuntReport> {
    let profile = options.profile.unwrap_or(match options.dtype {
        NpyDtype::F64 => Profile::F64,
        NpyDtype::F32 => Profile::F32,
    });
    let mut s = Session {
        adapter: Adapter::new(
            &options.command,
            options.timeout,
            &work.join("adapter-stderr.log"),
        ),
        settings: ProbeSettings {
            seed: options.seed,
            dtype: options.dtype,
            want: options.want.clone(),
            profile,
        },
        work: work.to_path_buf(),
        next: 0,
        requests: 0,
        cache: HashMap::new(),
        history: Vec::new(),
    };
    let all = cases(options);
    let mut findings: Vec<Finding> = Vec::new();
    let mut aliases = Vec::new();
    for (i, case) in all.iter().enumerate() {
        let before = s.history.clone();
        let failures = s.run(case, true)?;
        if i == 0 {
            if let Some(f) = failures.iter().find(|f| f.kind == Kind::Crash) {
                return Err(Error::field(
                    "command",
                    &options.command,
                    format!(
                        "`{}` gave no usable reply to the first request: {}; check that it runs and speaks HUNT.md's protocol",
                        options.command, f.message
                    ),
                ));
            }
        }
        let mut seen: Vec<&Failure> = Vec::new();
        for f in &failures {
            if seen.iter().any(|g| g.same_as(f)) {
                continue;
            }
            seen.push(f);
            record(
                &mut s,
                &mut findings,
                &mut aliases,
                case,
                f,
                &before,
                options.shrink_budget,
            )?;
        }
        progress(i + 1, all.len(), findings.len());
    }
    if let Some(out) = &options.out {
        report::write_reproducers(&mut s, &mut findings, out)?;
    }
    s.adapter.quit();
    Ok(HuntReport {
        findings,
        cases: all.len(),
        requests: s.requests,
        adapter_starts: s.adapter.starts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Shrink one failure and file it under its distinct bug (a new one is replayed in a freshly
/// started adapter first). `aliases` maps minimal layers to the finding they were filed under.
fn record(
    s: &mut Session,
    findings: &mut Vec<Finding>,
    aliases: &mut Vec<(LayerSpec, usize)>,
    case: &Probe,
    failure: &Failure,
    before: &[Probe],
    budget: usize,
) -> Result<()> {
    let (minimal, mf) = s.shrink(case, failure, budget)?;
    let layer = minimal.draft.spec();
    let err = mf.max_rel_err.or(failure.max_rel_err);
    let count = |k: &mut Finding| {
        k.cases += 1;
        k.max_rel_err = match (k.max_rel_err, err) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    };
    let same = |k: &Finding| k.kind == mf.kind && k.tensor == mf.tensor;
    if let Some(&(_, i)) = aliases
        .iter()
        .find(|(l, i)| *l == layer && same(&findings[*i]))
    {
        count(&mut findings[i]);
        return Ok(());
    }
    s.restart();
    let fresh = s.run(&minimal, false)?;
    if fresh.iter().any(|f| f.same_as(&mf)) {
        aliases.push((layer.clone(), findings.len()));
        findings.push(Finding {
            kind: mf.kind,
            tensor: mf.tensor,
            layer,
            values: minimal.values,
            cases: 1,
            dir: None,
            max_rel_err: err,
            order_dependent: false,
            brought_back_by: None,
            brought_back_values: None,
            message: mf.message.clone(),
        });
        return Ok(());
    }
    // Not in a fresh adapter: the failure depends on what came before. Such failures do not
    // shrink to one layer, so they are one bug per kind and tensor.
    if let Some(i) = findings.iter().position(|k| k.order_dependent && same(k)) {
        aliases.push((layer, i));
        count(&mut findings[i]);
        return Ok(());
    }
    let mut culprit = None;
    for earlier in before.iter().rev().take(16) {
        s.restart();
        s.run(earlier, false)?;
        if s.run(case, false)?.iter().any(|f| f.same_as(failure)) {
            culprit = Some(earlier.clone());
            break;
        }
    }
    s.restart();
    let message = match &culprit {
        Some(c) => format!(
            "{} — only after an earlier request: {}",
            failure.message,
            c.draft.spec().dsl()
        ),
        None => format!(
            "{} — does not come back in a fresh adapter, and no single earlier request of the last {} brings it back",
            failure.message,
            before.len().min(16)
        ),
    };
    aliases.push((layer, findings.len()));
    findings.push(Finding {
        kind: failure.kind,
        tensor: failure.tensor,
        layer: case.draft.spec(),
        values: case.values,
        cases: 1,
        dir: None,
        max_rel_err: failure.max_rel_err,
        order_dependent: true,
        brought_back_by: culprit.as_ref().map(|c| c.draft.spec()),
        brought_back_values: culprit.map(|c| c.values),
        message,
    });
    Ok(())
}
