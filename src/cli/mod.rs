//! Subcommands, one file each. Each `run` returns the process exit status or an error; an error
//! is printed as one line (`fftconv: <message>`) with exit status 2.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod demo;

/// Derivation-checked FFT convolution: layers, their gradients as adjoints, and the checks.
#[derive(Parser, Debug)]
#[command(name = "fftconv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A tour of fftconv on built-in data.
    Demo(demo::Args),
    /// Time the layers of a layers file (forward and forward + both gradients).
    Bench(bench::Args),
}

/// Parse the command line, run the subcommand, map errors to exit status 2.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fftconv: {e}");
            ExitCode::from(2)
        }
    }
}
