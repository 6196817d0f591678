//! What runs show a person: sample grids, progress animations, and the comparison report
//! (`gan report`, and the end of `gan compare`).

pub mod document;
pub mod gif;
pub mod grid;
pub mod groups;
pub mod plot;
pub mod runs;
pub mod stats;
pub mod verdict;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

use document::Block;
use groups::{Group, METRICS};
use runs::Run;
use stats::MeanStd;

/// Curves over steps the report plots, when the runs have them: column, title, y axis.
const CURVES: &[(&str, &str, &str)] = &[
    (
        "d_grad_zero",
        "Discriminator gradient zeros (all layers)",
        "fraction exactly 0",
    ),
    (
        "d_dead_units_persistent",
        "Persistently dead units (all layers)",
        "fraction of units",
    ),
    (
        "g_signal_norm",
        "Generator's learning signal ‖dL_G/dx‖",
        "mean L2 norm",
    ),
    ("loss_d", "Discriminator loss", "BCE"),
    ("loss_g", "Generator loss", "BCE"),
    (
        "eval_fd",
        "Fréchet distance (evaluator features)",
        "FD (lower is better)",
    ),
    (
        "eval_precision",
        "Precision (k-NN manifold)",
        "share of samples",
    ),
    (
        "eval_recall",
        "Recall (k-NN manifold)",
        "share of real images",
    ),
    ("eval_class_coverage", "Class coverage", "share of classes"),
    (
        "eval_mmd_pixel",
        "Pixel-space MMD²",
        "MMD² (lower is better)",
    ),
];

/// Builds the report of the runs in `dirs` into `out` (report.html, report.md, report.json,
/// plots/, media/); returns the path of report.html and the verdicts.
pub fn build(dirs: &[PathBuf], out: &Path) -> Result<(PathBuf, Vec<verdict::Verdict>)> {
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
    let verdicts = verdict::verdicts(&stats);

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
        Block::Heading(2, "Verdict".into()),
    ];
    for v in &verdicts {
        if verdicts.len() > 1 {
            blocks.push(Block::Heading(3, v.title.clone()));
        }
        blocks.push(Block::Para(v.conclusion.clone(), true));
        blocks.push(Block::Bullets(v.findings.clone()));
    }

    // The table: metrics any group has, mean ± std over seeds.
    let shown: Vec<_> = METRICS
        .iter()
        .filter(|m| stats.iter().any(|s| s.metrics.contains_key(&m.key())))
        .collect();
    let mut header = vec![
        "configuration".to_string(),
        "runs".into(),
        "diverged".into(),
    ];
    header.extend(shown.iter().map(|m| m.heading.to_string()));
    let rows = stats
        .iter()
        .map(|s| {
            let mut row = vec![s.label.clone(), s.runs.to_string(), s.diverged.to_string()];
            row.extend(shown.iter().map(|m| match s.metrics.get(&m.key()) {
                Some(v) => v.show(m.digits),
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
    let cost = |s: &groups::GroupStats| s.metrics.get("step_ms:mean").copied();
    let base = |setting: &str| {
        stats
            .iter()
            .find(|s| s.act == crate::cli::Act::Relu && s.setting == setting)
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
    let mut curves: Vec<(String, String, String)> = CURVES
        .iter()
        .map(|(c, t, y)| (c.to_string(), t.to_string(), y.to_string()))
        .collect();
    // Per-layer sparsity and dead units (every layer any run has), after the totals.
    let mut layer_columns: Vec<String> = Vec::new();
    for r in groups.iter().flat_map(|g| &g.runs) {
        for c in &r.columns {
            let per_layer =
                c.starts_with("d_grad_zero_") || c.starts_with("d_dead_units_persistent_");
            if per_layer && !layer_columns.contains(c) {
                layer_columns.push(c.clone());
            }
        }
    }
    // Grouped by metric, layers in order (h1, h2, ..., h10).
    layer_columns.sort_by_key(|c| {
        let (what, layer) = c.rsplit_once('_').unwrap_or((c, ""));
        let n: usize = layer.trim_start_matches('h').parse().unwrap_or(0);
        (what != "d_grad_zero", n)
    });
    for (i, c) in layer_columns.iter().enumerate() {
        let (what, layer) = c.rsplit_once('_').unwrap_or((c, ""));
        let title = match what {
            "d_grad_zero" => format!("Gradient zeros, layer {layer}"),
            _ => format!("Persistently dead units, layer {layer}"),
        };
        curves.insert(2 + i, (c.clone(), title, "fraction".into()));
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
                        r.dir.display().to_string(),
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
        "verdicts": verdicts.iter().map(|v| json!({
            "title": v.title, "conclusion": v.conclusion, "findings": v.findings,
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
pub fn run(args: &crate::cli::ReportArgs) -> Result<PathBuf> {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => PathBuf::from("outputs").join(format!(
            "report-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        )),
    };
    let (html, _) = build(&args.runs, &out)?;
    eprintln!("report: {}", html.display());
    Ok(html)
}
