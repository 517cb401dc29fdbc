//! `fftconv notes [DIR]`: execute every ```check block of every note; ends with
//! `N claims checked, M failed`, exit 1 if any failed.

use fftconv::notes::run_dir;
use fftconv::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `notes`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory of Markdown notes.
    #[arg(default_value = "derivations")]
    pub dir: PathBuf,
}

/// Run `notes`.
pub fn run(args: Args) -> Result<ExitCode> {
    let report = run_dir(&args.dir)?;
    print!("{}", report.text());
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
