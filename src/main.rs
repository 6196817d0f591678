//! Entry point: parse the command line and dispatch.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use gan::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            eprintln!("{}", one_line_clap_error(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => gan::train::run(&cli.train).map(|_| ()),
        Some(Command::Train(args)) => gan::train::run(&args).map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// clap's error on one line: the message and its hints, without the usage block.
fn one_line_clap_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    format!("{} (see gan --help)", parts.join(" "))
}
