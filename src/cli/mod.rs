//! Subcommands, one file each. Each `run` returns the process exit status or an error; an error
//! is printed as one line (`fftconv: <message>`) with exit status 2.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod adapter;
mod bench;
mod check;
mod demo;
mod derive;
mod export;
mod figure;
mod hunt;
mod malloc;
mod notes;
mod peak;
mod train;
mod verify;

/// Derivation-checked FFT convolution: layers, their gradients as adjoints, and the checks.
#[derive(Parser, Debug)]
#[command(name = "fftconv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Refuse any tensor, spectrum or dense matrix that would need more memory than this
    /// (bytes, or with K/M/G/T: 512M, 4G), before allocating it.
    #[arg(long, global = true, value_name = "SIZE", default_value = "4G")]
    max_memory: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A tour of fftconv on built-in data.
    Demo(demo::Args),
    /// Derive a layer's gradients (or an operator's adjoint) rule by rule, citing the notes.
    Derive(derive::Args),
    /// Execute every check block of the notes; ends with `N claims checked, M failed`.
    Notes(notes::Args),
    /// Write the notes' figures (SVG, computed from the library) into derivations/figures/.
    Figure(figure::Args),
    /// Time the layers of a layers file (forward and forward + both gradients).
    Bench(bench::Args),
    /// Judge validation cases (docs/CASES.md): exit 0 all pass, 1 a tensor disagrees, 2 a case could not be judged.
    Verify(verify::Args),
    /// Hunt another implementation's bugs through an adapter (HUNT.md): judge every result,
    /// shrink each failure; exit 0 no finding, 1 findings, 2 cannot run.
    Hunt(Box<hunt::Args>),
    /// The reference adapter for `hunt` (HUNT.md): fftconv itself, with planted bugs on request.
    Adapter(adapter::Args),
    /// Write a golden validation case computed by the reference.
    Export(Box<export::Args>),
    /// Run every check (dot test, dense transpose, finite differences, FFT vs direct) on every
    /// operator; exit 1 if any fails.
    Check(check::Args),
    /// Train CNN kernels through FFT convolutions (kernel-recovery, shapes, mnist).
    Train(train::Args),
}

/// Parse the command line, run the subcommand, map errors to exit status 2.
pub fn main() -> ExitCode {
    malloc::tune();
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if e.use_stderr() {
                // clap's report spans several lines; keep the one-line contract: the error and
                // its details (which argument, what was expected) joined, without the usage.
                let text = e.render().to_string();
                let parts: Vec<&str> = text
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let message = parts.join(" ").replacen("error: ", "", 1);
                eprintln!("fftconv: {message} (see fftconv --help)");
                return ExitCode::from(2);
            }
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match fftconv::limits::parse_size(&cli.max_memory) {
        Ok(bytes) => fftconv::limits::set_process_limits(fftconv::limits::Limits::new(bytes)),
        Err(e) => {
            eprintln!("fftconv: --max-memory: {}", invalid_message(&e));
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Derive(a) => derive::run(a),
        Command::Notes(a) => notes::run(a),
        Command::Figure(a) => figure::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Export(a) => export::run(*a),
        Command::Hunt(a) => hunt::run(*a),
        Command::Adapter(a) => adapter::run(a),
        Command::Check(a) => check::run(a),
        Command::Train(a) => train::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fftconv: {}", with_flag_hints(&e));
            ExitCode::from(2)
        }
    }
}

/// What a refused option value is told: the rule of an [`fftconv::Error::Field`] (the CLI names
/// the option itself), else the whole text.
fn invalid_message(e: &fftconv::Error) -> String {
    match e {
        fftconv::Error::Field { rule, .. } => rule.clone(),
        other => other.to_string(),
    }
}

/// An error's text with the command-line option that lifts it: the library says "raise the
/// limit", the binary names `--max-memory` (also where the error is quoted inside another).
pub(crate) fn with_flag_hints(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .replace("raise the limit", "raise the limit (--max-memory)")
        .replace(
            "(allow overwriting, or choose another output folder)",
            "(use --force, or another --out folder)",
        )
        .replace(
            "choose an empty or new output folder, or allow writing into it",
            "choose an empty or new folder for --out, or add --force to write into it",
        )
        .replace("choose another output folder", "choose another --out")
        .replace("layer variable: `", "--wrt: `")
        .replace("gradient with respect to b: ", "--wrt b: ")
}

/// A closed stdout (`fftconv … | head`) ends the process quietly; any other panic — a bug, never
/// expected on user input — prints one line instead of a backtrace and exits with status 2.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "fftconv: internal error{at}: {}; please report it",
            msg.lines().next().unwrap_or("")
        );
        std::process::exit(2);
    }));
}
