//! End-to-end tests of checkpoints, --resume, interruption, divergence and `gan sample`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{assert_clean_error, assert_ok, gan, grid_pixels, metrics};
use burn::prelude::*;
use gan::model::{Discriminator, Generator, NetConfig};
use gan::train::checkpoint::param_values;

/// A tiny run on the default data, `name` under `out`; small defaults unless `extra` sets the flag.
fn tiny(out: &Path, name: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--out", out.to_str().unwrap(), "--name", name, "--quiet"];
    for (flag, value) in [
        ("--dataset-size", "64"),
        ("--batch-size", "8"),
        ("--log-every", "2"),
        ("--sample-every", "0"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    gan(&args)
}

fn resume(run: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--resume", run.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    gan(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// The weights of a run's checkpointed generator and discriminator.
fn weights(run: &Path) -> (Vec<f32>, Vec<f32>) {
    let net: NetConfig =
        serde_json::from_value(json(&run.join("config.json"))["net"].clone()).unwrap();
    let dev = Device::flex();
    let ckpt = run.join("checkpoint");
    let g = Generator::new(&net, &dev)
        .unwrap()
        .try_load_file(ckpt.join("generator.bpk"))
        .unwrap();
    let d = Discriminator::new(&net, &dev)
        .unwrap()
        .try_load_file(ckpt.join("discriminator.bpk"))
        .unwrap();
    (param_values(&g).unwrap(), param_values(&d).unwrap())
}

/// metrics.csv rows without the timing column (None: a cell left empty, not measured).
fn rows_without_timing(run: &Path) -> Vec<Vec<Option<f64>>> {
    let (header, rows) = metrics(run);
    let ms = header.iter().position(|h| h == "step_ms").unwrap();
    rows.into_iter()
        .map(|mut r| {
            r.remove(ms);
            r.into_iter().map(|v| (!v.is_nan()).then_some(v)).collect()
        })
        .collect()
}

#[test]
fn n_steps_plus_resume_plus_n_equals_2n_in_one_go() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    // 7 is off the log schedule, so the first half ends with an extra row that resume drops.
    assert_ok(&tiny(
        out,
        "straight",
        &["--steps", "14", "--checkpoint-every", "0"],
    ));
    assert_ok(&tiny(
        out,
        "halves",
        &["--steps", "7", "--checkpoint-every", "3"],
    ));
    let halves = out.join("halves");
    assert!(
        rows_without_timing(&halves)
            .iter()
            .any(|r| r[0] == Some(6.0))
    );
    assert_ok(&resume(&halves, &["--steps", "14"]));
    let straight = out.join("straight");

    let (g1, d1) = weights(&straight);
    let (g2, d2) = weights(&halves);
    assert!(!g1.is_empty() && !d1.is_empty());
    assert!(g1 == g2, "generator weights differ");
    assert!(d1 == d2, "discriminator weights differ");
    assert_eq!(rows_without_timing(&straight), rows_without_timing(&halves));
    // final.png is drawn in inference mode, so it also compares the batch-norm statistics.
    assert_eq!(
        fs::read(straight.join("samples/final.png")).unwrap(),
        fs::read(halves.join("samples/final.png")).unwrap()
    );
    let s = json(&halves.join("summary.json"));
    assert_eq!(s["status"], "finished");
    assert_eq!(s["steps"], 14);
    assert_eq!(
        json(&halves.join("config.json"))["resumes"][0]["at_step"],
        7
    );
}

#[test]
fn half_written_checkpoints_do_not_break_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    assert_ok(&tiny(
        tmp.path(),
        "r",
        &["--steps", "4", "--checkpoint-every", "2"],
    ));
    let (ckpt, tmp_dir, old) = (
        run.join("checkpoint"),
        run.join("checkpoint.tmp"),
        run.join("checkpoint.old"),
    );
    // A crash while writing: a stray, truncated temporary checkpoint.
    fs::create_dir(&tmp_dir).unwrap();
    let g = fs::read(ckpt.join("generator.bpk")).unwrap();
    fs::write(tmp_dir.join("generator.bpk"), &g[..g.len() / 3]).unwrap();
    assert_ok(&resume(&run, &["--steps", "6"]));
    assert!(!tmp_dir.exists(), "the stray temporary was not cleared");
    assert_eq!(json(&ckpt.join("state.json"))["step"], 6);

    // A crash between the renames: only checkpoint.old is complete.
    fs::rename(&ckpt, &old).unwrap();
    fs::create_dir(&tmp_dir).unwrap();
    assert_ok(&resume(&run, &["--steps", "8"]));
    assert_eq!(json(&ckpt.join("state.json"))["step"], 8);
    assert!(!old.exists());

    // Nothing complete left: a clear refusal.
    fs::remove_dir_all(&ckpt).unwrap();
    fs::create_dir(&tmp_dir).unwrap();
    let err = assert_clean_error(&resume(&run, &["--steps", "10"]), "no checkpoint");
    assert!(err.contains("unfinished write"), "{err}");
}

#[test]
fn resume_refuses_changed_model_settings_and_leaves_the_run_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    assert_ok(&tiny(tmp.path(), "r", &["--steps", "3"]));
    let before = fs::read(run.join("metrics.csv")).unwrap();
    for (flags, expect) in [
        (&["--disc-act", "relu"][..], "--disc-act leaky"),
        (&["--alpha", "0.1"], "--alpha 0.2"),
        (&["--image-size", "32"], "--image-size 28"),
        (&["--arch", "mlp"], "--arch dcgan"),
        (&["--dataset", "folder"], "--dataset centred"),
        (&["--name", "other"], "does not apply"),
        (&[], "already finished its 3 steps"),
    ] {
        let err = assert_clean_error(&resume(&run, flags), &format!("{flags:?}"));
        assert!(err.contains(expect), "{flags:?}: {err}");
    }
    // Same values as saved, or flags that may change, are accepted.
    assert_ok(&resume(
        &run,
        &["--disc-act", "leaky", "--lr", "1e-4", "--steps", "4"],
    ));
    assert!(
        fs::read(run.join("metrics.csv"))
            .unwrap()
            .starts_with(&before[..before.len() - 40])
    );
    let err = assert_clean_error(&resume(&tmp.path().join("nope"), &[]), "missing run");
    assert!(err.contains("no such run directory"), "{err}");
}

