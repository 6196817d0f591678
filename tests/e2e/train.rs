//! End-to-end tests of `gan` (training) through the built binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{assert_ok, column, gan, metrics, skip_without_vulkan};

/// A tiny, fast training: `extra` flags added to a small run on the default data named `name` under `out`.
fn tiny_run(out: &Path, name: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--out", out.to_str().unwrap(), "--name", name, "--quiet"];
    // Small defaults, unless the caller sets the flag.
    for (flag, value) in [
        ("--dataset-size", "64"),
        ("--batch-size", "8"),
        ("--log-every", "1"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    gan(&args)
}

#[test]
fn ndarray_dcgan_run_writes_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let o = tiny_run(
        tmp.path(),
        "r",
        &[
            "--backend",
            "ndarray",
            "--steps",
            "3",
            "--batch-size",
            "4",
            "--sample-every",
            "2",
            "--sample-count",
            "9",
        ],
    );
    assert_ok(&o);
    let dir = tmp.path().join("r");

    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["args"]["backend"], "ndarray");
    assert_eq!(cfg["args"]["disc_act"], "leaky");
    assert_eq!(cfg["args"]["seed"], 42);
    assert_eq!(cfg["net"]["image_size"], 28);

    let (header, rows) = metrics(&dir);
    assert_eq!(
        header[..5],
        ["step", "loss_d", "loss_g", "d_real", "d_fake"]
    );
    assert_eq!(header.last().unwrap(), "step_ms");
    assert_eq!(
        rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
        [0.0, 1.0, 2.0]
    );
    // d_revived is left empty while no unit was dead at the previous logged step.
    let revived = header.iter().position(|h| h == "d_revived").unwrap();
    for row in &rows {
        assert!(
            row.iter()
                .enumerate()
                .all(|(i, v)| v.is_finite() || (i == revived && v.is_nan())),
            "non-finite metrics row {row:?}"
        );
        assert!(
            row[1] > 0.0 && row[2] > 0.0,
            "BCE losses are positive: {row:?}"
        );
        assert!((0.0..=1.0).contains(&row[3]) && (0.0..=1.0).contains(&row[4]));
    }

    // 9 samples of 28 px: a 3×3 grid with 2 px padding.
    let side = 3 * 28 + 4 * 2;
    for name in [
        "step_000000.png",
        "step_000002.png",
        "step_000003.png",
        "final.png",
    ] {
        let img =
            image::open(dir.join("samples").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((img.width(), img.height()), (side, side), "{name}");
    }
    // progress.gif: the three step grids (0, 2, 3) as frames of the grid's size.
    use image::AnimationDecoder;
    let gif = std::fs::File::open(dir.join("progress.gif")).unwrap();
    let frames = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(gif))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].buffer().dimensions(), (side, side));
}

#[test]
fn same_seed_repeats_and_other_seed_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| -> PathBuf {
        assert_ok(&tiny_run(
            tmp.path(),
            name,
            &["--backend", "flex", "--steps", "4", "--seed", seed],
        ));
        tmp.path().join(name)
    };
    let (a, b, c) = (run("a", "7"), run("b", "7"), run("c", "8"));
    for col in ["loss_d", "loss_g", "d_real", "d_fake"] {
        assert_eq!(
            column(&a, col),
            column(&b, col),
            "{col} differs for the same seed"
        );
    }
    assert_ne!(
        column(&a, "loss_d"),
        column(&c, "loss_d"),
        "another seed gave the same losses"
    );
    let fin = |d: &Path| std::fs::read(d.join("samples/final.png")).unwrap();
    assert_eq!(fin(&a), fin(&b));
}

#[test]
fn relu_and_leaky_runs_differ_and_mlp_trains() {
    let tmp = tempfile::tempdir().unwrap();
    for act in ["relu", "leaky"] {
        let o = tiny_run(
            tmp.path(),
            act,
            &[
                "--backend",
                "flex",
                "--arch",
                "mlp",
                "--steps",
                "3",
                "--disc-act",
                act,
            ],
        );
        assert_ok(&o);
    }
    let relu = column(&tmp.path().join("relu"), "loss_d");
    let leaky = column(&tmp.path().join("leaky"), "loss_d");
    assert_eq!(relu.len(), 3);
    assert_ne!(relu, leaky, "--disc-act had no effect on training");
}

#[test]
fn sizes_32_and_64_train() {
    let tmp = tempfile::tempdir().unwrap();
    for size in ["32", "64"] {
        let o = tiny_run(
            tmp.path(),
            size,
            &[
                "--backend",
                "flex",
                "--steps",
                "1",
                "--batch-size",
                "2",
                "--image-size",
                size,
                "--sample-count",
                "4",
            ],
        );
        assert_ok(&o);
        let s: u32 = size.parse().unwrap();
        let img = image::open(tmp.path().join(size).join("samples/final.png")).unwrap();
        assert_eq!(img.width(), 2 * s + 3 * 2);
    }
}

