//! End-to-end tests of `gan eval`: evaluator training and caching, and the metrics file.

mod common;

use std::fs;
use std::path::Path;

use common::{assert_clean_error, assert_ok, gan};

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
