//! Every random stream of a run, named in one place.
//!
//! A run's randomness is a pure function of its seed: each stream below is seeded from the
//! run's seed and its own tag (and, for per-step streams, the step or epoch), so a resumed run
//! draws exactly what an uninterrupted one would, and the runs of one seed in a comparison see
//! the same data order and noise. The initial weights come from burn's global generator,
//! seeded with the run's seed before the networks are built (`Device::seed`).
//!
//! The tags are ASCII words; changing one changes every run's draws (and breaks resuming runs
//! written before), so they are fixed.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// A named random stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The fixed noise of the sample grids ("FIXED").
    FixedNoise,
    /// The two noise batches of each training step ("NOISE"), indexed by step.
    StepNoise,
    /// The order of the training images in each epoch ("BATCHER"), indexed by epoch.
    BatchOrder,
    /// A seeded subset of a real dataset (--dataset-size) ("SUBSET").
    Subset,
    /// The drawing of the built-in shapes ("SHAPES").
    Shapes,
    /// The real images a quality measurement compares against ("REAL").
    EvalReal,
    /// The evaluator's train/test split ("EVAL").
    EvaluatorSplit,
    /// The noise of `gan sample` and of quality measurements: the seed itself.
    SampleNoise,
    /// The real images of the dead-unit probe set ("PROBESET").
    ProbeSet,
    /// The noise of the probe set's fakes ("PROBENOISE").
    ProbeNoise,
}

impl Stream {
    /// The stream's tag, mixed into the seed.
    const fn tag(self) -> u64 {
        match self {
            Stream::FixedNoise => 0x4649_5845_4400_0001,
            Stream::StepNoise => 0x4e4f_4953_4500_0001,
            Stream::BatchOrder => 0x4241_5443_4845_5201,
            Stream::Subset => 0x5355_4253_4554_0001,
            Stream::Shapes => 0x5348_4150_4553_0001,
            Stream::EvalReal => 0x5245_414c,
            Stream::EvaluatorSplit => 0x4556_414c_0001,
            Stream::SampleNoise => 0,
            Stream::ProbeSet => 0x5052_4f42_4553_4554,
            Stream::ProbeNoise => 0x5052_4f42_4e4f_4953,
        }
    }

    /// The seed of this stream under `seed`, for streams drawn once per run.
    pub const fn seed(self, seed: u64) -> u64 {
        seed ^ self.tag()
    }

    /// The generator of this stream under `seed`, for streams drawn once per run.
    pub fn rng(self, seed: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed(seed))
    }

    /// The generator of item `index` (a step, an epoch) of this stream under `seed`.
    pub fn rng_at(self, seed: u64, index: u64) -> StdRng {
        // SplitMix64 finaliser: nearby (seed, index) pairs give unrelated seeds.
        let mut z = seed ^ self.tag() ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        StdRng::seed_from_u64(z ^ (z >> 31))
    }
}

/// `n` N(0, 1) values drawn on the host, so every backend sees the same noise.
pub fn normal_values(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_differ_and_repeat() {
        let all = [
            Stream::FixedNoise,
            Stream::StepNoise,
            Stream::BatchOrder,
            Stream::Subset,
            Stream::Shapes,
            Stream::EvalReal,
            Stream::EvaluatorSplit,
            Stream::SampleNoise,
            Stream::ProbeSet,
            Stream::ProbeNoise,
        ];
        let first: Vec<u64> = all.iter().map(|s| s.rng(42).random()).collect();
        for (i, a) in first.iter().enumerate() {
            assert!(
                first[i + 1..].iter().all(|b| b != a),
                "{:?} repeats",
                all[i]
            );
        }
        assert_eq!(Stream::StepNoise.rng(42).random::<u64>(), first[1]);
        let s0: u64 = Stream::StepNoise.rng_at(42, 0).random();
        let s1: u64 = Stream::StepNoise.rng_at(42, 1).random();
        assert_ne!(s0, s1);
        assert_eq!(s1, Stream::StepNoise.rng_at(42, 1).random::<u64>());
    }

    #[test]
    fn sample_noise_is_seeded_by_the_seed_itself() {
        // `gan sample --seed S` and quality measurements have always drawn from seed S.
        let a: u64 = Stream::SampleNoise.rng(7).random();
        let b: u64 = StdRng::seed_from_u64(7).random();
        assert_eq!(a, b);
    }
}
