//! Helpers shared by the end-to-end tests: running the binary and reading a run's metrics.

#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Whether a wgpu test must be skipped: no Vulkan driver (Mesa's lavapipe serves on machines
/// without a GPU) and not in CI, where it must run. Says so when skipping.
pub fn skip_without_vulkan() -> bool {
    let installed = std::fs::read_dir("/usr/share/vulkan/icd.d")
        .map(|d| d.count() > 0)
        .unwrap_or(false);
    let skip = !installed && std::env::var_os("GAN_CI").is_none();
    if skip {
        eprintln!("SKIPPED: apt-get install mesa-vulkan-drivers to run wgpu on the CPU");
    }
    skip
}

/// Runs the built `gan` binary.
pub fn gan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gan"))
        .args(args)
        .output()
        .expect("running gan")
}

/// Fails the test with gan's stderr unless it succeeded.
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "gan failed: {}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The metrics.csv of a run: header and rows.
pub fn metrics(dir: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut r = csv::Reader::from_path(dir.join("metrics.csv")).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                // Empty: not measured at this step (eval_* columns).
                .map(|v| {
                    if v.is_empty() {
                        f64::NAN
                    } else {
                        v.parse::<f64>().unwrap()
                    }
                })
                .collect()
        })
        .collect();
    (header, rows)
}

/// One metrics.csv column of a run.
pub fn column(dir: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = metrics(dir);
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[i]).collect()
}

/// Asserts `o` failed with exit code 1 and one clean `error:` line; returns that line.
pub fn assert_clean_error(o: &Output, case: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert_eq!(o.status.code(), Some(1), "{case}: exit {}\n{err}", o.status);
    assert_eq!(err.lines().count(), 1, "{case}: not one line:\n{err}");
    assert!(err.starts_with("error: "), "{case}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{case}: {err}"
    );
    err
}

/// Width and height of a sample grid of `n` tiles of `size` pixels (2 px padding).
pub fn grid_pixels(n: u32, size: u32) -> (u32, u32) {
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = n.div_ceil(cols);
    (
        (cols * size + (cols + 1) * 2),
        (rows * size + (rows + 1) * 2),
    )
}

/// Waits until the metrics.csv at `path` has more than `lines` lines (a run under way); fails
/// the test after five minutes.
pub fn wait_for_lines(path: &Path, lines: usize) {
    let t0 = Instant::now();
    loop {
        let n = std::fs::read_to_string(path)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n > lines {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "{} never got past {lines} lines",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn interrupt(child: &Child) {
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}
