//! End-to-end tests of `gan compare` and `gan report` on tiny runs: the report's content, its
//! numbers against the runs' summaries, resuming an interrupted plan, and the refusals.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{assert_clean_error, assert_ok, gan};

/// Flags of a comparison small enough for a test.
fn tiny(out: &Path) -> Vec<String> {
    [
        "compare",
        "--out",
        out.to_str().unwrap(),
        "--arch",
        "mlp",
        "--seeds",
        "2",
        "--steps",
        "6",
        "--log-every",
        "2",
        "--dataset-size",
        "200",
        "--batch-size",
        "8",
        "--eval-samples",
        "50",
    ]
    .map(String::from)
    .to_vec()
}

fn run(args: &[String]) -> std::process::Output {
    gan(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Relative image paths a report references: `src="…"` in HTML, `](…)` in Markdown.
fn referenced(text: &str, open: &str, close: char) -> Vec<String> {
    text.split(open)
        .skip(1)
        .map(|rest| rest.split(close).next().unwrap().to_string())
        .collect()
}

/// Runs scripts/check-report.sh when Chromium is installed (always under CI).
fn check_in_browser(html: &Path) -> Option<std::process::Output> {
    let have = Command::new("sh")
        .args(["-c", "command -v chromium || command -v chromium-browser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("GAN_CI").is_none(),
            "CI must install chromium"
        );
        eprintln!("chromium not installed: browser check skipped");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-report.sh");
    Some(Command::new("bash").arg(script).arg(html).output().unwrap())
}

#[test]
fn compare_writes_a_full_report_whose_numbers_are_the_runs_summaries() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let o = run(&tiny(&out));
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("verdict: ") && err.contains("report: "),
        "{err}"
    );

    let md = fs::read_to_string(out.join("report.md")).unwrap();
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    for section in [
        "## Verdict",
        "## Final metrics",
        "## Cost per training step",
        "## Training curves",
        "## Final samples",
        "## Progress",
        "## Runs",
    ] {
        assert!(md.contains(section), "{section} missing from report.md");
        assert!(
            html.contains(&format!("<h2>{}", &section[3..])),
            "{section} missing from report.html"
        );
    }
    // Every image referenced exists, and there are plots, grids and animations among them.
    let html_images = referenced(&html, "src=\"", '"');
    let md_images = referenced(&md, "](", ')');
    assert_eq!(html_images, md_images);
    for img in &html_images {
        assert!(out.join(img).is_file(), "{img} referenced but missing");
    }
    for kind in [
        "plots/d_grad_zero.svg",
        "plots/eval_fd.svg",
        "-final.png",
        "-progress.gif",
    ] {
        assert!(
            html_images.iter().any(|i| i.contains(kind)),
            "no {kind} in {html_images:?}"
        );
    }
    assert_eq!(
        html_images
            .iter()
            .filter(|i| i.ends_with("-final.png"))
            .count(),
        4
    );

    // The table's numbers are the runs' summaries, averaged over seeds.
    let report = json(&out.join("report.json"));
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for (g, act) in groups.iter().zip(["relu", "leaky0.2"]) {
        let summaries: Vec<serde_json::Value> = [42, 43]
            .iter()
            .map(|s| json(&out.join(format!("runs/{act}-s{s}/summary.json"))))
            .collect();
        for (key, column, field) in [
            ("d_grad_zero:mean", "d_grad_zero", "mean"),
            ("eval_fd:last", "eval_fd", "last"),
            ("loss_d:last", "loss_d", "last"),
        ] {
            let values: Vec<f64> = summaries
                .iter()
                .map(|s| s["metrics"][column][field].as_f64().unwrap())
                .collect();
            let mean = values.iter().sum::<f64>() / 2.0;
            let got = g["metrics"][key]["mean"].as_f64().unwrap();
            assert!(
                (got - mean).abs() <= 1e-12 * mean.abs().max(1.0),
                "{act} {key}: {got} vs {mean}"
            );
            // And the table shows them.
            let std = ((values[0] - mean).powi(2) + (values[1] - mean).powi(2)).sqrt();
            let digits = if column == "eval_fd" { 2 } else { 3 };
            let cell = format!("{mean:.digits$} ± {std:.digits$}");
            assert!(md.contains(&cell), "{act} {key}: {cell} not in the table");
        }
        // The cost is step_ms's mean (sampling, checkpoints and evaluation left out).
        let ms: f64 = summaries
            .iter()
            .map(|s| s["metrics"]["step_ms"]["mean"].as_f64().unwrap())
            .sum::<f64>()
            / 2.0;
        let got = g["metrics"]["step_ms:mean"]["mean"].as_f64().unwrap();
        assert!((got - ms).abs() < 1e-9 * ms, "{got} vs {ms}");
    }
    // ReLU's gradients are sparse and LeakyReLU's are not: the verdict says so.
    let relu = groups[0]["metrics"]["d_grad_zero:mean"]["mean"]
        .as_f64()
        .unwrap();
    let leaky = groups[1]["metrics"]["d_grad_zero:mean"]["mean"]
        .as_f64()
        .unwrap();
    assert!(relu > 0.2 && leaky == 0.0, "{relu} {leaky}");
    // The verdict leads with the primary metric (final FD), paired over the two seeds, and
    // shows the sparsity as mechanism, not evidence of harm.
    assert_eq!(report["primary"], "eval_fd:last");
    let rows = report["verdicts"][0]["comparisons"].as_array().unwrap();
    assert_eq!(rows[0]["metric"], "eval_fd:last");
    assert_eq!(rows[0]["primary"], true);
    assert_eq!(rows[0]["paired"], true);
    assert_eq!(rows[0]["n"], 2);
    assert_eq!(rows[0]["pairs"].as_array().unwrap().len(), 2);
    // Two pairs can never reach p < 0.05 (the exact sign-flip p is at least 2/4).
    assert!(rows[0]["p"].as_f64().unwrap() >= 0.5);
    assert_ne!(rows[0]["outcome"], "different");
    let sparsity = rows
        .iter()
        .find(|r| r["metric"] == "d_grad_zero:mean")
        .unwrap();
    assert!(sparsity["diff"].as_f64().unwrap() < -0.2, "{sparsity}");
    let findings = report["verdicts"][0]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f
            .as_str()
            .unwrap()
            .starts_with("Mechanism (differs by definition) — D grad zeros")),
        "{findings:?}"
    );
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("plots/paired-0-eval_fd.svg"),
        "per-seed plot missing"
    );

    if let Some(o) = check_in_browser(&out.join("report.html")) {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // The check can fail: a report with an image gone.
        fs::remove_file(out.join(&html_images[0])).unwrap();
        let o = check_in_browser(&out.join("report.html")).unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("did not load"));
    }

    // A rerun reuses every finished run and trains nothing.
    let before = fs::read(out.join("runs/relu-s42/summary.json")).unwrap();
    let o = run(&tiny(&out));
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("reusing the finished run").count(), 4, "{err}");
    assert_eq!(
        fs::read(out.join("runs/relu-s42/summary.json")).unwrap(),
        before
    );

    // Other settings in the same folder are refused, and the folder is left alone.
    let mut other = tiny(&out);
    other[8] = "7".into(); // --steps
    let e = assert_clean_error(&run(&other), "changed --steps");
    assert!(
        e.contains("other settings") && e.contains("--steps 6 vs 7"),
        "{e}"
    );
    assert_eq!(
        fs::read(out.join("runs/relu-s42/summary.json")).unwrap(),
        before
    );
}

