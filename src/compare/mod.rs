//! `gan compare`: every configuration × seed trained in turn with the same data order and noise
//! per seed, resumable by rerunning, then the report.

pub mod scenario;
pub mod workers;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::metric::{Column, Take};
use crate::model::Act;
use crate::report::verdict::Spec;
use crate::run::lock::Holder;
use crate::run::{LockError, RunDir, RunLock, Status, checkpoint};
use crate::settings::{Given, Key, TrainSettings};
use crate::train::{self, Job, Outcome, PlanBar};
use scenario::Scenario;

/// What `gan compare` compares.
#[derive(Debug, Clone)]
pub struct Options {
    /// Discriminator activations to compare.
    pub acts: Vec<Act>,
    /// LeakyReLU slopes to compare (empty: the training settings' alpha).
    pub alphas: Vec<f64>,
    /// Seeds per configuration: seed, seed+1, ...
    pub seeds: u32,
    /// The settings preset.
    pub scenario: Scenario,
    /// Training settings shared by every run (`out` is the comparison's folder when given).
    pub train: TrainSettings,
    /// The training settings given explicitly (the scenario leaves them as given).
    pub given: Given,
    /// The primary metric (None: the scenario's) and the equivalence margin.
    pub primary: Option<(Column, Take)>,
    /// Equivalence margin, a fraction of relu's value.
    pub margin: f64,
    /// How the plan is gone through.
    pub mode: Mode,
    /// A command line (program first, without --jobs, --plan or --task-index) that rebuilds
    /// this comparison's plan: worker processes and --plan's lines run it with --task-index I.
    pub command: Vec<String>,
}

impl Options {
    /// What the verdict is judged on.
    pub fn spec(&self) -> Spec {
        Spec {
            primary: self.primary.unwrap_or(self.scenario.primary()),
            margin: self.margin,
        }
    }
}

/// One run of the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Folder name under `<out>/runs/`.
    pub name: String,
    /// Its complete settings.
    pub args: TrainSettings,
}

/// Training settings that `gan compare` sets per run itself, and what to use instead.
const PER_RUN: [(Key, &str); 2] = [
    (Key::DiscAct, "--acts"),
    (Key::Name, "the run names it makes"),
];

/// The comparison's folder and its runs, in training order (seed-major, so an early stop still
/// leaves complete seeds to compare).
pub fn plan(args: &Options) -> Result<(PathBuf, Vec<Planned>)> {
    for (key, instead) in PER_RUN {
        if args.given.has(key) {
            bail!(
                "{} is set per run by gan compare; use {instead}",
                key.flag()
            );
        }
    }
    let mut base = args.train.clone();
    scenario::apply(args.scenario, &mut base, &args.given);
    let dir = match args.given.has(Key::Out) {
        true => args.train.out.clone(),
        false => args
            .train
            .out
            .join(format!("compare-{}", args.scenario.name())),
    };
    base.out = dir.join("runs");
    base.quiet = true;
    let alphas = match (
        args.alphas.is_empty(),
        scenario::default_alphas(args.scenario),
    ) {
        (false, _) => args.alphas.clone(),
        (true, preset) if !preset.is_empty() => preset,
        (true, _) => vec![args.train.alpha],
    };
    // --alpha is also the generator's slope under --gen-act leaky: several slopes would change
    // the generators too, and then the activation would not be the only difference.
    if base.gen_act == Act::Leaky && alphas.iter().any(|&a| a != base.alpha) {
        bail!(
            "--gen-act leaky uses --alpha for the generator too; compare --alphas other than \
             --alpha only with --gen-act relu"
        );
    }
    let mut configs: Vec<(Act, f64)> = Vec::new();
    for &act in &args.acts {
        let slopes = match act {
            Act::Relu => vec![base.alpha],
            Act::Leaky => alphas.clone(),
        };
        for a in slopes {
            if !configs.contains(&(act, a)) {
                configs.push((act, a));
            }
        }
    }
    // The scenario's second factor (a 2 × 2 design), or one level.
    let levels = scenario::levels(args.scenario, &base, &args.given);
    let mut runs = Vec::new();
    for k in 0..args.seeds as u64 {
        let seed = args
            .train
            .seed
            .checked_add(k)
            .context("--seed + --seeds overflows")?;
        for (tag, level) in &levels {
            for &(act, alpha) in &configs {
                let mut a = TrainSettings {
                    disc_act: act,
                    alpha,
                    seed,
                    ..level.clone()
                };
                let name = match tag.is_empty() {
                    true => format!("{}-s{seed}", a.act_label()),
                    false => format!("{tag}-{}-s{seed}", a.act_label()),
                };
                a.name = Some(name.clone());
                runs.push(Planned { name, args: a });
            }
        }
    }
    Ok((dir, runs))
}

