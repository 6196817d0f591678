//! `gan sample`: a grid of samples, or rows of latent interpolations, from a run's generator.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;

use crate::device::{self, Adapter, BackendKind};
use crate::model::condition;
use crate::rng::{Stream, normal_values};
use crate::run::RunDir;
use crate::run::grid::{grid_shape, save_grid_with_cols};

/// What `gan sample` draws.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run directory whose checkpoint holds the generator.
    pub run: PathBuf,
    /// Number of images (with `interpolate`: rounded down to whole rows).
    pub n: u32,
    /// Seed of the noise: the same seed gives the same grid.
    pub seed: u64,
    /// Where to write the PNG (None: in the run's samples/ folder).
    pub output: Option<PathBuf>,
    /// Rows of latent interpolations instead of independent samples.
    pub interpolate: bool,
    /// Tensor backend.
    pub backend: BackendKind,
    /// wgpu adapter.
    pub device: Adapter,
}

/// Writes the grid `opts` asks for and returns its path.
pub fn run(opts: &Options) -> Result<PathBuf> {
    let run = RunDir::open(&opts.run, "--run")?;
    run.checkpoint()?;
    let output = output_path(opts, &run)?;

    let dev = device::open(opts.backend, opts.device)?.device;
    let (g, net, step) = run.generator(&dev)?;

    let n = opts.n as usize;
    let latent = net.latent_dim;
    let mut rng = Stream::SampleNoise.rng(opts.seed);
    // When conditional, sample i is of class i % classes (with 8 columns and 4 classes, one
    // class per column), and each row of interpolations keeps one class.
    let (z, count, cols) = if opts.interpolate {
        let (cols, _) = grid_shape(n);
        let rows = (n / cols).max(1);
        let z = interpolations(&mut rng, rows, cols, latent);
        let in_turn = condition::balanced(net.classes);
        (net.noise_rows(z, |i| in_turn(i / cols)), rows * cols, cols)
    } else {
        let z = normal_values(&mut rng, n * latent);
        let z = net.noise_rows(z, condition::balanced(net.classes));
        (z, n, grid_shape(n).0)
    };
    let images = g.images(&z, &net, &dev)?;
    save_grid_with_cols(&images, count, cols, net.channels, net.image_size, &output)?;
    eprintln!(
        "wrote {} ({count} {} from the generator at step {step})",
        output.display(),
        if opts.interpolate {
            "interpolated images"
        } else {
            "samples"
        }
    );
    Ok(output)
}

/// The file to write: --output, else a name in the run's samples/ folder; never an existing one.
fn output_path(args: &Options, run: &RunDir) -> Result<PathBuf> {
    let path = match &args.output {
        Some(p) => p.clone(),
        None => {
            let kind = if args.interpolate {
                "interpolate"
            } else {
                "sample"
            };
            run.samples().join(format!("{kind}-s{}.png", args.seed))
        }
    };
    if path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        != Some("png".into())
    {
        bail!(
            "--output {}: the grid is written as PNG; give a .png name",
            path.display()
        );
    }
    if path.exists() {
        bail!(
            "{} already exists; give another --output (or --seed) — files are never overwritten",
            path.display()
        );
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(path)
}

/// `rows` walks of `cols` equal steps, each between two random noise vectors (endpoints included).
fn interpolations(rng: &mut StdRng, rows: usize, cols: usize, latent: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * cols * latent);
    for _ in 0..rows {
        let a = normal_values(rng, latent);
        let b = normal_values(rng, latent);
        for k in 0..cols {
            let t = if cols == 1 {
                0.0
            } else {
                k as f32 / (cols - 1) as f32
            };
            out.extend(a.iter().zip(&b).map(|(x, y)| x + t * (y - x)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn interpolation_rows_start_and_end_at_their_endpoints() {
        let z = interpolations(&mut StdRng::seed_from_u64(1), 2, 5, 3);
        assert_eq!(z.len(), 2 * 5 * 3);
        let at = |row: usize, k: usize| &z[(row * 5 + k) * 3..(row * 5 + k + 1) * 3];
        for row in 0..2 {
            for i in 0..3 {
                let mid = (at(row, 0)[i] + at(row, 4)[i]) / 2.0;
                assert!((at(row, 2)[i] - mid).abs() < 1e-5);
            }
        }
        assert_ne!(at(0, 0), at(1, 0), "rows have their own endpoints");
    }
}
