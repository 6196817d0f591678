//! One writer per folder: a second process on a run directory or a comparison folder is refused
//! or cooperates, never corrupts. The processes are synchronised on files (a run's metrics.csv
//! appearing), never on sleeps.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::{assert_clean_error, assert_ok, gan, metrics, wait_for_lines};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A long MLP training of run `name` under `out`, in the background.
fn long_run(out: &Path, name: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gan"))
        .args(["--out", out.to_str().unwrap(), "--name", name, "--quiet"])
        .args(["--arch", "mlp", "--log-every", "1", "--dataset-size", "64"])
        .args(["--batch-size", "8"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_run_in_training_is_refused_to_resume_and_report_and_finishes_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    let first = long_run(
        tmp.path(),
        "r",
        &["--steps", "3000", "--checkpoint-every", "500"],
    );
    wait_for_lines(&run.join("metrics.csv"), 3);

    let second = gan(&["--resume", run.to_str().unwrap(), "--steps", "500"]);
    let err = assert_clean_error(&second, "resume of a run in training");
    assert!(err.contains("is being trained by process"), "{err}");
    assert!(err.contains(&first.id().to_string()), "{err}");

    let report = gan(&[
        "report",
        run.to_str().unwrap(),
        "--out",
        tmp.path().join("rep").to_str().unwrap(),
    ]);
    let err = assert_clean_error(&report, "report over a run in training");
    assert!(err.contains("still training"), "{err}");
    assert!(!tmp.path().join("rep").exists());

    let o = first.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["steps"], 3000);
    // One row per step, each once: nobody else wrote to it.
    let steps: Vec<u64> = metrics(&run).1.iter().map(|r| r[0] as u64).collect();
    assert_eq!(steps, (0..3000).collect::<Vec<_>>());
    assert!(json(&run.join("config.json")).get("resumes").is_none());
    assert!(
        !run.join("train.lock").exists(),
        "the lock is released at the end"
    );
}

#[test]
fn a_lock_left_by_a_killed_process_is_taken_over_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    let mut first = long_run(
        tmp.path(),
        "r",
        &["--steps", "1000000", "--checkpoint-every", "5"],
    );
    // Past the first checkpoint (step 5), then killed outright: no handler runs.
    wait_for_lines(&run.join("metrics.csv"), 12);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        run.join("train.lock").exists(),
        "kill -9 leaves the lock file"
    );

    let step: u64 = json(&run.join("checkpoint/state.json"))["step"]
        .as_u64()
        .unwrap();
    let total = (step + 3).to_string();
    assert_ok(&gan(&[
        "--resume",
        run.to_str().unwrap(),
        "--steps",
        &total,
    ]));
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["status"], "finished");
    assert!(!run.join("train.lock").exists());
}

#[test]
fn two_comparisons_on_one_folder_share_the_runs_and_write_one_correct_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let args = |out: &Path| -> Vec<String> {
        [
            "compare",
            "--arch",
            "mlp",
            "--steps",
            "400",
            "--seeds",
            "2",
            "--dataset-size",
            "64",
            "--batch-size",
            "8",
            "--log-every",
            "20",
            "--eval-every",
            "0",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_gan"))
            .args(args(&out))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn();
    // The first process is training its first run.
    wait_for_lines(&out.join("runs/relu-s42/metrics.csv"), 2);
    let second = spawn();
    let (a, b) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let (ea, eb) = (
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr),
    );
    assert!(a.status.success(), "first:\n{ea}");
    assert!(b.status.success(), "second:\n{eb}");
    assert!(
        eb.contains("relu-s42: being trained by process"),
        "second:\n{eb}"
    );
    for text in [&ea, &eb] {
        assert!(!text.contains("diverged"), "{text}");
        assert!(!text.contains("restarting"), "{text}");
    }

    // Every run trained once, start to end, by one process.
    for name in ["relu-s42", "leaky0.2-s42", "relu-s43", "leaky0.2-s43"] {
        let run = out.join("runs").join(name);
        let summary = json(&run.join("summary.json"));
        assert_eq!(summary["status"], "finished", "{name}");
        assert!(
            json(&run.join("config.json")).get("resumes").is_none(),
            "{name}"
        );
        let steps: Vec<u64> = metrics(&run).1.iter().map(|r| r[0] as u64).collect();
        let expected: Vec<u64> = (0..400).step_by(20).chain([399]).collect();
        assert_eq!(steps, expected, "{name}");
    }
    // The report covers all four runs (written by whichever process finished last).
    let report = json(&out.join("report.json"));
    assert_eq!(report["runs"].as_array().unwrap().len(), 4, "{report}");
    assert!(!out.join("train.lock").exists());
}

