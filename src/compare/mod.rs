//! `gan compare`: every configuration × seed trained in turn with the same data order and noise
//! per seed, resumable by rerunning, then the report.

pub mod scenario;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cli::{Act, CompareArgs, TrainArgs};
use crate::train::summary::{Status, Summary};
use crate::train::{self, Outcome, PlanBar, checkpoint};

/// One run of the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Folder name under `<out>/runs/`.
    pub name: String,
    /// Its complete settings.
    pub args: TrainArgs,
}

/// Training flags that `gan compare` sets per run itself.
const PER_RUN: [(&str, &str); 4] = [
    ("disc_act", "--acts"),
    ("name", "the run names it makes"),
    ("resume", "rerunning the same gan compare command"),
    ("seed", ""),
];

/// The comparison's folder and its runs, in training order (seed-major, so an early stop still
/// leaves complete seeds to compare).
pub fn plan(args: &CompareArgs) -> Result<(PathBuf, Vec<Planned>)> {
    let given = |id: &str| args.train.explicit.iter().any(|e| e == id);
    for (id, instead) in PER_RUN {
        if given(id) && !instead.is_empty() {
            bail!(
                "--{} is set per run by gan compare; use {instead}",
                id.replace('_', "-")
            );
        }
    }
    let mut base = args.train.clone();
    scenario::apply(args.scenario, &mut base);
    let dir = match given("out") {
        true => args.train.out.clone(),
        false => args
            .train
            .out
            .join(format!("compare-{}", args.scenario.name())),
    };
    base.out = dir.join("runs");
    base.quiet = true;
    base.explicit.clear();
    let alphas = match args.alphas.is_empty() {
        true => vec![args.train.alpha],
        false => args.alphas.clone(),
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
    let mut runs = Vec::new();
    for k in 0..args.seeds as u64 {
        let seed = args
            .train
            .seed
            .checked_add(k)
            .context("--seed + --seeds overflows")?;
        for &(act, alpha) in &configs {
            let label = match act {
                Act::Relu => "relu".to_string(),
                Act::Leaky => format!("leaky{alpha}"),
            };
            let name = format!("{label}-s{seed}");
            let mut a = base.clone();
            a.disc_act = act;
            a.alpha = alpha;
            a.seed = seed;
            a.name = Some(name.clone());
            runs.push(Planned { name, args: a });
        }
    }
    Ok((dir, runs))
}

/// The settings that identify a comparison (what a rerun must repeat to continue it).
fn identity(args: &CompareArgs, runs: &[Planned]) -> Value {
    let mut settings = serde_json::to_value(&runs[0].args).expect("settings serialise");
    if let Some(o) = settings.as_object_mut() {
        // Per run, or free to change between sessions.
        for k in [
            "disc_act", "alpha", "seed", "name", "out", "quiet", "threads", "backend", "device",
        ] {
            o.remove(k);
        }
    }
    json!({
        "scenario": args.scenario,
        "runs": runs.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        "settings": settings,
    })
}

/// Refuses a folder that holds a different comparison; records this one in a new folder.
fn claim(dir: &Path, identity: &Value) -> Result<()> {
    let path = dir.join("compare.json");
    if path.is_file() {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let saved: Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
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
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not a gan compare folder; give another --out",
            dir.display()
        );
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::write(&path, serde_json::to_string_pretty(identity)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Whether any run of the comparison in `dir` has written a summary or checkpoint.
fn started_any(dir: &Path) -> bool {
    fs::read_dir(dir.join("runs"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| matches!(found(&e.path()), Found::Done | Found::Resumable))
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
}

fn found(dir: &Path) -> Found {
    if !dir.exists() {
        return Found::Nothing;
    }
    let summary: Option<Summary> = fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    match summary.map(|s| s.status) {
        Some(Status::Finished | Status::Diverged) => Found::Done,
        _ if checkpoint::latest(dir).is_some() => Found::Resumable,
        _ => Found::Unusable,
    }
}

/// `gan compare`: trains what is missing, then writes the report; returns the exit status.
pub fn run(args: &CompareArgs) -> Result<u8> {
    let (dir, runs) = plan(args)?;
    for r in &runs {
        train::validate(&r.args)?;
    }
    claim(&dir, &identity(args, &runs))?;
    eprintln!(
        "comparison {} ({}): {} runs of {} steps; {}",
        dir.display(),
        args.scenario.name(),
        runs.len(),
        runs[0].args.steps,
        scenario::purpose(args.scenario)
    );
    let stop = crate::train::interrupt::StopFlag::install()?;
    let started = Instant::now();
    let total: u64 = runs.iter().map(|r| r.args.steps).sum();
    let bar = PlanBar::bar(total);
    let mut offset = 0;
    let mut dirs = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let run_dir = dir.join("runs").join(&r.name);
        let plan_bar = PlanBar {
            bar: bar.clone(),
            offset,
            label: r.name.clone(),
        };
        offset += r.args.steps;
        let tag = format!("[{}/{}] {}", i + 1, runs.len(), r.name);
        // A Ctrl-C between runs (or during the last one's ending) stops before the next.
        if stop.requested() {
            bar.finish_and_clear();
            eprintln!(
                "comparison interrupted before {}; rerun the same command to continue (finished runs are reused)",
                r.name
            );
            return Ok(crate::train::interrupt::EXIT_CODE);
        }
        let mut a = r.args.clone();
        match found(&run_dir) {
            Found::Done => {
                plan_bar.println(&format!("{tag}: reusing the finished run"));
                bar.set_position(offset);
                dirs.push(run_dir);
                continue;
            }
            Found::Resumable => {
                plan_bar.println(&format!("{tag}: resuming from its checkpoint"));
                a.resume = Some(run_dir.clone());
            }
            Found::Unusable => {
                // Stopped before its first checkpoint: nothing in it can be continued.
                fs::remove_dir_all(&run_dir)
                    .with_context(|| format!("removing the unfinished {}", run_dir.display()))?;
                plan_bar.println(&format!(
                    "{tag}: restarting (stopped before any checkpoint)"
                ));
            }
            Found::Nothing => plan_bar.println(&format!("{tag}: training")),
        }
        let t = Instant::now();
        match train::run_in_plan(&a, Some(plan_bar.clone())) {
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
                return Ok(crate::train::interrupt::EXIT_CODE);
            }
            // A diverged run is a result (the report counts it); other errors stop the plan.
            Err(_) if found(&run_dir) == Found::Done => {
                plan_bar.println(&format!(
                    "{tag}: diverged (a NaN or infinite loss); the report counts it"
                ));
            }
            Err(e) => {
                bar.finish_and_clear();
                return Err(e.context(format!("training {}", r.name)));
            }
        }
        dirs.push(run_dir);
    }
    bar.finish_and_clear();
    let (html, verdicts) = crate::report::build(&dirs, &dir)?;
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
