//! Where a run's class imbalance comes from (README, "Default training and the four shapes"):
//! `cargo run --release --example class_balance -- RUN_DIR` prints the evaluator's class shares
//! of the run's generator
//! - sampled as `gan eval` samples it (batch norm with the checkpoint's running statistics),
//!   and split into the samples inside and outside the real manifold (the k-NN balls of
//!   precision), so a reader can tell a generator that draws too few crosses from one whose
//!   crosses are too blurry to be read as crosses;
//! - with batch norm on each training-size batch's own statistics, as D sees fakes in training;
//! - with the running statistics re-estimated on the final weights (200 fresh batches).

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::*;
use gan::data::Dataset;
use gan::device::{self, Adapter, BackendKind};
use gan::eval::evaluator::{Evaluator, FEATURES, embed};
use gan::eval::metrics::{Features, inside_real};
use gan::eval::{K_NEIGHBOURS, Reference, describe, evaluator_for, real_subset, reference_data};
use gan::model::condition;
use gan::rng::{Stream, normal_values};
use gan::run::RunDir;

/// Generated and real images compared, as `gan eval`'s default (fewer when the data is smaller).
const SAMPLES: usize = 2000;
/// The noise and real-image seed, as `gan eval`'s default.
const SEED: u64 = gan::eval::DEFAULT_SEED;

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: class_balance RUN_DIR")?;
    let run = RunDir::open(Path::new(&path), "RUN_DIR")?;
    let settings = run.config()?.args;
    let data = reference_data(&settings)?;
    let dev = device::open(BackendKind::Flex, Adapter::default())?.device;
    // Batch norm uses batch statistics only on the autodiff device.
    let ad = dev.clone().autodiff();
    let out = run.path().parent().unwrap_or(Path::new("."));
    let (model, info) =
        evaluator_for(&data, &settings, out, &dev)?.context("the run's data has no labels")?;
    // As `gan eval`: no more samples than the data holds.
    let n = SAMPLES.min(data.len);
    anyhow::ensure!(
        n > K_NEIGHBOURS,
        "{n} images are too few for the k-NN manifold"
    );
    let real = real_subset(&data, n, SEED);
    let reference = Reference::new(&real, Some((model.clone(), info.clone())), &dev)?;
    let (g, net, step) = run.generator(&dev)?;
    let z = normal_values(&mut Stream::SampleNoise.rng(SEED), n * net.latent_dim);
    let z = net.noise_rows(z, condition::balanced(net.classes));
    let show = |what: &str, fake: &[f32]| -> Result<()> {
        println!(
            "{what}: {}",
            describe(&reference.quality_asked(fake, net.classes, &dev)?)
        );
        Ok(())
    };
    println!("{} at step {step}", run.path().display());

    let fake = g.images(&z, &net, &dev)?;
    show("running statistics (gan eval)", &fake)?;
    manifold_split(&model, &info.classes, &real, &fake, &dev)?;

    // Training-mode batches of the run's own size; the last one overlaps the one before so that
    // no batch is smaller (a batch of one would normalise every value to the offset).
    let (g_train, _, _) = run.generator(&ad)?;
    let (b, latent) = ((settings.batch_size as usize).min(n), net.noise_dim());
    let mut fake = Vec::with_capacity(fake.len());
    let mut done = 0;
    while done < n {
        let start = done.min(n - b);
        let images = g_train.images(&z[start * latent..(start + b) * latent], &net, &ad)?;
        let per = images.len() / b;
        fake.extend_from_slice(&images[(done - start) * per..]);
        done = start + b;
    }
    show(&format!("batch statistics, batches of {b}"), &fake)?;

    // Momentum 0.1 over 200 batches forgets the checkpoint's statistics entirely.
    let (g_train, _, _) = run.generator(&ad)?;
    let fresh = normal_values(
        &mut Stream::SampleNoise.rng(SEED + 1),
        200 * b * net.latent_dim,
    );
    let fresh = net.noise_rows(fresh, condition::balanced(net.classes));
    for rows in fresh.chunks(b * latent) {
        g_train.images(rows, &net, &ad)?;
    }
    let fake = g_train.valid().images(&z, &net, &dev)?;
    show("running statistics re-estimated", &fake)
}

/// Prints the class shares of the fakes inside and outside the real manifold (the samples
/// precision counts, and the rest).
fn manifold_split(
    model: &Evaluator,
    classes: &[String],
    real: &Dataset,
    fake: &[f32],
    dev: &Device,
) -> Result<()> {
    let features = |images: &[f32]| -> Result<(Features, Vec<usize>)> {
        let (values, predicted) = embed(model, images, real.channels, real.size, dev)?;
        Ok((
            Features {
                values,
                dim: FEATURES,
            },
            predicted,
        ))
    };
    let (real_features, _) = features(&real.images)?;
    let (fake_features, predicted) = features(fake)?;
    let inside = inside_real(&real_features, &fake_features, K_NEIGHBOURS);
    for (what, want) in [("inside", true), ("outside", false)] {
        let mut counts = vec![0usize; classes.len()];
        for (&c, _) in predicted.iter().zip(&inside).filter(|(_, i)| **i == want) {
            counts[c] += 1;
        }
        let n: usize = counts.iter().sum();
        let shares: Vec<String> = classes
            .iter()
            .zip(&counts)
            .map(|(name, &c)| format!("{name} {:.0}%", 100.0 * c as f64 / n.max(1) as f64))
            .collect();
        println!(
            "  {what} the real manifold ({n} samples): {}",
            shares.join(" ")
        );
    }
    Ok(())
}
