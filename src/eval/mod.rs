//! Offline sample quality: a run's generator against its real data, in the feature space of an
//! evaluator CNN trained on that data (`gan eval`).

pub mod evaluator;
pub mod metrics;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{self, Dataset, DatasetKind, subset};
use crate::device::{self, Adapter, BackendKind};
use crate::metric::Metric;
use crate::model::{Generator, NetConfig, condition};
use crate::rng::{Stream, normal_values};
use crate::run::RunDir;
use crate::settings::TrainSettings;
use evaluator::{Evaluator, EvaluatorInfo, FEATURES};
use metrics::Features;

/// Neighbours of the k-NN manifolds (Kynkäänniemi et al. use 3).
pub const K_NEIGHBOURS: usize = 3;
/// A class counts as produced when it gets at least this fraction of its uniform share (1/K)
/// of the predictions: the evaluator's own errors (a few percent) then do not count as classes.
pub const MIN_CLASS_SHARE: f64 = 0.5;

/// The quality of one generator; labelled data gets the feature-space metrics, unlabelled data
/// the pixel-space MMD.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Quality {
    /// Generated (and real) images compared.
    pub samples: usize,
    /// Fréchet distance between the Gaussians of real and generated evaluator features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<f64>,
    /// Share of generated samples inside the real feature manifold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Share of real samples inside the generated feature manifold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// Share of classes the evaluator finds in at least half their uniform share (1/2K) of the
    /// generated samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_coverage: Option<f64>,
    /// KL divergence (nats) of the predicted-class histogram from uniform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_kl: Option<f64>,
    /// Share of the generated samples the evaluator assigns to each class, by class name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_shares: Option<Vec<(String, f64)>>,
    /// Share of the generated samples the evaluator puts in the class G was asked for (class-
    /// conditional generators only): whether G draws what it is told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_agreement: Option<f64>,
    /// Squared kernel MMD in pixel space (the label-free fallback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmd_pixel: Option<f64>,
    /// Held-out accuracy of the evaluator the features come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluator_accuracy: Option<f64>,
}

/// Measures `fake` images (N×C×S×S) against `real` ones; with an evaluator, in its features.
pub fn quality(
    real: &Dataset,
    fake: &[f32],
    evaluator: Option<&(Evaluator, EvaluatorInfo)>,
    device: &Device,
) -> Result<Quality> {
    Reference::new(real, evaluator.cloned(), device)?.quality(fake, device)
}

/// The real side of the comparison, embedded once and measured against many generators.
pub struct Reference {
    features: Features,
    evaluator: Option<(Evaluator, EvaluatorInfo)>,
    channels: usize,
    size: usize,
}

impl Reference {
    /// Embeds `real` in the evaluator's features (pixels without one).
    pub fn new(
        real: &Dataset,
        evaluator: Option<(Evaluator, EvaluatorInfo)>,
        device: &Device,
    ) -> Result<Self> {
        let features = match &evaluator {
            Some((model, _)) => Features {
                values: evaluator::embed(model, &real.images, real.channels, real.size, device)?.0,
                dim: FEATURES,
            },
            None => Features {
                values: real.images.clone(),
                dim: real.image_len(),
            },
        };
        Ok(Reference {
            features,
            evaluator,
            channels: real.channels,
            size: real.size,
        })
    }

