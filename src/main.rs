//! Entry point: parse the command line and dispatch.

use std::process::ExitCode;

use clap::error::ErrorKind;
use gan::cli::Action;

/// mimalloc keeps freed tensor buffers for reuse; glibc's malloc returns large ones to the OS
/// and the next step pays page faults and zeroing for fresh memory (~10% of a DCGAN step).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gan::alloc::keep_freed_memory();
    // burn materialises loaded optimizer state on its default device, which would be the GPU;
    // flex is always there, and the state moves to the run's device on the next step.
    // Safe: no other thread exists yet.
    if std::env::var_os("BURN_DEVICE").is_none() {
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    // Without it, Mesa's Vulkan drivers print "error: XDG_RUNTIME_DIR is invalid or not set" on
    // headless machines while probing for a Wayland display; any directory silences the probe.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    let action = match gan::cli::parse() {
        Ok(action) => action,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            eprintln!("{}", one_line_clap_error(&e));
            return ExitCode::from(2);
        }
    };
    let result = match action {
        Action::Train(job) => gan::train::run(&job).map(|r| r.exit_code()),
        Action::Sample(opts) => gan::sample::run(&opts).map(|_| 0),
        Action::Eval(opts) => gan::eval::run(&opts).map(|_| 0),
        Action::Compare(opts) => gan::compare::run(&opts),
        Action::Report(opts) => gan::report::run(&opts).map(|_| 0),
        Action::Findings(opts) => gan::findings::run(&opts),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
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