#[test]
fn bad_flags_fail_with_one_line_and_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let out = out.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["--disc-act", "tanh"],
        &["--alpha", "-0.5"],
        &["--alpha", "1"],
        &["--steps", "0"],
        &["--batch-size", "0"],
        &["--backend", "cuda"],
        &["--lr", "-1"],
        &["--image-size", "30"],
        &["--arch", "mlp", "--image-size", "8"],
        &[
            "--dataset-size",
            "1000000",
            "--image-size",
            "256",
            "--arch",
            "mlp",
        ],
        &["--dataset-size", "4", "--batch-size", "8"],
        &["--no-such-flag"],
    ];
    for case in cases {
        let mut args = vec!["--out", out, "--steps", "1"];
        args.extend_from_slice(case);
        let o = gan(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{case:?} succeeded");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{case:?}: not one line:\n{err}"
        );
        assert!(err.starts_with("error"), "{case:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{case:?}: {err}"
        );
    }
    assert!(
        !Path::new(out).exists() || std::fs::read_dir(out).unwrap().next().is_none(),
        "a refused run left output"
    );
}

#[test]
fn existing_run_directory_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    assert_ok(&tiny_run(
        tmp.path(),
        "keep",
        &["--arch", "mlp", "--steps", "2"],
    ));
    let before = std::fs::read(tmp.path().join("keep/metrics.csv")).unwrap();
    let o = tiny_run(tmp.path(), "keep", &["--arch", "mlp", "--steps", "3"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(tmp.path().join("keep/metrics.csv")).unwrap(),
        before
    );

    // Without --name, two runs get two directories.
    let out = tmp.path().join("auto");
    for _ in 0..2 {
        let o = gan(&[
            "--out",
            out.to_str().unwrap(),
            "--arch",
            "mlp",
            "--steps",
            "1",
            "--dataset-size",
            "16",
            "--batch-size",
            "4",
            "--quiet",
        ]);
        assert_ok(&o);
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
}

/// Two steps of a small MLP pair: quick to compile and run on a software Vulkan driver.
const TINY_MLP: [&str; 8] = [
    "--arch",
    "mlp",
    "--steps",
    "2",
    "--batch-size",
    "4",
    "--sample-count",
    "4",
];

#[test]
fn wgpu_trains_for_real_where_a_vulkan_driver_is_installed() {
    if skip_without_vulkan() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let args = [&["--backend", "wgpu"][..], &TINY_MLP].concat();
    let o = tiny_run(tmp.path(), "w", &args);
    assert_ok(&o);
    // The first step's long wait is announced, so it does not look like a hang.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("compile the GPU's kernels"), "{err}");
    let run = tmp.path().join("w");
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(
        config.contains("\"device\": \"wgpu ("),
        "adapter not recorded: {config}"
    );
    assert_eq!(metrics(&run).1.len(), 2);
    assert!(run.join("samples/final.png").exists());
}

#[test]
fn a_seed_draws_the_same_networks_on_every_backend() {
    // A GPU's random generator draws other numbers for a seed than the CPU's: the weights are
    // drawn on the CPU and moved, or `--seed 5` would name other networks on wgpu.
    if skip_without_vulkan() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Class-conditional too: the classes reach both networks on the GPU as on the CPU.
    let runs = ["flex", "ndarray", "wgpu", "flex-class", "wgpu-class"].map(|name| {
        let (backend, condition) = name.split_once('-').unwrap_or((name, "none"));
        let mut args = [&TINY_MLP[..], &["--seed", "5", "--backend", backend]].concat();
        args.extend(["--condition", condition]);
        assert_ok(&tiny_run(tmp.path(), name, &args));
        tmp.path().join(name)
    });
    for (name, (reference, others)) in ["loss_d", "loss_g", "d_real", "d_fake"]
        .into_iter()
        .flat_map(|n| [(n, (&runs[0], &runs[1..3])), (n, (&runs[3], &runs[4..]))])
    {
        let flex = column(reference, name);
        assert_eq!(flex.len(), 2, "{name}: {flex:?}");
        for run in others {
            let other = column(run, name);
            let close = flex
                .iter()
                .zip(&other)
                .all(|(a, b)| (a - b).abs() <= 1e-4 * a.abs().max(1.0));
            assert!(
                close,
                "{name}: flex {flex:?} vs {}: {other:?}",
                run.display()
            );
        }
    }
}

#[test]
fn wgpu_without_an_adapter_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    // An ICD list naming no driver: the Vulkan loader then finds no adapter at all.
    for (extra, hint) in [
        (&[][..], "--backend ndarray"),
        (&["--device", "7"][..], "--device"),
    ] {
        let mut args = vec![
            "--backend",
            "wgpu",
            "--steps",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gan"))
            .args(&args)
            .env("VK_ICD_FILENAMES", tmp.path().join("none.json"))
            .env("VK_DRIVER_FILES", tmp.path().join("none.json"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "not one line:\n{err}");
        assert!(err.starts_with("error: no usable"), "{err}");
        assert!(err.contains(hint), "no hint {hint} in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!out.exists(), "a failed start left output");
    let o = gan(&[
        "--device",
        "1",
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs --backend wgpu"));
}

#[test]
fn help_explains_the_flags() {
    let o = gan(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--disc-act",
        "--alpha",
        "--backend",
        "--steps",
        "--sample-every",
        "flex",
        "ndarray",
        "wgpu",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