    /// The metrics `quality` fills in.
    pub fn metrics(&self) -> &'static [Metric] {
        match self.evaluator {
            Some(_) => &Metric::QUALITY_LABELLED,
            None => &Metric::QUALITY_UNLABELLED,
        }
    }

    /// Held-out accuracy of the evaluator, if there is one.
    pub fn evaluator_accuracy(&self) -> Option<f64> {
        self.evaluator.as_ref().map(|(_, info)| info.test_accuracy)
    }

    /// The quality of generated images `fake` (N×C×S×S).
    pub fn quality(&self, fake: &[f32], device: &Device) -> Result<Quality> {
        self.quality_asked(fake, 0, device)
    }

    /// [`Self::quality`] of images a conditional G was asked to draw as class `i % classes`
    /// for sample `i` (as [`generate`] asks), with how often it drew the class asked for;
    /// `classes` 0 for an unconditional G.
    pub fn quality_asked(&self, fake: &[f32], classes: usize, device: &Device) -> Result<Quality> {
        let n = fake.len() / (self.channels * self.size * self.size);
        let mut q = Quality {
            samples: n,
            fd: None,
            precision: None,
            recall: None,
            class_coverage: None,
            class_kl: None,
            class_shares: None,
            class_agreement: None,
            mmd_pixel: None,
            evaluator_accuracy: self.evaluator_accuracy(),
        };
        match &self.evaluator {
            Some((model, info)) => {
                let (ff, predicted) =
                    evaluator::embed(model, fake, self.channels, self.size, device)?;
                let ff = Features {
                    values: ff,
                    dim: FEATURES,
                };
                let (precision, recall) =
                    metrics::precision_recall(&self.features, &ff, K_NEIGHBOURS);
                let k = info.classes.len();
                let (coverage, kl) =
                    metrics::class_coverage(&predicted, k, MIN_CLASS_SHARE / k as f64);
                q.fd = Some(metrics::frechet_distance(&self.features, &ff));
                q.precision = Some(precision);
                q.recall = Some(recall);
                q.class_coverage = Some(coverage);
                q.class_kl = Some(kl);
                q.class_shares = Some(
                    info.classes
                        .iter()
                        .cloned()
                        .zip(metrics::class_shares(&predicted, k))
                        .collect(),
                );
                if classes > 0 {
                    let asked = condition::balanced(classes);
                    let hits = predicted
                        .iter()
                        .enumerate()
                        .filter(|&(i, &p)| p == asked(i));
                    q.class_agreement = Some(hits.count() as f64 / n.max(1) as f64);
                }
            }
            None => {
                let ff = Features {
                    values: fake.to_vec(),
                    dim: self.features.dim,
                };
                q.mmd_pixel = Some(metrics::mmd_rbf(&self.features, &ff));
            }
        }
        Ok(q)
    }
}

impl Quality {
    /// The value of quality metric `metric`, if measured.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::EvalFd => self.fd,
            Metric::EvalPrecision => self.precision,
            Metric::EvalRecall => self.recall,
            Metric::EvalClassCoverage => self.class_coverage,
            Metric::EvalClassKl => self.class_kl,
            Metric::EvalMmdPixel => self.mmd_pixel,
            _ => None,
        }
    }
}

/// Seed of the noise and of the real images that `gan eval` and `--eval-every` use by default,
/// so a run's final in-training values and a later `gan eval --run` agree.
pub const DEFAULT_SEED: u64 = 0;

/// The real images a quality measurement compares against: a seeded subset of `n`.
pub fn real_subset(data: &Dataset, n: usize, seed: u64) -> Dataset {
    data.select(&subset(data.len, Some(n), Stream::EvalReal.seed(seed)))
}

/// Quality measured while training (`--eval-every`): the same real images and generator noise
/// every time, so the values over steps are comparable.
pub struct TrainingEval {
    reference: Reference,
    samples: usize,
}

impl TrainingEval {
    /// Loads or trains the evaluator for the run's data and embeds the real images.
    pub fn new(settings: &TrainSettings, device: &Device) -> Result<Self> {
        let data = reference_data(settings)?;
        let samples = (settings.eval_samples as usize).min(data.len);
        let evaluator = evaluator_for(&data, settings, &settings.out, device)?;
        let real = real_subset(&data, samples, DEFAULT_SEED);
        Ok(TrainingEval {
            reference: Reference::new(&real, evaluator, device)?,
            samples,
        })
    }

    /// The metrics a measurement gives (metrics.csv's `eval_*` columns).
    pub fn metrics(&self) -> &'static [Metric] {
        self.reference.metrics()
    }

    /// Held-out accuracy of the evaluator, if there is one.
    pub fn evaluator_accuracy(&self) -> Option<f64> {
        self.reference.evaluator_accuracy()
    }

    /// The metrics of generator `g` (batch norm in inference mode).
    pub fn measure(
        &self,
        g: &Generator,
        net: &NetConfig,
        device: &Device,
    ) -> Result<Vec<(Metric, f64)>> {
        let fake = generate(g, net, self.samples, DEFAULT_SEED, device)?;
        let q = self.reference.quality_asked(&fake, net.classes, device)?;
        Ok(self
            .metrics()
            .iter()
            .map(|&m| (m, q.get(m).unwrap_or(f64::NAN)))
            .collect())
    }
}

