//! The `lakemetrics` command: `demo` runs a simulated lake-ingestion service;
//! `inspect` prints what a checkpoint holds; `completions` prints a shell
//! completion script.
//!
//! Exit codes: 0 on success, 1 when a command fails (an export cannot be
//! written), 2 for a usage error (an unknown command or a bad option).

mod cli;
mod demo;
mod inspect;
mod signal;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

fn main() -> ExitCode {
    // Help and --version exit 0, usage errors 2, as clap does.
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(opts) => demo::main(&opts),
        Command::Inspect(opts) => inspect::main(&opts),
        Command::Completions { shell } => {
            // Into a buffer: clap_complete panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "lakemetrics", &mut script);
            match std::io::stdout().write_all(&script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the completion script: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