#[test]
fn report_merges_runs_made_by_hand_and_refuses_unfinished_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    for act in ["relu", "leaky"] {
        assert_ok(&gan(&[
            "--out",
            runs.to_str().unwrap(),
            "--name",
            act,
            "--quiet",
            "--disc-act",
            act,
            "--arch",
            "mlp",
            "--steps",
            "4",
            "--dataset-size",
            "64",
            "--batch-size",
            "8",
        ]));
    }
    let report = tmp.path().join("r");
    let dirs: Vec<PathBuf> = ["relu", "leaky"].iter().map(|a| runs.join(a)).collect();
    let o = gan(&[
        "report",
        dirs[0].to_str().unwrap(),
        dirs[1].to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let r = json(&report.join("report.json"));
    let labels: Vec<&str> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["relu", "leaky α=0.2"]);
    // No --eval-every: the primary metric (final FD) is missing and nothing is concluded.
    let conclusion = r["verdicts"][0]["conclusion"].as_str().unwrap();
    assert!(
        conclusion.starts_with("The primary metric (eval_fd:last) was not measured"),
        "{conclusion}"
    );

    // One layer's column as the primary: judged on that layer's values from the summaries.
    let by_layer = tmp.path().join("r-h1");
    assert_ok(&gan(&[
        "report",
        dirs[0].to_str().unwrap(),
        dirs[1].to_str().unwrap(),
        "--out",
        by_layer.to_str().unwrap(),
        "--primary",
        "d_dead_probe_h1:last",
    ]));
    let r = json(&by_layer.join("report.json"));
    assert_eq!(r["primary"], "d_dead_probe_h1:last");
    let row = &r["verdicts"][0]["comparisons"][0];
    assert_eq!(row["metric"], "d_dead_probe_h1:last");
    for (dir, arm) in dirs.iter().zip(["relu", "leaky"]) {
        let summary = json(&dir.join("summary.json"));
        assert_eq!(
            row[arm], summary["metrics"]["d_dead_probe_h1"]["last"],
            "{arm}"
        );
    }
    // A layer column of a metric without layers is refused as the flag's value (clap: exit 2).
    let o = gan(&[
        "report",
        dirs[0].to_str().unwrap(),
        "--primary",
        "eval_fd_h1",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("'eval_fd_h1' is not a metric") && !e.contains("panicked"),
        "{e}"
    );

    let e = assert_clean_error(&gan(&["report", "/nonexistent/run"]), "missing run");
    assert!(e.contains("no such run directory"), "{e}");
    fs::remove_file(dirs[0].join("summary.json")).unwrap();
    let e = assert_clean_error(
        &gan(&["report", dirs[0].to_str().unwrap()]),
        "unfinished run",
    );
    assert!(e.contains("not a finished run"), "{e}");
    let e = assert_clean_error(&gan(&["compare", "--disc-act", "relu"]), "--disc-act");
    assert!(e.contains("--acts"), "{e}");
    let e = assert_clean_error(
        &gan(&["compare", "--gen-act", "leaky", "--alphas", "0.1,0.2"]),
        "--gen-act leaky with several slopes",
    );
    assert!(e.contains("--gen-act relu"), "{e}");
}

#[test]
fn an_interrupted_comparison_continues_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let mut args = tiny(&out);
    args[6] = "1".into(); // --seeds
    args[8] = "400".into(); // --steps: long enough to interrupt the second run
    let second = out.join("runs/leaky0.2-s42");
    let child = Command::new(env!("CARGO_BIN_EXE_gan"))
        .args(&args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Training under way (a few metrics rows), then Ctrl-C.
    crate::common::wait_for_lines(&second.join("metrics.csv"), 3);
    crate::common::interrupt(&child);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("rerun the same command"), "{err}");
    assert!(!out.join("report.html").exists());
    let first = fs::read(out.join("runs/relu-s42/summary.json")).unwrap();

    let o = run(&args);
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("relu-s42: reusing the finished run"), "{err}");
    assert!(
        err.contains("leaky0.2-s42: resuming from its checkpoint"),
        "{err}"
    );
    assert_eq!(
        fs::read(out.join("runs/relu-s42/summary.json")).unwrap(),
        first
    );
    assert_eq!(json(&second.join("summary.json"))["status"], "finished");
    assert_eq!(json(&second.join("summary.json"))["steps"], 400);
    assert!(out.join("report.html").is_file());
}