/// `n` images (N×C×S×S values in [-1, 1]) from `g`, with noise seeded by `seed` (and, when
/// conditional, every class asked for equally often, in turn).
pub fn generate(
    g: &Generator,
    net: &NetConfig,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<f32>> {
    let z = normal_values(&mut Stream::SampleNoise.rng(seed), n * net.latent_dim);
    let z = net.noise_rows(z, condition::balanced(net.classes));
    g.images(&z, net, device)
}

/// The real data a run is measured against: its dataset as drawn (shapes) or subset
/// (--dataset-size) with a fixed seed rather than the run's, so that every seed of a comparison
/// is measured against the same images by the same evaluator.
pub fn reference_data(settings: &TrainSettings) -> Result<Dataset> {
    let spec = data::Spec {
        seed: DEFAULT_SEED,
        ..settings.data_spec()
    };
    Ok(data::load(&spec)?.0)
}

/// The evaluator of a run's data: from the cache under `out/.evaluators/`, or trained now.
/// None for unlabelled data.
pub fn evaluator_for(
    data: &Dataset,
    args: &TrainSettings,
    out: &Path,
    device: &Device,
) -> Result<Option<(Evaluator, EvaluatorInfo)>> {
    if !data.labelled() || data.class_names.len() < 2 {
        return Ok(None);
    }
    // Not the run's seed: runs of any seed on the same data share one evaluator.
    let mut key = format!(
        "{}-{}px-{}ch-{}img-v{}",
        args.dataset.name(),
        data.size,
        data.channels,
        data.len,
        evaluator::VERSION,
    );
    if args.dataset == DatasetKind::Folder || args.data.is_some() {
        // Different folders with the same shape must not share an evaluator.
        let path = args
            .data
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        key += &format!("-{:016x}", fnv1a(path.as_bytes()));
    }
    let dir = evaluator::cache_dir(out, &key);
    if let Some(found) = evaluator::load(&dir, device)? {
        return Ok(Some(found));
    }
    eprintln!(
        "training the evaluator for {} ({} images; cached in {})",
        args.dataset.name(),
        data.len,
        dir.display()
    );
    // Always trained on flex (a GPU draws other initial weights for the seed, ndarray rounds
    // differently), so one evaluator, and one scale of every metric, serves a dataset whichever
    // backend trains the run; then loaded onto the run's device, as a cache hit would be.
    let trained = evaluator::train(data, &dir, DEFAULT_SEED, &Device::flex())?;
    eprintln!("evaluator test accuracy: {:.3}", trained.1.test_accuracy);
    evaluator::load(&dir, device)?
        .map(Some)
        .with_context(|| format!("{}: the evaluator just saved is missing", dir.display()))
}

/// A stable 64-bit hash (FNV-1a) for cache keys.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What `gan eval` measures.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run directory whose checkpoint holds the generator.
    pub run: PathBuf,
    /// Generated and real images compared.
    pub samples: u32,
    /// Seed of the generator's noise and of the real images drawn.
    pub seed: u64,
    /// Tensor backend.
    pub backend: BackendKind,
    /// wgpu adapter.
    pub device: Adapter,
}

/// `gan eval`: measures the run's checkpointed generator and writes `eval/step_NNNNNN.json`.
pub fn run(opts: &Options) -> Result<Quality> {
    let run = RunDir::open(&opts.run, "--run")?;
    let settings = run.config()?.args;
    run.checkpoint()?;
    let data = reference_data(&settings)?;
    let dev = device::open(opts.backend, opts.device)?.device;
    // The evaluator cache sits beside the run directories.
    let out = run.path().parent().unwrap_or(Path::new("."));
    let eval = evaluator_for(&data, &settings, out, &dev)?;
    let n = (opts.samples as usize).min(data.len);
    let real = real_subset(&data, n, opts.seed);
    let (g, net, step) = run.generator(&dev)?;
    let fake = generate(&g, &net, n, opts.seed, &dev)?;
    let q = Reference::new(&real, eval, &dev)?.quality_asked(&fake, net.classes, &dev)?;

    let dir = run.eval_dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("step_{step:06}-s{}-n{n}.json", opts.seed));
    fs::write(&path, serde_json::to_string_pretty(&q)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("generator at step {step}, {n} samples: {}", describe(&q));
    eprintln!("wrote {}", path.display());
    Ok(q)
}

