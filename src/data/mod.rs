//! Datasets held in memory and the seeded batch order over them.

pub mod folder;
pub mod idx;
pub mod mnist;
pub mod pixels;
pub mod shapes;

use std::path::PathBuf;

use anyhow::{Result, bail};
use rand::seq::SliceRandom;

use serde::{Deserialize, Serialize};

use crate::rng::Stream;

/// Where the training images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// Built-in procedurally drawn filled shapes (circle, square, triangle, cross), centred:
    /// the default.
    Centred,
    /// The same filled shapes at random positions.
    Silhouettes,
    /// Built-in procedurally drawn outlines of the same four classes.
    Shapes,
    /// MNIST digits from IDX files.
    Mnist,
    /// Fashion-MNIST from IDX files or Debian's dataset-fashion-mnist package.
    #[serde(rename = "fashion-mnist")]
    FashionMnist,
    /// Every image under a folder; sub-folder names become class labels.
    Folder,
}

impl DatasetKind {
    /// Every dataset kind, in the order `--help` lists them.
    pub const ALL: [DatasetKind; 6] = [
        DatasetKind::Centred,
        DatasetKind::Silhouettes,
        DatasetKind::Shapes,
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Folder,
    ];

    /// Name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Centred => "centred",
            DatasetKind::Silhouettes => "silhouettes",
            DatasetKind::Shapes => "shapes",
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Folder => "folder",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            DatasetKind::Centred => {
                "built-in procedurally drawn filled shapes (circle, square, triangle, cross) of random size and rotation, centred as MNIST centres its digits; no files needed"
            }
            DatasetKind::Silhouettes => {
                "the same filled shapes at random positions: harder; the default DCGAN recipe under-draws one class at 1000 steps (the scenarios' data)"
            }
            DatasetKind::Shapes => {
                "built-in outlines of the same four shapes, stroked 1.5-3 px wide: harder; the default DCGAN recipe draws mostly circles and squares from them"
            }
            DatasetKind::Mnist => {
                "MNIST digits from IDX files (train-images-idx3-ubyte[.gz] and labels) in --data"
            }
            DatasetKind::FashionMnist => {
                "Fashion-MNIST from IDX files in --data, or from Debian's dataset-fashion-mnist package"
            }
            DatasetKind::Folder => {
                "every image under --data (recursive); sub-folder names become class labels"
            }
        }
    }
}

/// Images in [-1, 1], stored N×C×H×W contiguously, with one class label each.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Pixel values, `len * channels * size * size` of them.
    pub images: Vec<f32>,
    /// Class index of each image.
    pub labels: Vec<u32>,
    /// Number of images.
    pub len: usize,
    /// Channels per image (1 grayscale, 3 RGB).
    pub channels: usize,
    /// Height and width in pixels.
    pub size: usize,
    /// Name of each class index; empty when the data has no labels (then every label is 0).
    pub class_names: Vec<String>,
}

/// What to load: the --dataset, --data, --image-size, --channels and --dataset-size flags.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Which dataset.
    pub kind: DatasetKind,
    /// Its files, for the real datasets.
    pub path: Option<PathBuf>,
    /// Side length of the square images.
    pub size: usize,
    /// 1 or 3; the dataset's own default when None.
    pub channels: Option<usize>,
    /// Number of images (shapes: to draw; others: a seeded subset).
    pub limit: Option<usize>,
    /// Seed of the shapes drawing and of subsets.
    pub seed: u64,
    /// Folder data: skip unreadable files.
    pub skip_bad: bool,
}

/// Default number of shapes drawn.
pub const SHAPES_DEFAULT_LEN: usize = 10_000;

/// Loads the data `spec` names, converted to its size and channels; also returns the number of
/// unreadable files skipped (only with `skip_bad`).
pub fn load(spec: &Spec) -> Result<(Dataset, usize)> {
    let channels = spec.channels.unwrap_or(match spec.kind {
        DatasetKind::Folder => 3,
        _ => 1,
    });
    match spec.kind {
        DatasetKind::Centred | DatasetKind::Silhouettes | DatasetKind::Shapes => {
            if spec.path.is_some() {
                bail!(
                    "--data is for --dataset mnist, fashion-mnist or folder; --dataset {} draws its images",
                    spec.kind.name()
                );
            }
            let style = match spec.kind {
                DatasetKind::Shapes => shapes::Style::Outline,
                DatasetKind::Centred => shapes::Style::Centred,
                _ => shapes::Style::Filled,
            };
            let n = spec.limit.unwrap_or(SHAPES_DEFAULT_LEN);
            check_memory(n, channels * spec.size * spec.size)?;
            let mut data = shapes::generate(n, spec.size, spec.seed, style);
            if channels == 3 {
                data = data.to_rgb();
            }
            Ok((data, 0))
        }
        DatasetKind::Mnist | DatasetKind::FashionMnist => {
            let flavour = if spec.kind == DatasetKind::Mnist {
                mnist::Flavour::Digits
            } else {
                mnist::Flavour::Fashion
            };
            let data = mnist::load(&mnist::Request {
                flavour,
                dir: spec.path.as_deref(),
                size: spec.size,
                channels,
                limit: spec.limit,
                seed: spec.seed,
            })?;
            Ok((data, 0))
        }
        DatasetKind::Folder => {
            let Some(dir) = spec.path.as_deref() else {
                bail!("--dataset folder needs --data DIR, the folder of images to train on");
            };
            let loaded = folder::load(&folder::Request {
                dir,
                size: spec.size,
                channels,
                limit: spec.limit,
                seed: spec.seed,
                skip_bad: spec.skip_bad,
            })?;
            Ok((loaded.data, loaded.skipped.len()))
        }
    }
}