#[test]
fn sigint_finishes_the_step_checkpoints_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    let child = Command::new(env!("CARGO_BIN_EXE_gan"))
        .args([
            "--out",
            tmp.path().to_str().unwrap(),
            "--name",
            "r",
            "--quiet",
        ])
        .args(["--arch", "mlp", "--steps", "1000000", "--log-every", "1"])
        .args([
            "--dataset-size",
            "64",
            "--batch-size",
            "8",
            "--checkpoint-every",
            "0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training is under way (a few metrics rows).
    // Training under way (a few metrics rows), then Ctrl-C.
    crate::common::wait_for_lines(&run.join("metrics.csv"), 3);
    crate::common::interrupt(&child);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("gan --resume"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let step = json(&run.join("checkpoint/state.json"))["step"]
        .as_u64()
        .unwrap();
    assert!(step >= 4, "checkpoint at step {step}");
    let s = json(&run.join("summary.json"));
    assert_eq!(s["status"], "interrupted");
    assert_eq!(s["steps"], step);
    let last_row = metrics(&run).1.last().unwrap()[0] as u64;
    assert!(last_row < step, "a row beyond the checkpoint");

    let total = (step + 2).to_string();
    assert_ok(&resume(&run, &["--steps", &total]));
    assert_eq!(json(&run.join("summary.json"))["status"], "finished");
}

/// The error line that ends a run which started and then diverged (exit 1, no panic).
fn diverged_error(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.trim().lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("error: training diverged"), "{err}");
    last
}

#[test]
fn a_nan_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run_with_nan = |name: &str, at: &str, extra: &[&str]| {
        let mut args = vec![
            "--out",
            tmp.path().to_str().unwrap(),
            "--name",
            name,
            "--quiet",
        ];
        args.extend(["--dataset-size", "64", "--batch-size", "8", "--steps", "20"]);
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_gan"))
            .args(&args)
            .env("GAN_FAULT_NAN_AT_STEP", at)
            .output()
            .unwrap()
    };
    // Caught by the loss on a logged step.
    let o = run_with_nan(
        "logged",
        "7",
        &["--log-every", "1", "--checkpoint-every", "5"],
    );
    let err = diverged_error(&o);
    assert!(
        err.contains("diverged at step 7") && err.contains("step 5"),
        "{err}"
    );
    let run = tmp.path().join("logged");
    let s = json(&run.join("summary.json"));
    assert_eq!(s["status"], "diverged");
    assert_eq!(s["diverged_at_step"], 7);
    assert_eq!(json(&run.join("checkpoint/state.json"))["step"], 5);
    // The kept checkpoint is good: the run resumes from it.
    assert_ok(&resume(&run, &["--steps", "8"]));

    // Between logged steps: caught when the next checkpoint reads the step's losses, so no
    // poisoned checkpoint is ever written.
    let o = run_with_nan(
        "unlogged",
        "6",
        &["--log-every", "100", "--checkpoint-every", "4"],
    );
    let err = diverged_error(&o);
    assert!(
        err.contains("diverged at step 7") && err.contains("step 4"),
        "{err}"
    );
    let run = tmp.path().join("unlogged");
    assert_eq!(json(&run.join("checkpoint/state.json"))["step"], 4);
}

