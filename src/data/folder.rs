//! Any folder of images: found recursively, decoded, resized and centre-cropped; the
//! top-level sub-folder of each image is its class.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use walkdir::WalkDir;

use super::{Dataset, check_memory, pixels, subset};

/// File extensions read as images (case-insensitive).
pub const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "gif", "webp"];

/// How the folder is read.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The folder given with --data.
    pub dir: &'a Path,
    /// Output side length in pixels.
    pub size: usize,
    /// Output channels, 1 or 3.
    pub channels: usize,
    /// Use a seeded random subset of this many images.
    pub limit: Option<usize>,
    /// Seed of the subset.
    pub seed: u64,
    /// Skip unreadable files instead of failing on the first.
    pub skip_bad: bool,
}

/// A loaded folder and the files that were skipped as unreadable.
#[derive(Debug)]
pub struct Loaded {
    /// The images.
    pub data: Dataset,
    /// Each skipped file with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Loads every image under `req.dir`.
pub fn load(req: &Request) -> Result<Loaded> {
    let dir = req.dir;
    if !dir.exists() {
        bail!("--data {}: no such folder", dir.display());
    }
    if !dir.is_dir() {
        bail!(
            "--data {}: not a folder; --dataset folder reads every image under a folder",
            dir.display()
        );
    }
    let (files, others) = image_files(dir)?;
    if files.is_empty() {
        if others == 0 {
            bail!("--data {}: the folder is empty", dir.display());
        }
        bail!(
            "--data {}: no images among its {others} files (looked for .{})",
            dir.display(),
            EXTENSIONS.join(", .")
        );
    }
    let chosen: Vec<&PathBuf> = subset(files.len(), req.limit, req.seed)
        .into_iter()
        .map(|i| &files[i])
        .collect();
    let image_len = req.channels * req.size * req.size;
    check_memory(chosen.len(), image_len)?;

    let decoded: Vec<(&PathBuf, Result<Vec<f32>>)> = chosen
        .par_iter()
        .map(|&p| {
            let pixels = decode(p).map(|img| {
                let mut out = Vec::with_capacity(image_len);
                pixels::push_image(&img, req.size, req.channels, &mut out);
                out
            });
            (p, pixels)
        })
        .collect();

    let class_of = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(dir).ok()?;
        let mut parts = rel.components();
        let first = parts.next()?;
        // A file directly in the folder has no class.
        parts.next()?;
        Some(first.as_os_str().to_string_lossy().into_owned())
    };
    let mut images = Vec::with_capacity(chosen.len() * image_len);
    let mut names = Vec::with_capacity(chosen.len());
    let mut skipped = Vec::new();
    for (path, result) in decoded {
        match result {
            Ok(px) => {
                images.extend(px);
                names.push(class_of(path));
            }
            Err(e) if req.skip_bad => skipped.push((path.clone(), format!("{e:#}"))),
            Err(e) => bail!("{e:#} (--skip-bad-images leaves such files out)"),
        }
    }
    if names.is_empty() {
        bail!(
            "--data {}: none of its {} image files could be read (first: {})",
            dir.display(),
            skipped.len(),
            skipped[0].1
        );
    }
    // Labels only when every image sits in a sub-folder; otherwise the data is unlabelled.
    let labelled = names.iter().all(Option::is_some);
    let class_names: Vec<String> = if labelled {
        names
            .iter()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let labels = names
        .iter()
        .map(|n| match n {
            Some(n) if labelled => class_names.binary_search(n).expect("collected above") as u32,
            _ => 0,
        })
        .collect();
    Ok(Loaded {
        data: Dataset {
            images,
            labels,
            len: names.len(),
            channels: req.channels,
            size: req.size,
            class_names,
        },
        skipped,
    })
}

/// Files under `dir` with an image extension, sorted, and the number of other files.
fn image_files(dir: &Path) -> Result<(Vec<PathBuf>, usize)> {
    let mut files = Vec::new();
    let mut others = 0;
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase());
        if ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
            files.push(entry.into_path());
        } else {
            others += 1;
        }
    }
    Ok((files, others))
}

/// Decodes one file, by its content rather than its extension.
fn decode(path: &Path) -> Result<image::DynamicImage> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let Ok(format) = image::guess_format(&bytes) else {
        bail!(
            "{}: not an image file (its content matches none of {})",
            path.display(),
            EXTENSIONS.join(", ")
        );
    };
    image::load_from_memory_with_format(&bytes, format).with_context(|| {
        format!(
            "{}: cannot decode the image (corrupt, truncated or unsupported)",
            path.display()
        )
    })
}
