//! `fftconv check [--json]`: every check on every primitive and combinator (the table of
//! [`fftconv::check::suite`]). Exit status 1 if any row fails.

use fftconv::check::suite;
use fftconv::{Error, Result};
use std::process::ExitCode;

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Run the suite and print it.
pub fn run(args: Args) -> Result<ExitCode> {
    let rows = suite::run()?;
    if args.json {
        for r in &rows {
            let line = serde_json::to_string(r)
                .map_err(|e| Error::invalid("check --json", e.to_string()))?;
            println!("{line}");
        }
    } else {
        print!("{}", suite::table(&rows));
        for s in suite::summarise(&rows)? {
            println!(
                "{}: {} rows, {} operators, {} failed",
                s.dtype, s.rows, s.operators, s.failed
            );
        }
    }
    Ok(if rows.iter().all(|r| r.pass) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