#[test]
fn diverged_runs_are_results_and_bad_flags_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let mut args = tiny(&out);
    args[6] = "1".into(); // --seeds
    let nan = |args: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_gan"))
            .args(args)
            .env("GAN_FAULT_NAN_AT_STEP", "3")
            .output()
            .unwrap()
    };
    let o = nan(&args);
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.matches("diverged (a NaN or infinite loss)").count(),
        2,
        "{err}"
    );
    let report = json(&out.join("report.json"));
    for g in report["groups"].as_array().unwrap() {
        assert_eq!(g["diverged"], 1, "{g}");
    }
    let conclusion = report["verdicts"][0]["conclusion"].as_str().unwrap();
    assert!(conclusion.contains("diverged in every run"), "{conclusion}");
    // Diverged runs still animate the grids they made.
    assert!(out.join("runs/relu-s42/progress.gif").is_file());
    // Diverged runs are reused, not retrained.
    let err = String::from_utf8_lossy(&nan(&args).stderr).into_owned();
    assert_eq!(err.matches("reusing the finished run").count(), 2, "{err}");

    // A run named twice is one run.
    let relu = out.join("runs/relu-s42");
    let o = gan(&[
        "report",
        relu.to_str().unwrap(),
        &format!("{}/../relu-s42", relu.display()),
        "--out",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert_eq!(
        json(&tmp.path().join("r/report.json"))["groups"][0]["runs"],
        1
    );

    // Flags that cannot train are refused before the comparison folder exists.
    let fresh = tmp.path().join("fresh");
    let mut bad = tiny(&fresh);
    bad.extend(["--eval-every", "3"].map(String::from));
    let e = assert_clean_error(&run(&bad), "eval-every off the log schedule");
    assert!(e.contains("multiple of --log-every"), "{e}");
    assert!(!fresh.exists());
    // And a folder that is not a report is not written into.
    let e = assert_clean_error(
        &gan(&[
            "report",
            relu.to_str().unwrap(),
            "--out",
            tmp.path().to_str().unwrap(),
        ]),
        "report into a non-report folder",
    );
    assert!(e.contains("other than a gan report"), "{e}");
}

/// A comparison whose arms are the same runs (trained twice, one copy labelled leaky) must never
/// be called a difference: the paired effects are all zero.
#[test]
fn identical_arms_are_never_called_different() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for (copy, label) in [("a", "relu"), ("b", "leaky")] {
        for seed in ["42", "43", "44", "45", "46"] {
            let out = tmp.path().join(copy);
            let name = format!("{copy}-{seed}");
            assert_ok(&gan(&[
                "--disc-act",
                "relu",
                "--arch",
                "mlp",
                "--steps",
                "4",
                "--log-every",
                "2",
                "--dataset-size",
                "64",
                "--batch-size",
                "8",
                "--seed",
                seed,
                "--quiet",
                "--out",
                out.to_str().unwrap(),
                "--name",
                &name,
            ]));
            let dir = out.join(&name);
            if label == "leaky" {
                // The same numbers under the other label.
                let path = dir.join("config.json");
                let mut c = json(&path);
                c["args"]["disc_act"] = "leaky".into();
                c["net"]["disc_act"] = "leaky".into();
                fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
            }
            dirs.push(dir.to_str().unwrap().to_string());
        }
    }
    let report = tmp.path().join("rep");
    let mut args = vec![
        "report",
        "--primary",
        "loss_d:last",
        "--out",
        report.to_str().unwrap(),
    ];
    args.extend(dirs.iter().map(String::as_str));
    assert_ok(&gan(&args));
    let r = json(&report.join("report.json"));
    let v = &r["verdicts"][0];
    let conclusion = v["conclusion"].as_str().unwrap();
    assert!(!conclusion.contains("Prefer"), "{conclusion}");
    assert!(
        conclusion.starts_with("No difference in the primary metric"),
        "{conclusion}"
    );
    for row in v["comparisons"].as_array().unwrap() {
        assert_ne!(row["outcome"], "different", "{row}");
        if row["metric"] != "step_ms:mean" {
            assert_eq!(row["diff"], 0.0, "{row}");
            assert_eq!(row["p"], 1.0, "{row}");
        }
    }
}