/// The settings that identify a comparison (what a rerun must repeat to continue it).
fn identity(args: &Options, runs: &[Planned]) -> Value {
    json!({
        "scenario": args.scenario,
        "runs": runs.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        "settings": identity_settings(&runs[0].args),
    })
}

/// The settings of `t` that identify a comparison.
fn identity_settings(t: &TrainSettings) -> serde_json::Map<String, Value> {
    let mut settings = t.to_map();
    // Per run, or free to change between sessions.
    for k in Key::ALL
        .iter()
        .filter(|k| !k.role().identifies_comparison())
    {
        settings.remove(k.name());
    }
    settings
}

/// A saved identity as this version writes it: settings added since it was saved (missing
/// keys) read as their defaults, as the runs' own config.json files do, so that a comparison
/// begun by an older gan is continued rather than refused.
fn upgraded(mut saved: Value) -> Value {
    if let Some(Ok(t)) = saved
        .get("settings")
        .map(|s| serde_json::from_value::<TrainSettings>(s.clone()))
    {
        saved["settings"] = Value::Object(identity_settings(&t));
    }
    saved
}

/// Refuses a folder that holds a different comparison; records this one in a new folder.
fn claim(dir: &Path, identity: &Value) -> Result<()> {
    let path = dir.join("compare.json");
    let claimed = path.is_file();
    if claimed {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let saved: Value = upgraded(
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?,
        );
        // Until a run has started, the folder holds nothing to protect: a corrected command
        // may take it over.
        if &saved != identity && started_any(dir) {
            let what = differing(&saved, identity);
            bail!(
                "{} holds a comparison with other settings ({what}); give another --out to start a new one",
                dir.display()
            );
        }
        if &saved == identity {
            return Ok(());
        }
    } else if dir.exists()
        && fs::read_dir(dir)
            .map(|d| {
                // Another process claiming the same new folder this instant leaves only its
                // staged compare.json here, or its finished one (renamed in since the check
                // above: read it then, below).
                d.filter_map(|e| e.ok()).any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name != "compare.json" && !name.starts_with(crate::run::STAGING_PREFIX)
                })
            })
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not a gan compare folder; give another --out",
            dir.display()
        );
    }
    if !claimed && path.is_file() {
        // Claimed by another process since the first check: judge its claim.
        return claim(dir, identity);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Atomic: a process claiming the folder at the same time reads the whole file or none.
    crate::run::write_json(&path, identity)
}

/// Whether any run of the comparison in `dir` has written a summary or checkpoint.
fn started_any(dir: &Path) -> bool {
    fs::read_dir(dir.join("runs"))
        .map(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                matches!(
                    found(&e.path()),
                    Found::Done | Found::Resumable | Found::Held(_)
                )
            })
        })
        .unwrap_or(false)
}

/// Names of the top-level or settings keys whose values differ, for the error message.
fn differing(a: &Value, b: &Value) -> String {
    let mut keys = Vec::new();
    for k in ["scenario", "runs"] {
        if a[k] != b[k] {
            keys.push(k.to_string());
        }
    }
    if let (Some(sa), Some(sb)) = (a["settings"].as_object(), b["settings"].as_object()) {
        for (k, v) in sb {
            if sa.get(k) != Some(v) {
                keys.push(format!(
                    "--{} {} vs {}",
                    k.replace('_', "-"),
                    sa.get(k).unwrap_or(&Value::Null),
                    v
                ));
            }
        }
    }
    keys.join(", ")
}

