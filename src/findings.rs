//! `gan findings`: every scenario's comparison (trained or reused), each clear result
//! replicated on a disjoint seed range, and one page that lists them all.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::compare::{self, Mode, scenario::Scenario};
use crate::metric::{Column, Take};
use crate::model::Act;
use crate::report::document::{self, Block};
use crate::run::RunDir;
use crate::settings::{Given, Key, TrainSettings};
use crate::train::interrupt::EXIT_CODE;

/// What `gan findings` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenarios, in page order.
    pub scenarios: Vec<Scenario>,
    /// Seeds per configuration (None: each scenario's default).
    pub seeds: Option<u32>,
    /// The primary metric of every comparison (None: each scenario's own).
    pub primary: Option<(Column, Take)>,
    /// A replication's seeds start this far above the first comparison's.
    pub replication_offset: u64,
    /// Worker processes per comparison (1: in this process).
    pub jobs: usize,
    /// Training settings shared by every comparison (`out` is the findings folder).
    pub train: TrainSettings,
    /// The training settings given explicitly (scenarios leave them as given).
    pub given: Given,
}

/// One comparison's lead result, read from its report.json.
#[derive(Debug, Clone)]
struct Lead {
    /// The lead verdict's title (the interaction, the trend or relu vs leaky).
    title: String,
    /// Its one-line effect and outcome (None: nothing judged).
    effect: Option<(String, String)>,
    /// Its conclusion.
    conclusion: String,
    /// The primary's per-seed plot, relative to the findings folder.
    plot: Option<String>,
    /// Seeds compared.
    seeds: usize,
    /// Training wall time of its runs, seconds.
    train_seconds: f64,
}

/// One row of the page.
struct Finding {
    scenario: Scenario,
    primary: String,
    first: Lead,
    replication: Option<Lead>,
}

/// `gan findings`: returns the exit status (non-zero when a comparison was interrupted).
pub fn run(opts: &Options) -> Result<u8> {
    let out = opts.train.out.clone();
    check_out(&out)?;
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut rows = Vec::new();
    for &s in &opts.scenarios {
        let Some(first) = comparison(opts, s, opts.train.seed, s.name())? else {
            return Ok(EXIT_CODE);
        };
        // A clear result counts only when fresh seeds show it again.
        let replication = match first.effect.as_ref().map(|e| e.1.as_str()) {
            Some("different") => {
                let seed = opts
                    .train
                    .seed
                    .checked_add(opts.replication_offset)
                    .context("--seed + --replication-offset overflows")?;
                let name = format!("{}-replication", s.name());
                let Some(lead) = comparison(opts, s, seed, &name)? else {
                    return Ok(EXIT_CODE);
                };
                Some(lead)
            }
            _ => None,
        };
        let (m, t) = opts.primary.unwrap_or(s.primary());
        rows.push(Finding {
            scenario: s,
            primary: m.key(t),
            first,
            replication,
        });
    }
    let page = write_page(&out, &rows)?;
    eprintln!("findings: {}", page.display());
    Ok(0)
}

/// Refuses an `out` that holds something other than findings (a new or empty folder, or an
/// earlier findings page's, is fine: its comparisons are continued, finished runs reused).
fn check_out(out: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(out) else {
        return Ok(());
    };
    let mut entries = entries.filter_map(|e| e.ok()).peekable();
    if entries.peek().is_none() || out.join("findings.json").is_file() {
        return Ok(());
    }
    let ours = entries.all(|e| e.path().join("compare.json").is_file());
    if !ours {
        bail!(
            "{} exists and holds something other than gan findings; give another --out",
            out.display()
        );
    }
    Ok(())
}

/// Runs (or continues) scenario `s` on seeds from `seed` in `<out>/<folder>`; its lead result,
/// or None when it was interrupted.
fn comparison(opts: &Options, s: Scenario, seed: u64, folder: &str) -> Result<Option<Lead>> {
    let dir = opts.train.out.join(folder);
    let given = Given::of(opts.given.iter().chain([Key::Out]));
    let seeds = opts.seeds.unwrap_or(compare::scenario::default_seeds(s));
    let train = TrainSettings {
        out: dir.clone(),
        seed,
        ..opts.train.clone()
    };
    // The same comparison as a `gan compare` command, for its worker processes.
    let mut command = vec![compare::workers::program()];
    command.extend(["compare", "--scenario", s.name()].map(String::from));
    command.extend(["--seeds".to_string(), seeds.to_string()]);
    if let Some((column, take)) = opts.primary {
        command.extend(["--primary".to_string(), column.key(take)]);
    }
    command.extend(train.flags(Given::of(given.iter().chain([Key::Seed])).iter()));
    let args = compare::Options {
        acts: vec![Act::Relu, Act::Leaky],
        alphas: Vec::new(),
        seeds,
        scenario: s,
        train,
        given,
        command,
        primary: opts.primary,
        margin: 0.1,
        mode: match opts.jobs {
            n if n > 1 => Mode::Jobs(n),
            _ => Mode::Sequential,
        },
    };
    eprintln!("== {folder}: {}", s.about());
    match compare::run(&args)? {
        0 => Ok(Some(read_lead(&dir, folder)?)),
        _ => Ok(None),
    }
}

