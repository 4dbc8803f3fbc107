//! The `lakemetrics` command: `demo` runs a simulated lake-ingestion service;
//! `inspect` prints what a checkpoint holds.
//!
//! Exit codes: 0 on success, 1 when a command fails (an export cannot be
//! written), 2 for a usage error (an unknown command or a bad option).

mod cli;
mod demo;
mod inspect;
mod signal;

use std::process::ExitCode;

use cli::{Args, UsageError};

const USAGE: &str = "Usage: lakemetrics <COMMAND> [OPTIONS]";

fn help() -> String {
    format!(
        "lakemetrics {version}: in-process metrics for data-lake ingestion services

{USAGE}

Commands:
  demo    Run a simulated lake-ingestion service, show its metrics live and
          export them (Prometheus text and JSON) on exit
  inspect Print what a checkpoint (or a directory of them) holds
  help    Print this help, or a command's: lakemetrics help <COMMAND>

Options:
  -h, --help     Print this help
  -V, --version  Print the version

Run 'lakemetrics <COMMAND> --help' for a command's options.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

fn main() -> ExitCode {
    let mut args = Args::from_env();
    let result = match args.next_command() {
        Some(cmd) => match cmd.as_str() {
            "demo" => demo::main(args),
            "inspect" => inspect::main(args),
            "help" => match args.next_command().as_deref() {
                None => {
                    print!("{}", help());
                    Ok(ExitCode::SUCCESS)
                }
                Some("demo") => {
                    print!("{}", demo::HELP);
                    Ok(ExitCode::SUCCESS)
                }
                Some("inspect") => {
                    print!("{}", inspect::HELP);
                    Ok(ExitCode::SUCCESS)
                }
                Some(other) => Err(UsageError::new(
                    format!("unknown command '{other}'"),
                    USAGE,
                    "lakemetrics --help",
                )),
            },
            "-h" | "--help" => {
                print!("{}", help());
                Ok(ExitCode::SUCCESS)
            }
            "-V" | "--version" => {
                println!("lakemetrics {}", env!("CARGO_PKG_VERSION"));
                Ok(ExitCode::SUCCESS)
            }
            other if other.starts_with('-') => Err(UsageError::new(
                format!("unknown option '{other}' (options go after the command)"),
                USAGE,
                "lakemetrics --help",
            )),
            other => Err(UsageError::new(
                format!("unknown command '{other}'"),
                USAGE,
                "lakemetrics --help",
            )),
        },
        None => Err(UsageError::new(
            "no command given",
            USAGE,
            "lakemetrics --help",
        )),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("{e}");
            ExitCode::from(2)
        }
    }
}
