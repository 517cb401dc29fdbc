//! The `fftconv` command line: parses arguments, calls the library, prints. Errors print one
//! line and exit with status 2.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