/// What is on disk for a planned run.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// Nothing: train it.
    Nothing,
    /// Finished or diverged: reuse it.
    Done,
    /// Stopped with a checkpoint: resume it.
    Resumable,
    /// A folder with neither: left over from a run stopped before its first checkpoint.
    Unusable,
    /// Another process trains it now: never touched, never counted.
    Held(Holder),
}

fn found(dir: &Path) -> Found {
    if !dir.exists() {
        return Found::Nothing;
    }
    let run = match RunDir::open(dir, "run") {
        Ok(r) => r,
        Err(_) => return Found::Nothing,
    };
    // First: a run in progress says nothing yet, whatever its files say.
    if let Ok(Some(holder)) = run.in_progress() {
        return Found::Held(holder);
    }
    match status(&run) {
        Some(Status::Finished | Status::Diverged) => Found::Done,
        _ if checkpoint::latest(dir).is_some() => Found::Resumable,
        _ => Found::Unusable,
    }
}

/// How the run's latest training command ended, from its own summary.json.
fn status(run: &RunDir) -> Option<Status> {
    run.summary().ok().flatten().map(|s| s.status)
}

/// Removes an unusable run folder (stopped before its first checkpoint) under its lock, so
/// that no other process can be starting it meanwhile. False when another process holds it.
fn discard(run_dir: &Path) -> Result<bool> {
    let run = RunDir::open(run_dir, "run")?;
    let _lock = match run.lock() {
        Ok(l) => l,
        Err(LockError::Held { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    // Moved aside first, so the name is free at once and a crash leaves no half-deleted run.
    let name = run.name();
    let trash = run_dir.with_file_name(format!(".{name}.{}.old", std::process::id()));
    fs::rename(run_dir, &trash)
        .with_context(|| format!("moving the unfinished {} aside", run_dir.display()))?;
    fs::remove_dir_all(&trash)
        .with_context(|| format!("removing the unfinished {}", trash.display()))?;
    Ok(true)
}

/// Whether `e` says another process holds the run, or created it first (and may have
/// finished it since).
fn taken_elsewhere(e: &anyhow::Error, run_dir: &Path) -> bool {
    e.chain()
        .any(|c| matches!(c.downcast_ref::<LockError>(), Some(LockError::Held { .. })))
        || matches!(found(run_dir), Found::Held(_) | Found::Done)
}

/// How `gan compare` goes through its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every run in turn, in this process.
    #[default]
    Sequential,
    /// Print the plan (one JSON line per run, with the command that trains it) and exit.
    Plan,
    /// Train run I of the plan only (a cluster's array task), then the report if it was the last.
    Task(usize),
    /// Train the runs in N worker processes at once, splitting the cores between them.
    Jobs(usize),
}

/// Trains planned run `i` unless it is finished or another process holds it; progress on
/// `bar`, whose steps before this run are `offset`.
fn train_run(
    dir: &Path,
    runs: &[Planned],
    i: usize,
    bar: &indicatif::ProgressBar,
    offset: u64,
) -> Result<RunEnd> {
    let r = &runs[i];
    let run_dir = dir.join("runs").join(&r.name);
    let plan_bar = PlanBar {
        bar: bar.clone(),
        offset,
        label: r.name.clone(),
    };
    let done = offset + r.args.steps;
    let tag = format!("[{}/{}] {}", i + 1, runs.len(), r.name);
    let mut job = Job {
        settings: r.args.clone(),
        ..Job::default()
    };
    match found(&run_dir) {
        Found::Done => {
            plan_bar.println(&format!("{tag}: reusing the finished run"));
            bar.set_position(done);
            return Ok(RunEnd::Next);
        }
        Found::Held(holder) => {
            plan_bar.println(&format!("{tag}: being trained by {holder}; left to it"));
            bar.set_position(done);
            return Ok(RunEnd::Next);
        }
        Found::Resumable => {
            plan_bar.println(&format!("{tag}: resuming from its checkpoint"));
            job.resume = Some(run_dir.clone());
        }
        Found::Unusable => {
            // Stopped before its first checkpoint: nothing in it can be continued.
            if !discard(&run_dir)? {
                plan_bar.println(&format!(
                    "{tag}: being trained by another process; left to it"
                ));
                bar.set_position(done);
                return Ok(RunEnd::Next);
            }
            plan_bar.println(&format!(
                "{tag}: restarting (stopped before any checkpoint)"
            ));
        }
        Found::Nothing => plan_bar.println(&format!("{tag}: training")),
    }
    let t = Instant::now();
    match train::run_in_plan(&job, Some(plan_bar.clone())) {
        Ok(Outcome::Finished(_)) => {
            plan_bar.println(&format!(
                "{tag}: done in {:.0} s",
                t.elapsed().as_secs_f64()
            ));
        }
        Ok(Outcome::Interrupted(_)) => {
            bar.finish_and_clear();
            eprintln!(
                "comparison interrupted during {}; rerun the same command to continue (finished runs are reused)",
                r.name
            );
            return Ok(RunEnd::Interrupted);
        }
        // A diverged run is a result (the report counts it), as its own summary says.
        Err(_)
            if RunDir::open(&run_dir, "run")
                .is_ok_and(|r| status(&r) == Some(Status::Diverged)) =>
        {
            plan_bar.println(&format!(
                "{tag}: diverged (a NaN or infinite loss); the report counts it"
            ));
        }
        // Another process took the run first: it is theirs. Other errors stop the plan.
        Err(e) if taken_elsewhere(&e, &run_dir) => {
            plan_bar.println(&format!("{tag}: taken by another process; left to it"));
        }
        Err(e) => {
            bar.finish_and_clear();
            return Err(e.context(format!("training {}", r.name)));
        }
    }
    Ok(RunEnd::Next)
}

/// The plan as JSON lines: index, run name, and the command that trains that run alone.
fn print_plan(runs: &[Planned], command: &[String]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for (i, r) in runs.iter().enumerate() {
        let mut cmd = command.to_vec();
        cmd.extend(["--task-index".to_string(), i.to_string()]);
        let line = json!({"index": i, "run": r.name, "command": cmd});
        writeln!(out, "{line}").context("writing the plan")?;
    }
    Ok(())
}

/// How one planned run ended in this process.
enum RunEnd {
    /// Trained, reused, diverged or left to another process: go on.
    Next,
    /// Stopped by Ctrl-C: the whole command stops.
    Interrupted,
}

/// `gan compare`: trains what is missing, then writes the report; returns the exit status.
pub fn run(args: &Options) -> Result<u8> {
    let (dir, runs) = plan(args)?;
    for r in &runs {
        r.args.validate()?;
    }
    if args.mode == Mode::Plan {
        print_plan(&runs, &args.command)?;
        return Ok(0);
    }
    if let Mode::Task(i) = args.mode
        && i >= runs.len()
    {
        bail!(
            "--task-index {i} is outside the plan: it has {} runs (0 to {})",
            runs.len(),
            runs.len() - 1
        );
    }
    claim(&dir, &identity(args, &runs))?;
    if let Mode::Task(i) = args.mode
        && let Found::Held(holder) = found(&dir.join("runs").join(&runs[i].name))
    {
        bail!(
            "run {i} ({}) of {} is being trained by {holder}; each --task-index is trained by one process",
            runs[i].name,
            dir.display()
        );
    }
    let spec = args.spec();
    eprintln!(
        "comparison {} ({}): {} runs of {} steps; {} Primary metric: {} (equivalence margin ±{:.0}%).",
        dir.display(),
        args.scenario.name(),
        runs.len(),
        runs[0].args.steps,
        scenario::purpose(args.scenario, &runs[0].args),
        spec.primary.0.key(spec.primary.1),
        100.0 * spec.margin
    );
    let started = Instant::now();
    let ended = match args.mode {
        Mode::Task(i) => {
            let bar = PlanBar::bar(runs[i].args.steps);
            let end = train_run(&dir, &runs, i, &bar, 0)?;
            bar.finish_and_clear();
            end
        }
        Mode::Jobs(n) => workers::run(&dir, &runs, n, args.given.has(Key::Threads), &args.command)?,
        Mode::Sequential | Mode::Plan => {
            let stop = crate::train::interrupt::StopFlag::install()?;
            let total: u64 = runs.iter().map(|r| r.args.steps).sum();
            let bar = PlanBar::bar(total);
            let mut offset = 0;
            let mut end = RunEnd::Next;
            for i in 0..runs.len() {
                // A Ctrl-C between runs (or during the last one's ending) stops before the next.
                if stop.requested() {
                    eprintln!(
                        "comparison interrupted before {}; rerun the same command to continue (finished runs are reused)",
                        runs[i].name
                    );
                    end = RunEnd::Interrupted;
                    break;
                }
                end = train_run(&dir, &runs, i, &bar, offset)?;
                if let RunEnd::Interrupted = end {
                    break;
                }
                offset += runs[i].args.steps;
            }
            bar.finish_and_clear();
            end
        }
    };
    if let RunEnd::Interrupted = ended {
        return Ok(crate::train::interrupt::EXIT_CODE);
    }
    // The report only when every run of the plan is finished (here or by another process).
    let mut dirs = Vec::new();
    let mut pending = Vec::new();
    for r in &runs {
        let run_dir = dir.join("runs").join(&r.name);
        match found(&run_dir) {
            Found::Done => dirs.push(run_dir),
            Found::Held(holder) => pending.push(format!("{} (trained by {holder})", r.name)),
            _ => pending.push(format!("{} (not trained)", r.name)),
        }
    }
    if !pending.is_empty() {
        eprintln!(
            "comparison {}: {} of {} runs are not finished yet: {}. The process that finishes \
             the last of them writes the report (or rerun this command when they are done).",
            dir.display(),
            pending.len(),
            runs.len(),
            pending.join(", ")
        );
        return Ok(0);
    }
    // One report writer at a time; a second finds the first writing the same report.
    let _writing = match RunLock::acquire(&dir) {
        Ok(l) => l,
        Err(LockError::Held { holder, .. }) => {
            eprintln!(
                "comparison {}: {holder} is writing its report",
                dir.display()
            );
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
    };
    let (html, verdicts) = crate::report::build(&dirs, &dir, &args.spec())?;
    for v in &verdicts {
        eprintln!("verdict: {}", v.conclusion);
    }
    eprintln!(
        "compared {} runs in {:.0} s; report: {}",
        runs.len(),
        started.elapsed().as_secs_f64(),
        html.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_claiming_one_new_folder_at_once_all_read_a_whole_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let identity = json!({
            "scenario": "baseline",
            "runs": ["a", "b"],
            "settings": identity_settings(&TrainSettings::default()),
        });
        let claimers: Vec<_> = (0..8)
            .map(|_| {
                let (dir, identity) = (dir.clone(), identity.clone());
                std::thread::spawn(move || claim(&dir, &identity))
            })
            .collect();
        for c in claimers {
            c.join().unwrap().unwrap();
        }
        let saved: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
        assert_eq!(saved, identity);
        // A folder holding something else is still refused.
        let other = tmp.path().join("other");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("notes.txt"), "mine").unwrap();
        let err = claim(&other, &identity).unwrap_err().to_string();
        assert!(err.contains("is not a gan compare folder"), "{err}");
    }

    #[test]
    fn a_comparison_saved_before_a_setting_existed_is_the_same_comparison() {
        let t = TrainSettings::default();
        let now = json!({"scenario": "baseline", "runs": ["a"], "settings": identity_settings(&t)});
        // An older gan wrote no disc_width, lr_d or lr_g.
        let mut old = now.clone();
        for k in ["disc_width", "lr_d", "lr_g"] {
            old["settings"].as_object_mut().unwrap().remove(k);
        }
        assert_ne!(old, now);
        assert_eq!(upgraded(old), now);
        // A real difference stays one.
        let mut other = now.clone();
        other["settings"]["steps"] = json!(7);
        assert_ne!(upgraded(other), now);
    }
}
