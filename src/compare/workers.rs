//! `gan compare --jobs N`: the runs of a plan trained by N worker processes at once, each one
//! `gan compare ... --task-index I` on its own share of the cores. The run locks keep every run
//! to one worker; the last worker to finish (or this process) writes the report.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Found, Planned, RunEnd, found};
use crate::run::RunDir;
use crate::train::PlanBar;
use crate::train::interrupt::{EXIT_CODE, StopFlag};

/// This program, as worker processes start it.
pub fn program() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "gan".into())
}

/// The command that reruns this `gan compare`, without the flags that choose how the plan is
/// gone through (`--jobs`, `--plan`, `--task-index`).
pub fn this_command() -> Vec<String> {
    let mut out = vec![program()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" | "--task-index" => {
                args.next();
            }
            "--plan" => {}
            _ if a.starts_with("--jobs=") || a.starts_with("--task-index=") => {}
            _ => out.push(a),
        }
    }
    out
}

/// One worker process and the run it trains.
struct Worker {
    child: Child,
    index: usize,
    started: Instant,
}

/// Trains the runs of `runs` in `jobs` worker processes at once; `threads_given` keeps the
/// user's --threads, else the cores are split evenly between the workers.
/// Each worker runs `command` (which rebuilds the same plan) with `--task-index I`.
pub(super) fn run(
    dir: &Path,
    runs: &[Planned],
    jobs: usize,
    threads_given: bool,
    command: &[String],
) -> Result<RunEnd> {
    let stop = StopFlag::install()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut extra = Vec::new();
    if !threads_given {
        extra.extend(["--threads".to_string(), (cores / jobs).max(1).to_string()]);
    }
    let base: Vec<String> = command.iter().chain(&extra).cloned().collect();
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    eprintln!(
        "training in {jobs} worker processes ({}); each one's output is in {}",
        match threads_given {
            true => "threads as given".to_string(),
            false => format!("{} threads each", (cores / jobs).max(1)),
        },
        logs.display()
    );
    let total: u64 = runs.iter().map(|r| r.args.steps).sum();
    let bar = PlanBar::bar(total);
    let say = |line: &str| match bar.is_hidden() {
        true => eprintln!("{line}"),
        false => bar.println(line),
    };
    let mut queue: Vec<usize> = (0..runs.len()).rev().collect();
    let mut running: Vec<Worker> = Vec::new();
    let mut interrupted = false;
    loop {
        while running.len() < jobs && !stop.requested() {
            let Some(i) = queue.pop() else { break };
            let r = &runs[i];
            match found(&dir.join("runs").join(&r.name)) {
                Found::Done => {
                    say(&format!(
                        "[{}/{}] {}: reusing the finished run",
                        i + 1,
                        runs.len(),
                        r.name
                    ));
                    continue;
                }
                Found::Held(holder) => {
                    say(&format!(
                        "[{}/{}] {}: being trained by {holder}; left to it",
                        i + 1,
                        runs.len(),
                        r.name
                    ));
                    continue;
                }
                _ => {}
            }
            let log = logs.join(format!("{}.log", r.name));
            let err = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
            let child = Command::new(&base[0])
                .args(&base[1..])
                .args(["--task-index", &i.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .with_context(|| format!("starting a worker for {}", r.name))?;
            say(&format!(
                "[{}/{}] {}: training (worker pid {})",
                i + 1,
                runs.len(),
                r.name,
                child.id()
            ));
            running.push(Worker {
                child,
                index: i,
                started: Instant::now(),
            });
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        bar.set_position(progress(dir, runs));
        let mut k = 0;
        while k < running.len() {
            let Some(status) = running[k]
                .child
                .try_wait()
                .context("waiting for a worker")?
            else {
                k += 1;
                continue;
            };
            let w = running.swap_remove(k);
            let r = &runs[w.index];
            let log = logs.join(format!("{}.log", r.name));
            match status.code() {
                Some(0) => say(&format!(
                    "[{}/{}] {}: done in {:.0} s",
                    w.index + 1,
                    runs.len(),
                    r.name,
                    w.started.elapsed().as_secs_f64()
                )),
                Some(c) if c == EXIT_CODE as i32 => interrupted = true,
                _ => {
                    // A run that diverged is a result; any other failure stops the plan.
                    let diverged = RunDir::open(&dir.join("runs").join(&r.name), "run")
                        .ok()
                        .and_then(|d| d.summary().ok().flatten())
                        .is_some_and(|s| s.status == crate::run::Status::Diverged);
                    if diverged {
                        say(&format!(
                            "[{}/{}] {}: diverged; the report counts it",
                            w.index + 1,
                            runs.len(),
                            r.name
                        ));
                    } else {
                        for mut other in running.drain(..) {
                            let _ = other.child.kill();
                            let _ = other.child.wait();
                        }
                        bar.finish_and_clear();
                        let last = fs::read_to_string(&log).unwrap_or_default();
                        let last = last.lines().last().unwrap_or("no output").to_string();
                        bail!(
                            "the worker training {} failed: {last} (log: {})",
                            r.name,
                            log.display()
                        );
                    }
                }
            }
        }
        if stop.requested() {
            interrupted = true;
        }
    }
    bar.finish_and_clear();
    if interrupted {
        eprintln!(
            "comparison interrupted; rerun the same command to continue (finished runs are reused)"
        );
        return Ok(RunEnd::Interrupted);
    }
    Ok(RunEnd::Next)
}

/// Steps done over the plan: finished runs whole, others up to their last metrics row.
fn progress(dir: &Path, runs: &[Planned]) -> u64 {
    runs.iter()
        .map(|r| {
            let run = dir.join("runs").join(&r.name);
            match found(&run) {
                Found::Done => r.args.steps,
                _ => fs::read_to_string(run.join("metrics.csv"))
                    .ok()
                    .and_then(|t| t.lines().last()?.split(',').next()?.parse::<u64>().ok())
                    .map_or(0, |s| s + 1),
            }
        })
        .sum()
}
