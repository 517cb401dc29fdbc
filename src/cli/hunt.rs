//! `fftconv hunt --exec 'COMMAND' [options]`: drive an implementation through its adapter
//! (HUNT.md), judge every result, shrink each failure, report distinct bugs. Exit 0: no
//! finding; 1: findings; 2: cannot run.

use fftconv::case::TensorName;
use fftconv::check::Profile;
use fftconv::conv::ConvKind;
use fftconv::hunt::{self, report, HuntOptions, Scope};
use fftconv::npy::NpyDtype;
use fftconv::op::PadMode;
use fftconv::{Error, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `hunt`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The adapter command, run with `sh -c` (HUNT.md), e.g. `python3 examples/adapters/torch_adapter.py`.
    #[arg(long, value_name = "COMMAND")]
    pub exec: String,
    /// Ops to test: conv, conv_transpose (comma-separated).
    #[arg(long, default_value = "conv,conv_transpose")]
    pub ops: String,
    /// Numbers of spatial axes (comma-separated).
    #[arg(long, default_value = "1,2,3")]
    pub dims: String,
    /// Padding modes (comma-separated): zeros, circular, reflect, replicate.
    #[arg(long, default_value = "zeros,circular,reflect,replicate")]
    pub modes: String,
    /// dtype of the inputs and of the results expected back: f64 or f32.
    #[arg(long, default_value = "f64")]
    pub dtype: String,
    /// Tensors to ask for (comma-separated): y, dx, dw, db.
    #[arg(long, default_value = "y,dx,dw,db")]
    pub want: String,
    /// Number of cases: the edge grid first, random layers after.
    #[arg(long, default_value_t = 500)]
    pub cases: usize,
    /// Seed of the random layers and inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds to wait for each reply before counting a crash and restarting the adapter.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub timeout: f64,
    /// Also send layers the frameworks refuse (an implementation should answer ok: false).
    #[arg(long)]
    pub invalid: bool,
    /// Write one reproducer case folder per distinct bug here (must be empty or new).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out folder (only the reproducer folders are replaced).
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object per distinct bug, then a summary line.
    #[arg(long)]
    pub json: bool,
    /// Tolerance profile: f64, f32, tf32, bf16, f16 (default: the dtype's).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

fn list<T>(
    flag: &str,
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
    valid: &str,
) -> Result<Vec<T>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse(s).ok_or_else(|| Error::invalid(flag, format!("`{s}` is not one of {valid}")))
        })
        .collect()
}

/// Turn the arguments into hunt options.
fn options(args: &Args) -> Result<HuntOptions> {
    let mut o = HuntOptions::new(&args.exec);
    let ops = list(
        "--ops",
        &args.ops,
        |s| match s {
            "conv" => Some(ConvKind::Conv),
            "conv_transpose" => Some(ConvKind::ConvTranspose),
            _ => None,
        },
        "conv, conv_transpose",
    )?;
    let dims = list(
        "--dims",
        &args.dims,
        |s| s.parse().ok().filter(|d| (1..=3).contains(d)),
        "1, 2, 3",
    )?;
    let modes = list(
        "--modes",
        &args.modes,
        |s| s.parse::<PadMode>().ok(),
        "zeros, circular, reflect, replicate",
    )?;
    o.scope = Scope { ops, dims, modes };
    o.dtype = match args.dtype.as_str() {
        "f64" => NpyDtype::F64,
        "f32" => NpyDtype::F32,
        other => {
            return Err(Error::invalid(
                "--dtype",
                format!("`{other}`: use f64 or f32"),
            ))
        }
    };
    o.want = list(
        "--want",
        &args.want,
        |s| TensorName::ALL.into_iter().find(|t| t.as_str() == s),
        "y, dx, dw, db",
    )?;
    o.cases = args.cases;
    o.seed = args.seed;
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        return Err(Error::invalid(
            "--timeout",
            format!(
                "{} s: give a number of seconds between 0 and 86400",
                args.timeout
            ),
        ));
    }
    o.timeout = Duration::from_secs_f64(args.timeout);
    o.invalid = args.invalid;
    o.profile = args.profile.as_deref().map(Profile::parse).transpose()?;
    o.out = args.out.clone();
    Ok(o)
}

/// Run `hunt`.
///
/// # Errors
/// Bad options, an adapter that cannot run, an --out folder that cannot be used.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = options(&args)?;
    if let Some(out) = &options.out {
        report::prepare_out(out, args.force)?;
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(options.cases as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} cases, {msg} [{elapsed}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut progress = |done: usize, _total: usize, findings: usize| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
            b.set_message(format!(
                "{findings} distinct bug{}",
                if findings == 1 { "" } else { "s" }
            ));
        }
    };
    let result = hunt::hunt(&options, &mut progress).map_err(option_as_flag);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let r = result?;
    if args.json {
        for f in &r.findings {
            println!("{}", report::finding_json(f));
        }
        println!("{}", report::summary_json(&r));
    } else {
        print!("{}", report::table(&r));
    }
    Ok(ExitCode::from(if r.findings.is_empty() { 0 } else { 1 }))
}

/// The library names a refused [`hunt::HuntOptions`] field (`command`, `dims`, …); the CLI names
/// the flag that set it.
pub(crate) fn option_as_flag(e: Error) -> Error {
    const FLAGS: [(&str, &str); 7] = [
        ("command", "--exec"),
        ("ops", "--ops"),
        ("dims", "--dims"),
        ("modes", "--modes"),
        ("want", "--want"),
        ("cases", "--cases"),
        ("plant", "--plant"),
    ];
    match e {
        Error::Field { name, value, rule } => {
            let flag = FLAGS.iter().find(|(field, _)| *field == name);
            Error::Field {
                name: flag.map_or(name, |(_, flag)| flag.to_string()),
                value,
                rule,
            }
        }
        other => other,
    }
}
