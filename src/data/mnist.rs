//! MNIST and Fashion-MNIST training sets, read from their IDX files.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use image::{DynamicImage, GrayImage};
use rayon::prelude::*;

use super::{Dataset, check_memory, idx, pixels, subset};

/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// Which of the two datasets: they share the format and differ in class names and source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Handwritten digits.
    Digits,
    /// Zalando's clothing images.
    Fashion,
}

const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// How the training set is read: folder (or the Debian default), and the shape to convert to.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Which dataset.
    pub flavour: Flavour,
    /// The folder given with --data, if any.
    pub dir: Option<&'a Path>,
    /// Output side length in pixels.
    pub size: usize,
    /// Output channels, 1 or 3.
    pub channels: usize,
    /// Use a seeded random subset of this many images.
    pub limit: Option<usize>,
    /// Seed of the subset.
    pub seed: u64,
}

/// Loads the training split (`train-images-idx3-ubyte` and `train-labels-idx1-ubyte`).
pub fn load(req: &Request) -> Result<Dataset> {
    let dir = resolve_dir(req.flavour, req.dir)?;
    let images_path = find(&dir, "train-images", "idx3-ubyte")?;
    let labels_path = find(&dir, "train-labels", "idx1-ubyte")?;
    let images = idx::read(&images_path, 3)?;
    let labels = idx::read(&labels_path, 1)?;
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != n {
        bail!(
            "{} holds {n} images but {} holds {} labels",
            images_path.display(),
            labels_path.display(),
            labels.dims[0]
        );
    }
    if n == 0 || h == 0 || w == 0 {
        bail!(
            "{} holds no images (sizes {:?})",
            images_path.display(),
            images.dims
        );
    }
    if let Some((i, l)) = labels.data.iter().enumerate().find(|(_, l)| **l > 9) {
        bail!(
            "{}: label {l} of image {i} is not a class 0..9",
            labels_path.display()
        );
    }
    let chosen = subset(n, req.limit, req.seed);
    let plane = h * w;
    let out_len = req.channels * req.size * req.size;
    check_memory(chosen.len(), out_len)?;
    let pixels: Vec<f32> = chosen
        .par_iter()
        .flat_map_iter(|&i| {
            let raw = images.data[i * plane..(i + 1) * plane].to_vec();
            let img = GrayImage::from_raw(w as u32, h as u32, raw).expect("plane has h*w bytes");
            let mut out = Vec::with_capacity(out_len);
            pixels::push_image(
                &DynamicImage::ImageLuma8(img),
                req.size,
                req.channels,
                &mut out,
            );
            out
        })
        .collect();
    let class_names = match req.flavour {
        Flavour::Digits => (0..10).map(|d| d.to_string()).collect(),
        Flavour::Fashion => FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
    };
    Ok(Dataset {
        images: pixels,
        labels: chosen.iter().map(|&i| labels.data[i] as u32).collect(),
        len: chosen.len(),
        channels: req.channels,
        size: req.size,
        class_names,
    })
}

/// The folder to read: --data, else Debian's Fashion-MNIST, else an error saying how to get it.
fn resolve_dir(flavour: Flavour, dir: Option<&Path>) -> Result<PathBuf> {
    let (name, url) = match flavour {
        Flavour::Digits => (
            "mnist",
            "https://yann.lecun.com/exdb/mnist/ (or any MNIST mirror)",
        ),
        Flavour::Fashion => (
            "fashion-mnist",
            "https://github.com/zalandoresearch/fashion-mnist",
        ),
    };
    match dir {
        Some(d) if d.is_dir() => Ok(d.to_path_buf()),
        Some(d) if d.exists() => bail!(
            "--data {}: not a folder; give the folder holding train-images-idx3-ubyte[.gz]",
            d.display()
        ),
        Some(d) => bail!("--data {}: no such folder", d.display()),
        None if flavour == Flavour::Fashion && Path::new(DEBIAN_FASHION_MNIST).is_dir() => {
            Ok(PathBuf::from(DEBIAN_FASHION_MNIST))
        }
        None if flavour == Flavour::Fashion => bail!(
            "--dataset fashion-mnist needs its files: install Debian's package \
             (apt-get install dataset-fashion-mnist), or download train-images-idx3-ubyte.gz and \
             train-labels-idx1-ubyte.gz from {url} and pass --data DIR"
        ),
        None => bail!(
            "--dataset {name} needs --data DIR: the folder holding train-images-idx3-ubyte[.gz] \
             and train-labels-idx1-ubyte[.gz], from {url}"
        ),
    }
}

/// Finds `<stem>-<kind>` or `<stem>.<kind>` in `dir`, plain or gzipped.
fn find(dir: &Path, stem: &str, kind: &str) -> Result<PathBuf> {
    let names = [
        format!("{stem}-{kind}"),
        format!("{stem}-{kind}.gz"),
        format!("{stem}.{kind}"),
        format!("{stem}.{kind}.gz"),
    ];
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: no {} or {} in this folder",
                dir.display(),
                names[0],
                names[1]
            )
        })
}
