//! End-to-end tests of the gradient-sparsity columns and summary.json.

use std::path::Path;

use crate::common::{assert_ok, column as col, gan, metrics as csv_columns};

fn train(out: &Path, name: &str, extra: &[&str]) {
    let mut args = vec![
        "--out",
        out.to_str().unwrap(),
        "--name",
        name,
        "--quiet",
        "--backend",
        "flex",
        "--dataset-size",
        "64",
        "--batch-size",
        "16",
        "--steps",
        "3",
        "--log-every",
        "1",
    ];
    args.extend_from_slice(extra);
    assert_ok(&gan(&args));
}

#[test]
fn relu_gradients_are_sparse_and_leaky_ones_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    for arch in ["dcgan", "mlp"] {
        let (relu, leaky) = (format!("{arch}-relu"), format!("{arch}-leaky"));
        train(tmp.path(), &relu, &["--arch", arch, "--disc-act", "relu"]);
        train(tmp.path(), &leaky, &["--arch", arch, "--disc-act", "leaky"]);
        for layer in ["h1", "h2"] {
            let r = col(&tmp.path().join(&relu), &format!("d_grad_zero_{layer}"));
            let l = col(&tmp.path().join(&leaky), &format!("d_grad_zero_{layer}"));
            let nonpos = col(&tmp.path().join(&relu), &format!("d_preact_nonpos_{layer}"));
            assert!(
                r.iter().all(|&v| v > 0.2 && v < 0.9),
                "{arch} relu {layer}: {r:?}"
            );
            assert!(l.iter().all(|&v| v < 0.01), "{arch} leaky {layer}: {l:?}");
            for (z, n) in r.iter().zip(&nonpos) {
                assert!(
                    (z - n).abs() < 0.05,
                    "{arch} {layer}: grad zero {z} far from non-positive {n}"
                );
            }
        }
        for run in [&relu, &leaky] {
            let dir = tmp.path().join(run);
            for name in [
                "d_dead_units_h1",
                "d_dead_units_persistent",
                "g_signal_zero",
                "d_param_grad_zero",
            ] {
                assert!(
                    col(&dir, name).iter().all(|v| (0.0..=1.0).contains(v)),
                    "{run} {name}"
                );
            }
            assert!(
                col(&dir, "g_signal_norm")
                    .iter()
                    .all(|&v| v.is_finite() && v > 0.0),
                "{run}"
            );
        }
    }
}

#[test]
fn summary_json_holds_mean_and_last_of_every_column() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), "s", &["--arch", "mlp", "--disc-act", "relu"]);
    let dir = tmp.path().join("s");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steps"], 3);
    let (header, rows) = csv_columns(&dir);
    for (i, name) in header.iter().enumerate().skip(1) {
        let stat = &summary["metrics"][name];
        // Empty cells (not measured at that row) are left out; a column never measured has no
        // entry.
        let measured: Vec<f64> = rows.iter().map(|r| r[i]).filter(|v| !v.is_nan()).collect();
        if measured.is_empty() {
            assert!(stat.is_null(), "{name}: {stat}");
            continue;
        }
        let mean = measured.iter().sum::<f64>() / measured.len() as f64;
        assert!(
            (stat["mean"].as_f64().unwrap() - mean).abs() < 1e-9,
            "{name} mean"
        );
        // serde_json's default float parsing may land one ulp off the written value.
        let (last, want) = (stat["last"].as_f64().unwrap(), *measured.last().unwrap());
        assert!(
            (last - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{name} last: {last} vs {want}"
        );
    }
}

#[test]
fn no_probes_leaves_only_the_training_columns() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), "n", &["--arch", "mlp", "--no-probes"]);
    let (header, _) = csv_columns(&tmp.path().join("n"));
    assert_eq!(
        header,
        ["step", "loss_d", "loss_g", "d_real", "d_fake", "step_ms"]
    );
}
