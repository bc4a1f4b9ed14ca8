//! `orchestra`: the operator and client CLI. Thin: parse arguments, call into the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = orchestra_cli::Cli::parse();
    orchestra_cli::init_tracing(cli.log_json);
    match orchestra_cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