#[test]
fn sample_writes_grids_of_the_right_size_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    assert_ok(&tiny(tmp.path(), "r", &["--steps", "2"]));
    let sample = |extra: &[&str]| {
        let mut args = vec!["sample", "--run", run.to_str().unwrap()];
        args.extend_from_slice(extra);
        gan(&args)
    };
    let file = |name: &str| -> PathBuf { tmp.path().join(name) };
    let path = |name: &str| file(name).to_str().unwrap().to_string();
    assert_ok(&sample(&[
        "--n",
        "10",
        "--seed",
        "3",
        "--output",
        &path("a.png"),
    ]));
    assert_ok(&sample(&[
        "--n",
        "10",
        "--seed",
        "3",
        "--output",
        &path("b.png"),
    ]));
    assert_ok(&sample(&[
        "--n",
        "10",
        "--seed",
        "4",
        "--output",
        &path("c.png"),
    ]));
    let bytes = |n: &str| fs::read(file(n)).unwrap();
    assert_eq!(bytes("a.png"), bytes("b.png"), "same seed, different grid");
    assert_ne!(bytes("a.png"), bytes("c.png"), "other seed, same grid");
    let img = image::open(file("a.png")).unwrap();
    assert_eq!((img.width(), img.height()), grid_pixels(10, 28));

    // Interpolation: 16 → 4 rows of 4; the default name lands in samples/.
    assert_ok(&sample(&["--n", "16", "--interpolate"]));
    let img = image::open(run.join("samples/interpolate-s0.png")).unwrap();
    assert_eq!((img.width(), img.height()), grid_pixels(16, 28));
    let err = assert_clean_error(&sample(&["--n", "16", "--interpolate"]), "overwrite");
    assert!(err.contains("already exists"), "{err}");

    assert_ok(&sample(&[
        "--backend",
        "ndarray",
        "--output",
        &path("nd.png"),
    ]));
    let err = assert_clean_error(&gan(&["sample", "--run", &path("absent")]), "missing run");
    assert!(err.contains("no such run directory"), "{err}");
}
