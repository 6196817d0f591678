//! End-to-end tests of real-data loading: IDX files, image folders, and their bad-input errors.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{assert_clean_error, assert_ok, gan, grid_pixels};
use flate2::Compression;
use flate2::write::GzEncoder;
use gan::data::idx;
use image::{ColorType, DynamicImage, Rgb, RgbImage};

/// A short training on `dataset` from `data`, with small defaults unless `extra` sets them.
fn train(out: &Path, dataset: &str, data: Option<&Path>, extra: &[&str]) -> Output {
    let mut args = vec![
        "--out".to_string(),
        out.to_str().unwrap().into(),
        "--dataset".into(),
        dataset.into(),
        "--quiet".into(),
    ];
    if let Some(d) = data {
        args.extend(["--data".into(), d.to_str().unwrap().into()]);
    }
    for (flag, value) in [
        ("--steps", "2"),
        ("--batch-size", "4"),
        ("--sample-count", "9"),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag.into(), value.into()]);
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    gan(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The one run directory under `out`.
fn only_run(out: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

fn config(run: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(run.join("config.json")).unwrap()).unwrap()
}

/// Writes MNIST-style IDX files: `n` 28×28 images (a bright bar whose row is the label) and
/// `n_labels` labels, gzipped or plain.
fn write_idx(dir: &Path, n: usize, n_labels: usize, gz: bool) {
    fs::create_dir_all(dir).unwrap();
    let mut pixels = vec![0u8; n * 784];
    for i in 0..n {
        let row = 4 + 2 * (i % 10);
        pixels[i * 784 + row * 28..i * 784 + row * 28 + 28].fill(255);
    }
    let labels: Vec<u8> = (0..n_labels).map(|i| (i % 10) as u8).collect();
    let files = [
        (
            "train-images-idx3-ubyte",
            idx::encode(&[n, 28, 28], &pixels),
        ),
        ("train-labels-idx1-ubyte", idx::encode(&[n_labels], &labels)),
    ];
    for (name, bytes) in files {
        if gz {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(&bytes).unwrap();
            fs::write(dir.join(format!("{name}.gz")), enc.finish().unwrap()).unwrap();
        } else {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// A colourful `w`×`h` picture, different for each `k`.
fn picture(w: u32, h: u32, k: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 7 + k * 40) as u8,
            (y * 5) as u8,
            ((x + y + k) * 3) as u8,
        ])
    }))
}

/// An image folder with three classes in PNG, JPEG, BMP, GIF and WebP of assorted sizes.
fn write_folder(dir: &Path) {
    for (class, ext, w, h) in [
        ("cats", "png", 40, 30),
        ("dogs", "jpg", 50, 64),
        ("misc/deep", "bmp", 28, 28),
        ("misc", "gif", 33, 33),
        ("misc", "webp", 20, 36),
    ] {
        let sub = dir.join(class);
        fs::create_dir_all(&sub).unwrap();
        for k in 0..3 {
            picture(w, h, k)
                .save(sub.join(format!("{ext}{k}.{ext}")))
                .unwrap();
        }
    }
}

#[test]
fn mnist_idx_files_plain_and_gzipped_train() {
    let tmp = tempfile::tempdir().unwrap();
    for gz in [false, true] {
        let data = tmp.path().join(format!("mnist-gz{gz}"));
        write_idx(&data, 40, 40, gz);
        let out = tmp.path().join(format!("out-gz{gz}"));
        assert_ok(&train(&out, "mnist", Some(&data), &[]));
        let run = only_run(&out);
        let cfg = config(&run);
        assert_eq!(cfg["dataset"]["len"], 40);
        assert_eq!(cfg["dataset"]["classes"].as_array().unwrap().len(), 10);
        let grid = image::open(run.join("samples/final.png")).unwrap();
        assert_eq!((grid.width(), grid.height()), grid_pixels(9, 28));
        assert_eq!(grid.color(), ColorType::L8);
    }
}