/// The lead verdict of the report in `dir` (the folder `folder` of the findings).
fn read_lead(dir: &Path, folder: &str) -> Result<Lead> {
    let path = dir.join("report.json");
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (a comparison whose runs other processes still train has no report yet)",
            path.display()
        )
    })?;
    let r: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let v = &r["verdicts"][0];
    let effect = v["headline"].as_object().map(|h| {
        (
            h["effect"].as_str().unwrap_or("").to_string(),
            h["outcome"].as_str().unwrap_or("").to_string(),
        )
    });
    let seeds = v["comparisons"][0]["n"].as_u64().unwrap_or(0) as usize;
    let plot = fs::read_dir(dir.join("plots")).ok().and_then(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("paired-0-"))
            .map(|n| format!("{folder}/plots/{n}"))
    });
    let train_seconds = r["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .filter_map(|d| {
                    let run = RunDir::open(Path::new(d.as_str()?), "run").ok()?;
                    Some(run.summary().ok()??.wall_seconds)
                })
                .sum()
        })
        .unwrap_or(0.0);
    Ok(Lead {
        title: v["title"].as_str().unwrap_or("").to_string(),
        effect,
        conclusion: v["conclusion"].as_str().unwrap_or("").to_string(),
        plot,
        seeds,
        train_seconds,
    })
}

/// Writes findings.md, findings.html and findings.json; returns the HTML's path.
fn write_page(out: &Path, rows: &[Finding]) -> Result<PathBuf> {
    let cell = |l: &Lead| match &l.effect {
        Some((effect, outcome)) => format!("{outcome}: {effect}"),
        None => "not judged".into(),
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|f| {
            vec![
                format!("[{0}]({0}/report.html)", f.scenario.name()),
                f.primary.clone(),
                f.first.title.clone(),
                cell(&f.first),
                match &f.replication {
                    Some(r) => cell(r),
                    None => "– (not clear: nothing to replicate)".into(),
                },
                match &f.replication {
                    Some(_) => format!("[report]({}-replication/report.html)", f.scenario.name()),
                    None => "–".into(),
                },
                format!(
                    "{:.0}",
                    f.first.train_seconds + f.replication.as_ref().map_or(0.0, |r| r.train_seconds)
                ),
            ]
        })
        .collect();
    let mut blocks = vec![
        Block::Heading(1, "Findings: ReLU vs LeakyReLU in the discriminator".into()),
        Block::Para(
            format!(
                "Generated {} by gan {}. Each scenario's primary metric was named before it ran; \
                 a result called different is rerun on a disjoint seed range, and is a finding \
                 only if the replication agrees. Training time is the sum of the runs' wall \
                 times on this machine (quality measurement included).",
                chrono::Local::now().format("%Y-%m-%d %H:%M"),
                env!("CARGO_PKG_VERSION")
            ),
            false,
        ),
        Block::Table(
            [
                "scenario",
                "primary",
                "lead comparison",
                "result",
                "replication",
                "replication report",
                "training s",
            ]
            .map(String::from)
            .to_vec(),
            table,
        ),
    ];
    for f in rows {
        blocks.push(Block::Heading(2, f.scenario.name().into()));
        blocks.push(Block::Para(f.scenario.about().into(), false));
        blocks.push(Block::Para(f.first.conclusion.clone(), true));
        if let Some(r) = &f.replication {
            blocks.push(Block::Para(format!("Replication: {}", r.conclusion), true));
        }
        let plots: Vec<(String, String)> = [Some(&f.first), f.replication.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|l| Some((l.plot.clone()?, format!("{} per seed", f.primary))))
            .collect();
        if !plots.is_empty() {
            blocks.push(Block::Images(plots));
        }
    }
    write(&out.join("findings.md"), &document::markdown(&blocks))?;
    let html = out.join("findings.html");
    write(&html, &document::html("gan findings", &blocks))?;
    let lead = |l: &Lead| {
        json!({
            "title": l.title,
            "effect": l.effect.as_ref().map(|e| &e.0),
            "outcome": l.effect.as_ref().map(|e| &e.1),
            "conclusion": l.conclusion,
            "seeds": l.seeds,
            "train_seconds": l.train_seconds,
        })
    };
    let machine = json!({
        "findings": rows.iter().map(|f| json!({
            "scenario": f.scenario.name(),
            "primary": f.primary,
            "result": lead(&f.first),
            "replication": f.replication.as_ref().map(lead),
        })).collect::<Vec<_>>(),
    });
    write(
        &out.join("findings.json"),
        &(serde_json::to_string_pretty(&machine)? + "\n"),
    )?;
    Ok(html)
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
