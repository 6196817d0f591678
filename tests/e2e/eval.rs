//! End-to-end tests of `gan eval`: evaluator training and caching, and the metrics file.

use std::fs;
use std::path::Path;

use crate::common::{assert_clean_error, assert_ok, column, gan, skip_without_vulkan};

fn train(out: &Path, name: &str, extra: &[&str]) {
    let mut args = vec!["--out", out.to_str().unwrap(), "--name", name, "--quiet"];
    args.extend(["--steps", "2", "--batch-size", "8", "--arch", "mlp"]);
    args.extend_from_slice(extra);
    assert_ok(&gan(&args));
}

fn eval(run: &Path) -> (String, serde_json::Value) {
    let o = gan(&["eval", "--run", run.to_str().unwrap(), "--samples", "100"]);
    assert_ok(&o);
    // n is capped by the dataset size.
    let n = if run.ends_with("f") { 20 } else { 100 };
    let file = run.join(format!("eval/step_000002-s0-n{n}.json"));
    let json = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    (String::from_utf8_lossy(&o.stderr).into_owned(), json)
}

#[test]
fn eval_trains_the_evaluator_once_and_writes_the_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), "a", &["--dataset-size", "400"]);
    train(
        tmp.path(),
        "b",
        &["--dataset-size", "400", "--disc-act", "relu"],
    );
    let (first, a) = eval(&tmp.path().join("a"));
    assert!(first.contains("training the evaluator"), "{first}");
    for key in [
        "fd",
        "precision",
        "recall",
        "class_coverage",
        "class_kl",
        "evaluator_accuracy",
    ] {
        assert!(a[key].is_number(), "{key} missing in {a}");
    }
    assert!(a.get("mmd_pixel").is_none());
    assert!(a["evaluator_accuracy"].as_f64().unwrap() > 0.5, "{a}");
    let cache = tmp.path().join(".evaluators");
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
    // The key names the architecture's version: an older gan's cached evaluator (another
    // shape) is never loaded.
    let entry = fs::read_dir(&cache).unwrap().next().unwrap().unwrap();
    assert!(
        entry.file_name().to_string_lossy().ends_with("-v3"),
        "{:?}",
        entry.file_name()
    );
    // Same data: the cached evaluator is reused.
    let (second, _) = eval(&tmp.path().join("b"));
    assert!(!second.contains("training the evaluator"), "{second}");
    // Deterministic for a seed: a rerun gives the same numbers.
    let (_, again) = eval(&tmp.path().join("a"));
    assert_eq!(a, again);
}

#[test]
fn unlabelled_folder_falls_back_to_pixel_mmd() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("flat");
    fs::create_dir_all(&data).unwrap();
    for k in 0..20u32 {
        image::RgbImage::from_fn(20, 20, |x, y| {
            image::Rgb([(x * 10 + k) as u8, (y * 9) as u8, 80])
        })
        .save(data.join(format!("{k}.png")))
        .unwrap();
    }
    let out = tmp.path().join("out");
    train(
        &out,
        "f",
        &["--dataset", "folder", "--data", data.to_str().unwrap()],
    );
    let (_, q) = eval(&out.join("f"));
    assert!(q["mmd_pixel"].is_number(), "{q}");
    assert!(q.get("fd").is_none(), "{q}");
    let err = assert_clean_error(&gan(&["eval", "--run", "/nonexistent/run"]), "missing run");
    assert!(err.contains("no such run directory"), "{err}");
}