#[test]
fn fashion_mnist_from_data_dir_resized_to_rgb_32_and_subset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fm");
    write_idx(&data, 50, 50, true);
    let out = tmp.path().join("out");
    // --threads 1 must hold for the data loader too (it used to build the thread pool with
    // every core before --threads was applied).
    let extra = [
        "--image-size",
        "32",
        "--channels",
        "3",
        "--dataset-size",
        "20",
        "--threads",
        "1",
    ];
    assert_ok(&train(&out, "fashion-mnist", Some(&data), &extra));
    let run = only_run(&out);
    let cfg = config(&run);
    assert_eq!(cfg["threads"], 1);
    assert_eq!(cfg["device"], "flex (CPU, 1 threads)");
    assert_eq!(cfg["dataset"]["len"], 20);
    assert_eq!(cfg["dataset"]["channels"], 3);
    assert_eq!(cfg["dataset"]["classes"][9], "Ankle boot");
    let grid = image::open(run.join("samples/final.png")).unwrap();
    assert_eq!(grid.color(), ColorType::Rgb8);
    assert_eq!((grid.width(), grid.height()), grid_pixels(9, 32));
}

/// Uses Debian's dataset-fashion-mnist package; `.ci/run` installs it and sets GAN_CI.
#[test]
fn fashion_mnist_from_the_debian_package_needs_no_flag() {
    if !Path::new("/usr/share/datasets/fashion-mnist").is_dir()
        && std::env::var_os("GAN_CI").is_none()
    {
        eprintln!("SKIPPED: apt-get install dataset-fashion-mnist to run this test");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_ok(&train(
        &out,
        "fashion-mnist",
        None,
        &["--dataset-size", "300"],
    ));
    let cfg = config(&only_run(&out));
    assert_eq!(cfg["dataset"]["len"], 300);
    assert_eq!(cfg["dataset"]["classes"][0], "T-shirt/top");
}

#[test]
fn image_folder_gives_labels_and_trains_at_each_size_and_channel_count() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    write_folder(&data);
    fs::write(data.join("README.txt"), "not an image, ignored").unwrap();
    for (size, channels, arch) in [
        ("28", "1", "dcgan"),
        ("32", "3", "dcgan"),
        ("64", "3", "dcgan"),
        ("64", "1", "mlp"),
        ("32", "3", "mlp"),
    ] {
        let out = tmp.path().join(format!("out-{size}-{channels}-{arch}"));
        let extra = ["--image-size", size, "--channels", channels, "--arch", arch];
        assert_ok(&train(&out, "folder", Some(&data), &extra));
        let run = only_run(&out);
        let cfg = config(&run);
        assert_eq!(cfg["dataset"]["len"], 15, "{size} {channels} {arch}");
        assert_eq!(
            cfg["dataset"]["classes"],
            serde_json::json!(["cats", "dogs", "misc"])
        );
        let grid = image::open(run.join("samples/final.png")).unwrap();
        let want = if channels == "3" {
            ColorType::Rgb8
        } else {
            ColorType::L8
        };
        assert_eq!(grid.color(), want, "{size} {channels} {arch}");
        let size: u32 = size.parse().unwrap();
        assert_eq!((grid.width(), grid.height()), grid_pixels(9, size));
    }
}

/// Five pictures in `root/flat`, no sub-folders: a folder without labels.
fn flat_folder(root: &Path) -> PathBuf {
    let data = root.join("flat");
    fs::create_dir_all(&data).unwrap();
    for k in 0..5 {
        picture(30, 30, k)
            .save(data.join(format!("{k}.png")))
            .unwrap();
    }
    data
}

#[test]
fn folder_without_subfolders_is_unlabelled_rgb_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let data = flat_folder(tmp.path());
    let out = tmp.path().join("out");
    assert_ok(&train(&out, "folder", Some(&data), &[]));
    let cfg = config(&only_run(&out));
    assert_eq!(cfg["dataset"]["classes"], serde_json::json!([]));
    assert_eq!(cfg["dataset"]["channels"], 3);
}