/// Flags of a small comparison in `out`, plus `extra`.
fn small_compare(out: &Path, extra: &[&str]) -> Vec<String> {
    [
        "compare",
        "--arch",
        "mlp",
        "--steps",
        "60",
        "--seeds",
        "2",
        "--dataset-size",
        "64",
        "--batch-size",
        "8",
        "--log-every",
        "10",
        "--eval-every",
        "0",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.to_str().unwrap().to_string()])
    .chain(extra.iter().map(|s| s.to_string()))
    .collect()
}

fn gan_s(args: &[String]) -> std::process::Output {
    gan(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The report's numbers without the timing ones (which differ between any two trainings).
fn numbers(report: &Path) -> serde_json::Value {
    let mut r = json(report);
    for g in r["groups"].as_array_mut().unwrap() {
        g["metrics"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| !k.starts_with("step_ms"));
    }
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for v in r["verdicts"].as_array().unwrap() {
        for c in v["comparisons"].as_array().unwrap() {
            if !c["metric"].as_str().unwrap().starts_with("step_ms") {
                rows.push(c.clone());
            }
        }
    }
    serde_json::json!({"groups": r["groups"], "comparisons": rows})
}

#[test]
fn plan_lists_every_run_with_its_command_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let o = gan_s(&small_compare(&out, &["--plan"]));
    assert_ok(&o);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let runs: Vec<&str> = lines.iter().map(|l| l["run"].as_str().unwrap()).collect();
    assert_eq!(
        runs,
        ["relu-s42", "leaky0.2-s42", "relu-s43", "leaky0.2-s43"]
    );
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i);
        let cmd: Vec<&str> = l["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(cmd[cmd.len() - 2..], ["--task-index", &i.to_string()]);
        assert!(!cmd.contains(&"--plan"));
    }
    assert!(!out.exists(), "--plan writes nothing");
    let e = assert_clean_error(
        &gan_s(&small_compare(&out, &["--task-index", "4"])),
        "index past the plan",
    );
    assert!(e.contains("outside the plan"), "{e}");
}

#[test]
fn two_processes_claiming_the_same_task_index_leave_it_to_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let mut args = small_compare(&out, &["--task-index", "0"]);
    // The first run long enough to be caught in training.
    let steps = args.iter().position(|a| a == "--steps").unwrap() + 1;
    args[steps] = "3000".into();
    let first = Command::new(env!("CARGO_BIN_EXE_gan"))
        .args(&args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(&out.join("runs/relu-s42/metrics.csv"), 2);
    let second = gan_s(&args);
    let err = assert_clean_error(&second, "the same --task-index twice");
    assert!(err.contains("is being trained by process"), "{err}");
    assert!(err.contains(&first.id().to_string()), "{err}");
    let o = first.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = json(&out.join("runs/relu-s42/summary.json"));
    assert_eq!(summary["status"], "finished");
    assert!(
        !out.join("runs/leaky0.2-s42").exists(),
        "only run 0 was trained"
    );
}

#[test]
fn jobs_and_task_index_loops_give_the_report_one_process_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    assert_ok(&gan_s(&small_compare(&one, &[])));

    let jobs = tmp.path().join("jobs");
    let o = gan_s(&small_compare(&jobs, &["--jobs", "2"]));
    assert_ok(&o);
    assert!(jobs.join("logs/relu-s42.log").is_file());

    // Two "array tasks" loops sharing the folder, as on a cluster.
    let tasks = tmp.path().join("tasks");
    let spawn = |indices: [usize; 2]| {
        let args: Vec<Vec<String>> = indices
            .iter()
            .map(|i| small_compare(&tasks, &["--task-index", &i.to_string()]))
            .collect();
        std::thread::spawn(move || {
            for a in args {
                assert_ok(&gan_s(&a));
            }
        })
    };
    let (a, b) = (spawn([0, 2]), spawn([1, 3]));
    a.join().unwrap();
    b.join().unwrap();

    let want = numbers(&one.join("report.json"));
    assert_eq!(numbers(&jobs.join("report.json")), want, "--jobs 2");
    assert_eq!(
        numbers(&tasks.join("report.json")),
        want,
        "--task-index loops"
    );
}