#[test]
fn high_lr_d_trains_two_d_rates_and_leads_with_their_interaction() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let mut args = tiny(&out);
    args.extend(
        [
            "--scenario",
            "high-lr-d",
            "--eval-every",
            "0",
            "--primary",
            "loss_d:last",
        ]
        .map(String::from),
    );
    assert_ok(&run(&args));
    // Two D rates × relu/leaky × 2 seeds; G's rate stays --lr's.
    let last = |name: &str| -> f64 {
        let dir = out.join("runs").join(name);
        let config = json(&dir.join("config.json"));
        let lr_d = config["args"]["lr_d"].as_f64().unwrap();
        assert_eq!(
            lr_d,
            if name.starts_with("lrd2e-3") {
                2e-3
            } else {
                2e-4
            }
        );
        assert!(config["args"]["lr_g"].is_null(), "{name}");
        json(&dir.join("summary.json"))["metrics"]["loss_d"]["last"]
            .as_f64()
            .unwrap()
    };
    let r = json(&out.join("report.json"));
    let verdicts = r["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 3, "{r}");
    let i = &verdicts[0];
    assert!(
        i["title"].as_str().unwrap().starts_with("interaction"),
        "{i}"
    );
    let primary = &i["comparisons"][0];
    assert_eq!(primary["metric"], "loss_d:last");
    // Per seed: the activation's effect at each rate, from the runs' own summaries.
    for (k, seed) in [42, 43].iter().enumerate() {
        let effect = |rate: &str| {
            last(&format!("{rate}-leaky0.2-s{seed}")) - last(&format!("{rate}-relu-s{seed}"))
        };
        let pair = &primary["pairs"][k];
        assert_eq!(pair[0].as_u64(), Some(*seed));
        assert!((pair[1].as_f64().unwrap() - effect("lrd2e-4")).abs() < 1e-9);
        assert!((pair[2].as_f64().unwrap() - effect("lrd2e-3")).abs() < 1e-9);
    }
    // Then each rate's own relu-vs-leaky verdict.
    for v in &verdicts[1..] {
        assert!(v["title"].as_str().unwrap().contains("lr-d="), "{v}");
    }
}