#[test]
fn class_conditioning_refuses_unlabelled_data_and_leaves_the_output_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = flat_folder(tmp.path());
    let out = out_with_earlier_run(tmp.path());
    refused(
        &out,
        "folder",
        Some(&data),
        &["--condition", "class"],
        &[
            "--condition class needs labelled data",
            "no labels",
            "sub-folders",
        ],
    );
}

#[test]
fn a_conditional_run_on_a_folder_trains_and_refuses_to_resume_when_its_classes_change() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("photos");
    write_folder(&data);
    let out = tmp.path().join("out");
    let extra = ["--condition", "class", "--checkpoint-every", "1"];
    assert_ok(&train(&out, "folder", Some(&data), &extra));
    let run = only_run(&out);
    assert_eq!(config(&run)["net"]["classes"], 3, "cats, dogs, misc");
    let before = fs::read(run.join("metrics.csv")).unwrap();
    // A fourth class appears under the run.
    let birds = data.join("birds");
    fs::create_dir_all(&birds).unwrap();
    picture(30, 30, 9).save(birds.join("b.png")).unwrap();
    let o = gan(&["--resume", run.to_str().unwrap(), "--steps", "4", "--quiet"]);
    let err = assert_clean_error(&o, "classes changed");
    assert!(
        err.contains("conditioned on 3 classes and the data now has 4"),
        "{err}"
    );
    assert_eq!(
        fs::read(run.join("metrics.csv")).unwrap(),
        before,
        "run untouched"
    );
}

/// Every bad input fails with one line naming the problem, and leaves `out` as it was.
fn refused(out: &Path, dataset: &str, data: Option<&Path>, extra: &[&str], expect: &[&str]) {
    let o = train(out, dataset, data, extra);
    let err = assert_clean_error(&o, &format!("{dataset} {data:?} {extra:?}"));
    for e in expect {
        assert!(err.contains(e), "expected '{e}' in: {err}");
    }
    let kept: Vec<_> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(kept, vec!["earlier-run"], "output folder changed");
    assert_eq!(
        fs::read_to_string(out.join("earlier-run/metrics.csv")).unwrap(),
        "step\n1\n"
    );
}

fn out_with_earlier_run(root: &Path) -> PathBuf {
    let out = root.join("out");
    fs::create_dir_all(out.join("earlier-run")).unwrap();
    fs::write(out.join("earlier-run/metrics.csv"), "step\n1\n").unwrap();
    out
}

#[test]
fn the_drawn_datasets_train_and_refuse_a_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    for dataset in ["centred", "silhouettes", "shapes"] {
        let out = tmp.path().join(dataset);
        assert_ok(&train(&out, dataset, None, &["--dataset-size", "16"]));
        let run = only_run(&out);
        assert_eq!(config(&run)["args"]["dataset"], dataset);
        let name = run.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with(&format!("{dataset}-dcgan-")), "{name}");
        assert_eq!(config(&run)["dataset"]["len"], 16);
    }
    let out = out_with_earlier_run(tmp.path());
    refused(
        &out,
        "silhouettes",
        Some(tmp.path()),
        &[],
        &["--data is for", "--dataset silhouettes draws its images"],
    );
}