#[test]
fn eval_every_fills_metrics_columns_and_the_summary_and_agrees_with_gan_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let eval_flags = ["--eval-every", "4", "--eval-samples", "100"];
    let mut args = vec!["--dataset-size", "400", "--steps", "6", "--log-every", "2"];
    args.extend(eval_flags);
    let out = tmp.path().to_str().unwrap();
    let o = gan(&[
        &[
            "--out",
            out,
            "--name",
            "q",
            "--quiet",
            "--batch-size",
            "8",
            "--arch",
            "mlp",
        ][..],
        &args,
    ]
    .concat());
    assert_ok(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("final quality: "), "{stderr}");
    let run = tmp.path().join("q");
    // Logged at steps 0, 2, 4 and the last (5); measured at 0, 4 and the last.
    assert_eq!(column(&run, "step"), [0.0, 2.0, 4.0, 5.0]);
    let fd = column(&run, "eval_fd");
    assert!(fd[1].is_nan(), "step 2 is off the eval schedule: {fd:?}");
    for i in [0, 2, 3] {
        assert!(fd[i] > 0.0, "{fd:?}");
    }
    for name in ["eval_precision", "eval_recall", "eval_class_coverage"] {
        let v = column(&run, name)[3];
        assert!((0.0..=1.0).contains(&v), "{name} {v}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let last = |name: &str| summary["metrics"][name]["last"].as_f64().unwrap();
    // Equal to the ulp: serde_json's default float parser may round the last digit differently.
    assert!(
        (last("eval_fd") - fd[3]).abs() <= 1e-12 * fd[3],
        "{} vs {}",
        last("eval_fd"),
        fd[3]
    );
    assert!(
        summary["evaluator_accuracy"].as_f64().unwrap() > 0.5,
        "{summary}"
    );
    // The last in-training measurement is what `gan eval` reports for the checkpoint.
    let (_, q) = {
        let o = gan(&["eval", "--run", run.to_str().unwrap(), "--samples", "100"]);
        assert_ok(&o);
        let file = run.join("eval/step_000006-s0-n100.json");
        (
            (),
            serde_json::from_str::<serde_json::Value>(&fs::read_to_string(file).unwrap()).unwrap(),
        )
    };
    for (ours, theirs) in [
        ("eval_fd", "fd"),
        ("eval_precision", "precision"),
        ("eval_class_kl", "class_kl"),
    ] {
        let (a, b) = (last(ours), q[theirs].as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "{ours} {a} vs gan eval {theirs} {b}"
        );
    }
}

#[test]
fn a_run_that_trains_the_evaluator_starts_where_one_that_finds_it_cached_does() {
    // Training the evaluator seeds the device; the networks' weights must come from the run's
    // seed all the same, or runs of one seed would differ by whether the cache was warm.
    let tmp = tempfile::tempdir().unwrap();
    let flags = [
        "--dataset-size",
        "400",
        "--eval-every",
        "2",
        "--eval-samples",
        "100",
    ];
    let flags = [&flags[..], &["--log-every", "1", "--seed", "5"]].concat();
    train(tmp.path(), "cold", &flags);
    assert!(tmp.path().join(".evaluators").is_dir());
    train(tmp.path(), "warm", &flags);
    for name in ["loss_d", "loss_g", "d_real", "d_fake"] {
        let (cold, warm) = (
            column(&tmp.path().join("cold"), name),
            column(&tmp.path().join("warm"), name),
        );
        assert_eq!(cold.len(), 2, "{name}: {cold:?}");
        assert_eq!(cold, warm, "{name}");
    }
}

#[test]
fn the_evaluator_is_the_same_whichever_backend_trains_it() {
    // The evaluator is trained on the CPU even for a GPU run (a GPU draws other initial weights
    // for the seed), so its metrics mean the same on every backend.
    if skip_without_vulkan() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let [flex, wgpu] = ["flex", "wgpu"].map(|backend| {
        // Each backend gets its own output folder, so each trains its own evaluator.
        let out = tmp.path().join(backend);
        train(&out, "a", &["--dataset-size", "400"]);
        let o = gan(&[
            "eval",
            "--run",
            out.join("a").to_str().unwrap(),
            "--samples",
            "100",
            "--backend",
            backend,
        ]);
        assert_ok(&o);
        let file = out.join("a/eval/step_000002-s0-n100.json");
        serde_json::from_str::<serde_json::Value>(&fs::read_to_string(file).unwrap()).unwrap()
    });
    assert_eq!(flex["evaluator_accuracy"], wgpu["evaluator_accuracy"]);
    let (a, b) = (flex["fd"].as_f64().unwrap(), wgpu["fd"].as_f64().unwrap());
    assert!((a - b).abs() <= 1e-3 * a.abs(), "FD flex {a} vs wgpu {b}");
}

#[test]
fn eval_every_off_the_log_schedule_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = gan(&[
        "--out",
        tmp.path().to_str().unwrap(),
        "--steps",
        "4",
        "--log-every",
        "10",
        "--eval-every",
        "15",
    ]);
    let err = assert_clean_error(&o, "eval-every 15, log-every 10");
    assert!(err.contains("multiple of --log-every"), "{err}");
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