/// The images live in memory as f32: refuse what cannot fit rather than abort mid-way.
pub fn check_memory(len: usize, image_len: usize) -> Result<()> {
    let bytes = len as u64 * image_len as u64 * 4;
    if bytes > 8 << 30 {
        bail!(
            "{len} images of {image_len} values need {} GiB of memory; use fewer (--dataset-size) \
             or smaller (--image-size) images",
            bytes >> 30
        );
    }
    Ok(())
}

/// Indices of a seeded random subset of `limit` of `n` items (all of them, in order, if None).
pub fn subset(n: usize, limit: Option<usize>, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    match limit {
        Some(k) if k < n => {
            all.shuffle(&mut Stream::Subset.rng(seed));
            all.truncate(k);
            // Keep file order within the subset.
            all.sort_unstable();
            all
        }
        _ => all,
    }
}

impl Dataset {
    /// Number of values in one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.size * self.size
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let n = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            images.extend_from_slice(&self.images[i * n..(i + 1) * n]);
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            len: indices.len(),
            channels: self.channels,
            size: self.size,
            class_names: self.class_names.clone(),
        }
    }

    /// Whether the images carry class labels.
    pub fn labelled(&self) -> bool {
        !self.class_names.is_empty()
    }

    /// The same grayscale images with their one plane repeated as R, G and B.
    pub fn to_rgb(self) -> Dataset {
        assert_eq!(self.channels, 1, "to_rgb takes grayscale data");
        let plane = self.size * self.size;
        let images = self
            .images
            .chunks(plane)
            .flat_map(|p| p.iter().chain(p).chain(p).copied())
            .collect();
        Dataset {
            images,
            channels: 3,
            ..self
        }
    }
}

/// Hands out the batch of any step: the order of epoch e is a permutation seeded by (seed, e),
/// so the data order is a pure function of the step and a resumed run needs no RNG state.
pub struct Batcher {
    len: usize,
    batch_size: usize,
    seed: u64,
    /// The epoch whose order is cached, and that order.
    epoch: Option<(u64, Vec<usize>)>,
}

impl Batcher {
    /// A batcher over `len` items; incomplete batches at an epoch's end are skipped.
    pub fn new(len: usize, batch_size: usize, seed: u64) -> Self {
        assert!(
            batch_size >= 1 && batch_size <= len,
            "batch size checked by the caller"
        );
        Batcher {
            len,
            batch_size,
            seed,
            epoch: None,
        }
    }

    /// Gathers the pixels of step `step`'s batch into one N×C×H×W buffer.
    pub fn batch(&mut self, step: u64, data: &Dataset) -> Vec<f32> {
        self.batch_with_labels(step, data).0
    }

    /// The pixels and labels of step `step`'s batch.
    pub fn batch_with_labels(&mut self, step: u64, data: &Dataset) -> (Vec<f32>, Vec<u32>) {
        let per_epoch = (self.len / self.batch_size) as u64;
        let (epoch, k) = (step / per_epoch, (step % per_epoch) as usize);
        if self.epoch.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let mut order: Vec<usize> = (0..self.len).collect();
            order.shuffle(&mut Stream::BatchOrder.rng_at(self.seed, epoch));
            self.epoch = Some((epoch, order));
        }
        let order = &self.epoch.as_ref().expect("set above").1;
        let n = data.image_len();
        let mut out = Vec::with_capacity(self.batch_size * n);
        let mut labels = Vec::with_capacity(self.batch_size);
        for &i in &order[k * self.batch_size..(k + 1) * self.batch_size] {
            out.extend_from_slice(&data.images[i * n..(i + 1) * n]);
            labels.push(data.labels[i]);
        }
        (out, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(len: usize) -> Dataset {
        Dataset {
            images: (0..len).map(|i| i as f32).collect(),
            labels: vec![0; len],
            len,
            channels: 1,
            size: 1,
            class_names: vec!["x".into()],
        }
    }

    #[test]
    fn each_epoch_visits_every_item_once() {
        let data = numbered(12);
        let mut b = Batcher::new(12, 4, 5);
        for epoch in 0..3 {
            let mut seen: Vec<f32> = (0..3).flat_map(|k| b.batch(epoch * 3 + k, &data)).collect();
            seen.sort_by(f32::total_cmp);
            assert_eq!(seen, (0..12).map(|i| i as f32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn order_depends_on_seed_only() {
        let data = numbered(50);
        let run = |seed| {
            let mut b = Batcher::new(50, 8, seed);
            (0..10)
                .flat_map(|step| b.batch(step, &data))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn any_step_can_be_asked_for_first() {
        let data = numbered(50);
        let mut walk = Batcher::new(50, 8, 3);
        let walked: Vec<Vec<f32>> = (0..20).map(|s| walk.batch(s, &data)).collect();
        let mut jump = Batcher::new(50, 8, 3);
        assert_eq!(jump.batch(13, &data), walked[13]);
        assert_eq!(jump.batch(2, &data), walked[2]);
        assert_ne!(walked[0], walked[6], "epochs are reshuffled");
    }
}