#[test]
fn bad_idx_files_are_refused_with_the_file_and_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let out = out_with_earlier_run(tmp.path());
    let dir = |name: &str| {
        let d = tmp.path().join(name);
        write_idx(&d, 20, 20, false);
        d
    };

    let magic = dir("magic");
    let labels = fs::read(magic.join("train-labels-idx1-ubyte")).unwrap();
    fs::write(magic.join("train-images-idx3-ubyte"), labels).unwrap();
    refused(
        &out,
        "mnist",
        Some(&magic),
        &[],
        &["train-images-idx3-ubyte", "magic number"],
    );

    let truncated = dir("truncated");
    let images = truncated.join("train-images-idx3-ubyte");
    let bytes = fs::read(&images).unwrap();
    fs::write(&images, &bytes[..bytes.len() - 100]).unwrap();
    refused(
        &out,
        "mnist",
        Some(&truncated),
        &[],
        &["train-images-idx3-ubyte", "truncated"],
    );

    let mismatch = tmp.path().join("mismatch");
    write_idx(&mismatch, 20, 19, false);
    refused(
        &out,
        "mnist",
        Some(&mismatch),
        &[],
        &["20 images", "19 labels"],
    );

    let badgz = tmp.path().join("badgz");
    write_idx(&badgz, 20, 20, true);
    let gz = badgz.join("train-images-idx3-ubyte.gz");
    let bytes = fs::read(&gz).unwrap();
    fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        &out,
        "fashion-mnist",
        Some(&badgz),
        &[],
        &["train-images-idx3-ubyte.gz", "gzip"],
    );

    let nolabels = dir("nolabels");
    fs::remove_file(nolabels.join("train-labels-idx1-ubyte")).unwrap();
    refused(
        &out,
        "mnist",
        Some(&nolabels),
        &[],
        &["no train-labels-idx1-ubyte"],
    );

    refused(&out, "mnist", None, &[], &["needs --data"]);
    refused(
        &out,
        "mnist",
        Some(&tmp.path().join("absent")),
        &[],
        &["no such folder"],
    );
    let ok = dir("ok");
    refused(&out, "mnist", Some(&ok), &["--image-size", "30"], &["30"]);
}

#[test]
fn bad_image_folders_are_refused_unless_skipping_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let out = out_with_earlier_run(tmp.path());
    let folder = |name: &str| {
        let d = tmp.path().join(name);
        fs::create_dir_all(&d).unwrap();
        d
    };

    refused(
        &out,
        "folder",
        Some(&tmp.path().join("absent")),
        &[],
        &["absent", "no such folder"],
    );
    refused(&out, "folder", None, &[], &["needs --data"]);
    let empty = folder("empty");
    refused(&out, "folder", Some(&empty), &[], &["empty"]);
    let texts = folder("texts");
    fs::write(texts.join("notes.txt"), "hello").unwrap();
    refused(&out, "folder", Some(&texts), &[], &["no images"]);

    // Good images plus one bad file of each kind.
    let mixed = folder("mixed");
    for k in 0..6 {
        picture(24, 24, k)
            .save(mixed.join(format!("good{k}.png")))
            .unwrap();
    }
    let mut png = Vec::new();
    picture(64, 64, 9)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let bad = [
        ("noise.png", vec![0x42u8; 500]),
        ("cut.png", png[..png.len() / 2].to_vec()),
        ("letter.jpg", b"Dear reader, this is text.".to_vec()),
    ];
    for (name, bytes) in &bad {
        let only = folder(&format!("only-{name}"));
        for k in 0..4 {
            picture(24, 24, k)
                .save(only.join(format!("good{k}.png")))
                .unwrap();
        }
        fs::write(only.join(name), bytes).unwrap();
        fs::write(mixed.join(name), bytes).unwrap();
        refused(
            &out,
            "folder",
            Some(&only),
            &[],
            &[name, "--skip-bad-images"],
        );
    }
    refused(
        &out,
        "folder",
        Some(&mixed),
        &["--image-size", "30"],
        &["30"],
    );

    let skip_out = tmp.path().join("skip-out");
    let o = train(&skip_out, "folder", Some(&mixed), &["--skip-bad-images"]);
    assert_ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("skipped 3 unreadable"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let cfg = config(&only_run(&skip_out));
    assert_eq!(cfg["dataset"]["len"], 6);
    assert_eq!(cfg["dataset"]["skipped_files"], 3);

    let all_bad = folder("all-bad");
    fs::write(all_bad.join("x.png"), b"nope").unwrap();
    refused(
        &out,
        "folder",
        Some(&all_bad),
        &["--skip-bad-images"],
        &["none of its 1"],
    );
}