#[test]
fn alpha_sweep_leads_with_a_trend_test_over_its_slopes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let mut args = tiny(&out);
    // The preset's six slopes, cut to three for a test.
    args.extend(
        [
            "--scenario",
            "alpha-sweep",
            "--alphas",
            "0.1,0.3",
            "--disc-depth",
            "2",
            "--eval-every",
            "0",
            "--primary",
            "loss_d:last",
        ]
        .map(String::from),
    );
    assert_ok(&run(&args));
    for name in ["relu-s42", "leaky0.1-s43", "leaky0.3-s42"] {
        assert!(
            out.join("runs").join(name).join("summary.json").is_file(),
            "{name}"
        );
    }
    let r = json(&out.join("report.json"));
    let verdicts = r["verdicts"].as_array().unwrap();
    // The trend first, then relu against each slope.
    assert_eq!(verdicts.len(), 3, "{r}");
    assert_eq!(verdicts[0]["title"], "trend across α = 0, 0.1, 0.3");
    let conclusion = verdicts[0]["conclusion"].as_str().unwrap();
    assert!(conclusion.contains("Spearman ρ"), "{conclusion}");
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("trend across α"));
}

#[test]
fn findings_runs_each_scenario_replicates_what_is_clear_and_writes_one_page() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f");
    let flags = [
        "--out",
        out.to_str().unwrap(),
        "--arch",
        "mlp",
        "--steps",
        "4",
        "--log-every",
        "2",
        "--dataset-size",
        "200",
        "--batch-size",
        "8",
        "--eval-every",
        "0",
    ];
    // ReLU's gradient zeros differ from LeakyReLU's by definition: clear on 6 paired seeds
    // (exact p = 2/64), so the replication must run, on seeds 1007..1012. Two worker
    // processes train each comparison (each one a `gan compare --task-index` of it).
    let mut args = vec![
        "findings",
        "--scenarios",
        "baseline",
        "--seeds",
        "6",
        "--seed",
        "7",
        "--jobs",
        "2",
        "--primary",
        "d_grad_zero:mean",
    ];
    args.extend(flags);
    assert_ok(&gan(&args));
    assert!(out.join("baseline/runs/relu-s12/summary.json").is_file());
    assert!(out.join("baseline/logs/relu-s12.log").is_file());
    assert!(
        out.join("baseline-replication/runs/leaky0.2-s1012/summary.json")
            .is_file()
    );
    let f = json(&out.join("findings.json"));
    let row = &f["findings"][0];
    assert_eq!(row["scenario"], "baseline");
    assert_eq!(row["primary"], "d_grad_zero:mean");
    assert_eq!(row["result"]["outcome"], "different");
    assert_eq!(row["replication"]["outcome"], "different");
    let html = fs::read_to_string(out.join("findings.html")).unwrap();
    assert!(html.contains("<a href=\"baseline/report.html\">baseline</a>"));
    assert!(html.contains("baseline-replication/report.html"));
    let images = referenced(&html, "src=\"", '"');
    // The per-seed plots of the first result and of its replication.
    assert_eq!(images.len(), 2, "{images:?}");
    for img in images {
        assert!(out.join(&img).is_file(), "{img} referenced but missing");
    }
    if let Some(o) = check_in_browser(&out.join("findings.html")) {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    // A scenario that is not clear is not replicated; a rerun reuses the finished runs.
    let mut args = vec![
        "findings",
        "--scenarios",
        "baseline,deep-narrow",
        "--seeds",
        "6",
        "--seed",
        "7",
    ];
    args.extend(flags);
    let o = gan(&args);
    assert_ok(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("reusing the finished run"), "{stderr}");
    let f = json(&out.join("findings.json"));
    assert_eq!(f["findings"].as_array().unwrap().len(), 2);
    assert!(f["findings"][1]["replication"].is_null(), "{f}");
    assert!(!out.join("deep-narrow-replication").exists());

    // A folder of something else is refused, untouched.
    let other = tmp.path().join("mine");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("notes.txt"), "keep").unwrap();
    let mut args = vec!["findings", "--scenarios", "baseline"];
    args.extend(flags);
    let at = args.iter().position(|a| *a == "--out").unwrap() + 1;
    let other_str = other.to_str().unwrap().to_string();
    args[at] = &other_str;
    let err = assert_clean_error(&gan(&args), "foreign findings folder");
    assert!(
        err.contains("holds something other than gan findings"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(other.join("notes.txt")).unwrap(), "keep");
}
