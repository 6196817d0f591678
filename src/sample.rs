//! `gan sample`: a grid of samples, or rows of latent interpolations, from a run's generator.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cli::SampleArgs;
use crate::device;
use crate::model::{Generator, NetConfig};
use crate::report::grid::{grid_shape, save_grid_with_cols};
use crate::train::{checkpoint, normal_values};

/// Writes the grid `args` asks for and returns its path.
pub fn run(args: &SampleArgs) -> Result<PathBuf> {
    let run = &args.run;
    if !run.is_dir() {
        bail!("--run {}: no such run directory", run.display());
    }
    let net = read_net(run)?;
    let ckpt = checkpoint::require(run)?;
    let output = output_path(args)?;

    let opened = device::open(args.backend, args.device)?;
    let dev = opened.device;
    let g = load_generator(&ckpt, &net, &dev)?;

    let n = args.n as usize;
    let latent = net.latent_dim;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (z, count, cols) = if args.interpolate {
        let (cols, _) = grid_shape(n);
        let rows = (n / cols).max(1);
        (
            interpolations(&mut rng, rows, cols, latent),
            rows * cols,
            cols,
        )
    } else {
        (normal_values(&mut rng, n * latent), n, grid_shape(n).0)
    };
    let images = images_of(&g, &net, &z, &dev)?;
    save_grid_with_cols(&images, count, cols, net.channels, net.image_size, &output)?;
    let step = checkpoint::read_state(&ckpt)?.step;
    eprintln!(
        "wrote {} ({count} {} from the generator at step {step})",
        output.display(),
        if args.interpolate {
            "interpolated images"
        } else {
            "samples"
        }
    );
    Ok(output)
}

/// The generator of checkpoint folder `ckpt`, on `device` (batch norm in inference mode).
pub fn load_generator(ckpt: &Path, net: &NetConfig, device: &Device) -> Result<Generator> {
    Generator::new(net, device)?
        .try_load_file(ckpt.join("generator.bpk"))
        .map_err(|e| anyhow!("loading {}: {e:?}", ckpt.join("generator.bpk").display()))
}

/// `n` images (N×C×S×S values in [-1, 1]) from `g`, with noise seeded by `seed`.
pub fn generate(
    g: &Generator,
    net: &NetConfig,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<f32>> {
    let z = normal_values(&mut StdRng::seed_from_u64(seed), n * net.latent_dim);
    images_of(g, net, &z, device)
}

/// G applied to the noise rows in `z` (row-major, `latent_dim` each), 256 at a time.
fn images_of(g: &Generator, net: &NetConfig, z: &[f32], device: &Device) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(
        z.len() / net.latent_dim * net.channels * net.image_size * net.image_size,
    );
    for rows in z.chunks(256 * net.latent_dim) {
        let b = rows.len() / net.latent_dim;
        let z = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [b, net.latent_dim]), device);
        let images: Vec<f32> = g
            .forward(z)
            .into_data()
            .try_into_vec()
            .map_err(|e| anyhow!("reading samples from the device: {e:?}"))?;
        out.extend(images);
    }
    Ok(out)
}

/// The network settings saved in the run's config.json.
pub fn read_net(run: &Path) -> Result<NetConfig> {
    let path = run.join("config.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let net = config
        .get("net")
        .with_context(|| format!("{}: no network settings in it", path.display()))?;
    serde_json::from_value(net.clone())
        .with_context(|| format!("{}: unreadable network settings", path.display()))
}

/// The file to write: --output, else a name in the run's samples/ folder; never an existing one.
fn output_path(args: &SampleArgs) -> Result<PathBuf> {
    let path = match &args.output {
        Some(p) => p.clone(),
        None => {
            let kind = if args.interpolate {
                "interpolate"
            } else {
                "sample"
            };
            args.run
                .join("samples")
                .join(format!("{kind}-s{}.png", args.seed))
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
