//! `fftconv adapter [--plant NAME]…`: an adapter (HUNT.md) that computes with fftconv's own
//! fast paths, optionally with planted bugs, for trying `hunt` without another library.

use fftconv::hunt::reference_adapter::{serve, Plant};
use fftconv::Result;
use std::process::ExitCode;

/// Arguments of `adapter`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Plant a bug (repeatable): db-first-sample, reflect-remainder, dw-depthwise,
    /// refuse-dilated-groups, crash-three-channels, garbage-output-padding, hang-dilation3,
    /// stale-bias, missing-dw-1x1, shape-ignores-output-padding, accept-reflect-low.
    #[arg(long, value_name = "NAME")]
    pub plant: Vec<String>,
}

/// Run `adapter`: serve requests on stdin until `quit` or end of input.
///
/// # Errors
/// An unknown planted bug; a stdout that cannot be written.
pub fn run(args: Args) -> Result<ExitCode> {
    let plants = args
        .plant
        .iter()
        .map(|p| Plant::parse(p).map_err(super::hunt::option_as_flag))
        .collect::<Result<Vec<_>>>()?;
    serve(&plants, std::io::stdin().lock(), std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}