/// The metrics on one line.
pub fn describe(q: &Quality) -> String {
    let mut parts = Vec::new();
    if let Some(shares) = &q.class_shares {
        let each: Vec<String> = shares
            .iter()
            .map(|(c, s)| format!("{c} {:.0}%", 100.0 * s))
            .collect();
        parts.push(format!("classes: {}", each.join(" ")));
    }
    for (name, v) in [
        ("FD", q.fd),
        ("precision", q.precision),
        ("recall", q.recall),
        ("class coverage", q.class_coverage),
        ("class KL", q.class_kl),
        ("class agreement", q.class_agreement),
        ("pixel MMD²", q.mmd_pixel),
        ("evaluator accuracy", q.evaluator_accuracy),
    ] {
        if let Some(v) = v {
            parts.push(format!("{name} {v:.3}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shapes;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Uniform};

    #[test]
    fn the_metrics_tell_real_from_noise_and_see_a_collapsed_generator() {
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        let tmp = tempfile::tempdir().unwrap();
        let data = shapes::generate(2400, 28, 1, shapes::Style::Outline);
        let (train_part, rest): (Vec<usize>, Vec<usize>) = (0..2400).partition(|i| i % 3 != 0);
        let eval = evaluator::train(&data.select(&train_part), tmp.path(), 1, &dev).unwrap();
        assert!(
            eval.1.test_accuracy > 0.8,
            "evaluator accuracy {}",
            eval.1.test_accuracy
        );
        // Reloads from its cache folder identically.
        let (_, info) = evaluator::load(tmp.path(), &dev).unwrap().unwrap();
        assert_eq!(info, eval.1);

        let real = data.select(&rest[..400]);
        let held_out = data.select(&rest[400..]);
        let same = quality(&real, &held_out.images, Some(&eval), &dev).unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let noise: Vec<f32> = (0..held_out.images.len())
            .map(|_| Uniform::new(-1.0f32, 1.0).unwrap().sample(&mut rng))
            .collect();
        let noisy = quality(&real, &noise, Some(&eval), &dev).unwrap();
        eprintln!(
            "real vs held-out: {}\nreal vs noise: {}",
            describe(&same),
            describe(&noisy)
        );
        let (fd_same, fd_noise) = (same.fd.unwrap(), noisy.fd.unwrap());
        assert!(
            fd_noise > 10.0 * fd_same,
            "FD {fd_same} vs noise {fd_noise}"
        );
        assert!(
            same.precision.unwrap() > 0.8 && same.recall.unwrap() > 0.8,
            "{same:?}"
        );
        assert!(noisy.precision.unwrap() < 0.1, "{noisy:?}");
        assert_eq!(same.class_coverage, Some(1.0));
        assert!(same.class_kl.unwrap() < 0.05);

        // A "generator" that draws circles only: one class of four.
        let circles: Vec<usize> = (0..data.len)
            .filter(|&i| data.labels[i] == 0)
            .take(300)
            .collect();
        let one = quality(&real, &data.select(&circles).images, Some(&eval), &dev).unwrap();
        assert_eq!(one.class_coverage, Some(0.25), "{one:?}");
        // The shares name the classes and sum to 1; circles dominate.
        let shares = one.class_shares.clone().unwrap();
        assert_eq!(shares[0].0, "circle");
        assert!((shares.iter().map(|s| s.1).sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(shares[0].1 > 0.6, "{shares:?}");
        // ln 4 = 1.39 for a perfect evaluator; its ~10% errors spread some mass back.
        assert!(one.class_kl.unwrap() > 0.6 * 4f64.ln(), "{one:?}");
        assert!(
            one.class_kl.unwrap() > 20.0 * same.class_kl.unwrap(),
            "{one:?}"
        );

        // A conditional "generator" that draws sample i as class i % 4, as asked, agrees with
        // its classes as often as the evaluator is right; the same images one place later in
        // the order (each drawn as the class after the one asked for) almost never agree.
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); 4];
        for i in 0..data.len {
            by_class[data.labels[i] as usize].push(i);
        }
        let in_turn: Vec<usize> = (0..400).map(|i| by_class[i % 4][i / 4]).collect();
        let shifted: Vec<usize> = (0..400).map(|i| by_class[(i + 1) % 4][i / 4]).collect();
        let reference = Reference::new(&real, Some(eval.clone()), &dev).unwrap();
        let asked = |picked: &[usize]| {
            let q = reference.quality_asked(&data.select(picked).images, 4, &dev);
            q.unwrap().class_agreement.unwrap()
        };
        let (right, wrong) = (asked(&in_turn), asked(&shifted));
        assert!(right > 0.8 && wrong < 0.15, "agreement {right} vs {wrong}");
        assert_eq!(same.class_agreement, None, "unconditional: not measured");

        // Unlabelled data: the pixel-space MMD, clearly lower for real than for noise.
        let mmd_same = quality(&real, &held_out.images, None, &dev)
            .unwrap()
            .mmd_pixel
            .unwrap();
        let mmd_noise = quality(&real, &noise, None, &dev)
            .unwrap()
            .mmd_pixel
            .unwrap();
        assert!(
            mmd_noise > 10.0 * mmd_same.max(1e-4),
            "{mmd_same} vs {mmd_noise}"
        );
    }
}
