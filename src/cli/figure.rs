//! `fftconv figure [--out DIR]`: write the notes' figures (SVG, computed from the library) into
//! `DIR` (default `derivations/figures/`). Only the figure files themselves are written; an
//! `--out` that is a file is refused.

use fftconv::notes::figure::write_all;
use fftconv::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `figure`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory for the figures (created if missing; the figure files in it are replaced).
    #[arg(long, default_value = "derivations/figures")]
    pub out: PathBuf,
}

/// Run `figure`.
pub fn run(args: Args) -> Result<ExitCode> {
    for path in write_all(&args.out)? {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
