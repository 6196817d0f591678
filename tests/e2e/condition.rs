//! End-to-end tests of class conditioning (`--condition class`).

use std::fs;
use std::path::Path;

use crate::common::{assert_ok, gan, metrics};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// A tiny conditional run on the default data, `name` under `out`.
fn tiny(out: &Path, name: &str, extra: &[&str]) {
    let mut args = vec!["--out", out.to_str().unwrap(), "--name", name, "--quiet"];
    args.extend(["--condition", "class", "--dataset-size", "64"]);
    args.extend([
        "--batch-size",
        "8",
        "--log-every",
        "2",
        "--sample-every",
        "0",
    ]);
    args.extend_from_slice(extra);
    assert_ok(&gan(&args));
}

/// metrics.csv rows without the timing column.
fn rows_without_timing(run: &Path) -> Vec<Vec<String>> {
    let (header, rows) = metrics(run);
    let ms = header.iter().position(|h| h == "step_ms").unwrap();
    rows.into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .filter(|&(i, _)| i != ms)
                .map(|(_, v)| format!("{v:?}"))
                .collect()
        })
        .collect()
}

#[test]
fn a_conditional_run_records_its_classes_resumes_exactly_and_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    tiny(
        out,
        "straight",
        &["--steps", "6", "--checkpoint-every", "0"],
    );
    tiny(out, "halves", &["--steps", "3", "--checkpoint-every", "0"]);
    let (straight, halves) = (out.join("straight"), out.join("halves"));
    let cfg = json(&straight.join("config.json"));
    assert_eq!(cfg["args"]["condition"], "class");
    assert_eq!(cfg["net"]["classes"], 4, "the shapes' four classes");

    // The class draws are part of the step's noise stream: a resumed run repeats them.
    let o = gan(&[
        "--resume",
        halves.to_str().unwrap(),
        "--steps",
        "6",
        "--quiet",
    ]);
    assert_ok(&o);
    assert_eq!(rows_without_timing(&straight), rows_without_timing(&halves));
    assert_eq!(
        fs::read(straight.join("samples/final.png")).unwrap(),
        fs::read(halves.join("samples/final.png")).unwrap(),
        "the fixed grid's noise and classes come back from the checkpoint"
    );

    // Sampling reads the class count from the run: a grid and a row of interpolations.
    for extra in [&[][..], &["--interpolate"][..]] {
        let png = out.join(format!("s{}.png", extra.len()));
        let mut args = vec!["sample", "--run", straight.to_str().unwrap(), "--n", "16"];
        args.extend(["--output", png.to_str().unwrap()]);
        args.extend_from_slice(extra);
        assert_ok(&gan(&args));
        assert!(image::open(&png).is_ok(), "{extra:?}");
    }
}

#[test]
fn condition_none_is_the_default_and_class_changes_the_game() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["--out", out.to_str().unwrap(), "--name", name, "--quiet"];
        args.extend(["--dataset-size", "64", "--batch-size", "8", "--steps", "3"]);
        args.extend_from_slice(extra);
        assert_ok(&gan(&args));
        out.join(name)
    };
    let plain = run("plain", &[]);
    let none = run("none", &["--condition", "none"]);
    let class = run("class", &["--condition", "class"]);
    assert_eq!(json(&plain.join("config.json"))["net"]["classes"], 0);
    assert_eq!(rows_without_timing(&plain), rows_without_timing(&none));
    assert_ne!(
        rows_without_timing(&plain),
        rows_without_timing(&class),
        "the classes change the game"
    );
}
