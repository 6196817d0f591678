//! What runs show a person: sample grids, progress animations, and the comparison report
//! (`gan report`, and the end of `gan compare`).

pub mod document;
pub mod groups;
pub mod paired;
pub mod plot;
pub mod runs;
pub mod stats;
pub mod trend;
pub mod verdict;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::metric::{Column, Metric, Take};
use crate::model::Act;
use document::Block;
use groups::Group;
use runs::Run;
use stats::MeanStd;

/// Builds the report of the runs in `dirs` into `out` (report.html, report.md, report.json,
/// plots/, media/); returns the path of report.html and the verdicts.
pub fn build(
    dirs: &[PathBuf],
    out: &Path,
    spec: &verdict::Spec,
) -> Result<(PathBuf, Vec<verdict::Verdict>)> {
    if dirs.is_empty() {
        bail!("no run directories to report on");
    }
    // The same run named twice (or by two paths) would count as two seeds.
    let mut seen = Vec::new();
    let mut unique = Vec::new();
    for d in dirs {
        let key = fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        if !seen.contains(&key) {
            seen.push(key);
            unique.push(d.clone());
        }
    }
    let dirs = &unique;
    let runs = dirs
        .iter()
        .map(|d| Run::load(d))
        .collect::<Result<Vec<_>>>()?;
    let groups = groups::group(runs);
    let stats: Vec<_> = groups.iter().map(Group::stats).collect();
    let verdicts = verdict::verdicts(&stats, spec);

    prepare_out(out)?;
    let mut blocks = vec![
        Block::Heading(1, "ReLU vs LeakyReLU in the discriminator".into()),
        Block::Para(
            format!(
                "{} runs in {} configurations; generated {} by gan {}.",
                dirs.len(),
                groups.len(),
                chrono::Local::now().format("%Y-%m-%d %H:%M"),
                env!("CARGO_PKG_VERSION")
            ),
            false,
        ),
        Block::Para(
            format!(
                "Primary metric, named before the runs: {}. Equivalence margin: ±{:.0}% of \
                 relu's value. Runs of one seed are paired (same initial weights, data order and \
                 noise): each effect is leaky − relu per seed, with a 95% bootstrap interval, an \
                 exact sign-flip permutation p (all 2^n sign patterns up to 16 seeds) and d_z; \
                 secondary metrics' p-values are Holm-corrected; rows marked as mechanism differ \
                 by definition (ReLU's derivative is exactly 0 for z ≤ 0) and are not evidence \
                 of harm.",
                spec.primary.0.key(spec.primary.1),
                100.0 * spec.margin
            ),
            false,
        ),
        Block::Heading(2, "Verdict".into()),
    ];
    for (k, v) in verdicts.iter().enumerate() {
        if verdicts.len() > 1 {
            blocks.push(Block::Heading(3, v.title.clone()));
        }
        blocks.push(Block::Para(v.conclusion.clone(), true));
        // Every seed of the primary metric, relu and leaky joined per seed.
        if let Some(p) = v.rows.iter().find(|r| r.primary && !r.pairs.is_empty()) {
            let file = format!("plots/paired-{k}-{}.svg", p.column.name());
            let title = format!("{} per seed (lines join a seed's runs)", p.heading);
            if plot::paired_lines(&out.join(&file), &title, &v.arms, &p.pairs)? {
                blocks.push(Block::Images(vec![(file, title)]));
            }
        }
        if !v.rows.is_empty() {
            blocks.push(Block::Table(
                vec![
                    "metric".into(),
                    "role".into(),
                    v.arms[0].clone(),
                    v.arms[1].clone(),
                    format!("Δ = {} − {} [95% CI]", v.arms[1], v.arms[0]),
                    "p".into(),
                    "p judged".into(),
                    "d_z".into(),
                    "outcome".into(),
                ],
                v.rows
                    .iter()
                    .map(|r| {
                        let m = r.column.metric;
                        let role = match (r.primary, m.differs_by_definition()) {
                            (true, _) => "primary",
                            (false, true) => "mechanism (by definition)",
                            (false, false) if m == crate::metric::Metric::StepMs => "cost",
                            (false, false) => "secondary (Holm)",
                        };
                        let opt = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3}"));
                        vec![
                            r.heading.clone(),
                            role.into(),
                            format!("{:.4}", r.c.mean_a),
                            format!("{:.4}", r.c.mean_b),
                            match r.c.ci {
                                Some((lo, hi)) => format!("{:.4} [{lo:.4}, {hi:.4}]", r.c.diff),
                                None => format!("{:.4}", r.c.diff),
                            },
                            opt(r.c.p),
                            opt(r.p_judged),
                            opt(r.c.effect),
                            r.outcome_words(),
                        ]
                    })
                    .collect(),
            ));
        }
        blocks.push(Block::Bullets(v.findings.clone()));
    }

    // The table: metrics any group has, mean ± std over seeds.
    let shown: Vec<_> = groups::table()
        .into_iter()
        .filter(|m| stats.iter().any(|s| s.metrics.contains_key(&m.key())))
        .collect();
    let mut header = vec![
        "configuration".to_string(),
        "runs".into(),
        "diverged".into(),
    ];
    header.extend(shown.iter().map(|m| m.cell.heading.to_string()));
    let rows = stats
        .iter()
        .map(|s| {
            let mut row = vec![s.label.clone(), s.runs.to_string(), s.diverged.to_string()];
            row.extend(shown.iter().map(|m| match s.metrics.get(&m.key()) {
                Some(v) => v.show(m.cell.digits),
                None => "–".into(),
            }));
            row
        })
        .collect();
    blocks.push(Block::Heading(
        2,
        "Final metrics (mean ± std over seeds)".into(),
    ));
    blocks.push(Block::Para(
        "Means are over a run's logged steps; final values are at its last step. Diverged runs are \
         counted, not averaged. Quality columns come from --eval-every."
            .into(),
        false,
    ));
    blocks.push(Block::Table(header, rows));

    // Cost: step_ms leaves out sampling, checkpoints and quality measurement.
    let cost_key = Metric::StepMs.key(Take::Mean);
    let cost = |s: &groups::GroupStats| s.metrics.get(&cost_key).copied();
    let base = |setting: &str| {
        stats
            .iter()
            .find(|s| s.act == Act::Relu && s.setting == setting)
            .and_then(cost)
    };
    blocks.push(Block::Heading(2, "Cost per training step".into()));
    blocks.push(Block::Table(
        vec![
            "configuration".into(),
            "ms/step".into(),
            "vs relu".into(),
            "backend".into(),
        ],
        stats
            .iter()
            .zip(&groups)
            .map(|(s, g)| {
                let c = cost(s);
                let mut backends: Vec<String> = g
                    .runs
                    .iter()
                    .map(|r| {
                        let threads = r
                            .args
                            .threads
                            .map(|t| format!(", {t} threads"))
                            .unwrap_or_default();
                        format!("{:?}{threads}", r.args.backend).to_lowercase()
                    })
                    .collect();
                backends.sort();
                backends.dedup();
                vec![
                    s.label.clone(),
                    c.map(|c| c.show(0)).unwrap_or("–".into()),
                    match (c, base(&s.setting)) {
                        (Some(c), Some(b)) => format!("{:+.1}%", 100.0 * (c.mean / b.mean - 1.0)),
                        _ => "–".into(),
                    },
                    backends.join(" + "),
                ]
            })
            .collect(),
    ));

    // Curves.
    blocks.push(Block::Heading(
        2,
        "Training curves (mean, band = ± std over seeds)".into(),
    ));
    // The totals, each followed by its layers (every layer any run has, in order).
    let mut layer_columns: Vec<Column> = groups
        .iter()
        .flat_map(|g| &g.runs)
        .flat_map(|r| r.columns.iter().filter_map(|c| Column::parse(c)))
        .filter(|c| c.layer.is_some() && c.metric.shown().layer_curve.is_some())
        .collect();
    layer_columns.sort();
    layer_columns.dedup();
    let mut curves: Vec<(String, String, String)> = Vec::new();
    for m in Metric::ALL {
        let shown = m.shown();
        if let Some((title, y)) = shown.curve {
            curves.push((m.name().to_string(), title.to_string(), y.to_string()));
        }
        if let Some(title) = shown.layer_curve {
            for c in layer_columns.iter().filter(|c| c.metric == m) {
                let layer = crate::metric::layer_name(c.layer.unwrap_or(0));
                curves.push((c.name(), format!("{title} {layer}"), "fraction".into()));
            }
        }
    }
    let mut plots = Vec::new();
    for (column, title, y) in &curves {
        let bands: Vec<plot::Band> = groups
            .iter()
            .map(|g| (g.label.clone(), g.band(column)))
            .collect();
        let file = format!("plots/{column}.svg");
        if plot::band_chart(&out.join(&file), title, y, &bands)? {
            plots.push((file, title.clone()));
        }
    }
    for pair in plots.chunks(2) {
        blocks.push(Block::Images(pair.to_vec()));
    }

    // Samples and animations, copied beside the report so the folder stands alone.
    blocks.push(Block::Heading(
        2,
        "Final samples (runs of the same seed share their sample noise)".into(),
    ));
    let mut gifs = Vec::new();
    let mut index = 0;
    for g in &groups {
        let mut grids = Vec::new();
        for r in &g.runs {
            index += 1;
            let caption = format!("{} · seed {}", g.label, r.args.seed);
            if let Some(src) = copy_media(&r.final_grid(), out, index, &r.name, "final.png")? {
                grids.push((src, caption.clone()));
            }
            if let Some(src) = copy_media(&r.progress_gif(), out, index, &r.name, "progress.gif")? {
                gifs.push((src, caption));
            }
        }
        blocks.push(Block::Heading(3, g.label.clone()));
        blocks.push(Block::Images(grids));
    }
    blocks.push(Block::Heading(
        2,
        "Progress (sample grids over training)".into(),
    ));
    blocks.push(Block::Images(gifs));

    blocks.push(Block::Heading(2, "Runs".into()));
    blocks.push(Block::Table(
        [
            "run",
            "configuration",
            "seed",
            "steps",
            "status",
            "wall s",
            "ms/step",
            "directory",
        ]
        .map(String::from)
        .to_vec(),
        groups
            .iter()
            .flat_map(|g| {
                g.runs.iter().map(|r| {
                    vec![
                        r.name.clone(),
                        g.label.clone(),
                        r.args.seed.to_string(),
                        format!("{}/{}", r.summary.steps, r.summary.planned_steps),
                        format!("{:?}", r.summary.status).to_lowercase(),
                        format!("{:.1}", r.summary.wall_seconds),
                        format!("{:.0}", r.summary.ms_per_step),
                        r.dir().display().to_string(),
                    ]
                })
            })
            .collect(),
    ));

    let title = "gan report: ReLU vs LeakyReLU";
    write(&out.join("report.md"), &document::markdown(&blocks))?;
    let html_path = out.join("report.html");
    write(&html_path, &document::html(title, &blocks))?;
    let machine = json!({
        "groups": stats.iter().map(|s| json!({
            "label": s.label,
            "setting": s.setting,
            "runs": s.runs,
            "diverged": s.diverged,
            "metrics": s.metrics.iter().map(|(k, v)| (k.clone(), show_json(v))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "primary": spec.primary.0.key(spec.primary.1),
        "margin": spec.margin,
        "verdicts": verdicts.iter().map(|v| json!({
            "title": v.title, "conclusion": v.conclusion, "findings": v.findings,
            "arms": v.arms,
            "headline": v.headline.as_ref().map(|(effect, outcome)| json!({
                "effect": effect,
                "outcome": format!("{outcome:?}").to_lowercase(),
            })),
            "comparisons": v.rows.iter().map(|r| json!({
                "metric": r.column.key(r.take),
                "primary": r.primary,
                "paired": r.c.paired,
                "n": r.c.n,
                "relu": r.c.mean_a,
                "leaky": r.c.mean_b,
                "diff": r.c.diff,
                "ci": r.c.ci.map(|(lo, hi)| [lo, hi]),
                "p": r.c.p,
                "p_judged": r.p_judged,
                "effect": r.c.effect,
                "margin": r.margin,
                "p_tost": r.p_tost,
                "outcome": format!("{:?}", r.outcome).to_lowercase(),
                "seeds_needed": r.seeds_needed,
                "runs_needed": r.runs_needed,
                "pairs": r.pairs,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "runs": dirs,
    });
    write(
        &out.join("report.json"),
        &(serde_json::to_string_pretty(&machine)? + "\n"),
    )?;
    Ok((html_path, verdicts))
}

fn show_json(v: &MeanStd) -> serde_json::Value {
    json!({"mean": v.mean, "std": v.std, "n": v.n})
}

/// Copies a run's image into `out/media/`; None (and nothing shown) when the run has none.
fn copy_media(
    src: &Path,
    out: &Path,
    index: usize,
    run: &str,
    what: &str,
) -> Result<Option<String>> {
    if !src.is_file() {
        return Ok(None);
    }
    // Safe in a URL and a Markdown link whatever the run folder is called.
    let run: String = run
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "._-".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    let rel = format!("media/{index:02}-{run}-{what}");
    fs::copy(src, out.join(&rel))
        .with_context(|| format!("copying {} into the report", src.display()))?;
    Ok(Some(rel))
}

/// Makes `out` ready for a report: a new or empty folder, or an earlier report's (whose plots
/// and media are cleared so none are left stale); anything else is refused.
fn prepare_out(out: &Path) -> Result<()> {
    let earlier = out.join("report.json").is_file();
    let empty = fs::read_dir(out)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true);
    // A compare folder holds its runs and compare.json beside the report.
    let compare = out.join("compare.json").is_file();
    if out.exists() && !empty && !earlier && !compare {
        bail!(
            "{} exists and holds something other than a gan report; give another --out",
            out.display()
        );
    }
    for sub in ["plots", "media"] {
        let dir = out.join(sub);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `gan report`: the report of existing run directories.
/// What `gan report` reports on.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run directories to compare.
    pub runs: Vec<PathBuf>,
    /// Folder for the report (None: outputs/report-<timestamp>).
    pub out: Option<PathBuf>,
    /// The primary metric and equivalence margin.
    pub spec: verdict::Spec,
}

/// `gan report`: builds the report of `args.runs`; returns the path of report.html.
pub fn run(args: &Options) -> Result<PathBuf> {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => PathBuf::from("outputs").join(format!(
            "report-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        )),
    };
    let (html, _) = build(&args.runs, &out, &args.spec)?;
    eprintln!("report: {}", html.display());
    Ok(html)
}
