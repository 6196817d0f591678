//! Class conditioning (`--condition class`, Mirza & Osindero 2014): G reads each sample's class
//! as a one-hot vector after its noise, and D reads it as constant one-hot planes stacked behind
//! the image's channels. The class then travels inside the noise rows: every noise row of a
//! conditional run is `latent` normal values followed by `classes` one-hot values, so the code
//! that draws, stores and replays noise (fixed grids, checkpoints, resumes) needs no other input.

use burn::prelude::*;
use rand::{RngExt, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// What G and D are told about each sample besides its pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// Nothing: G maps noise alone to images, D judges images alone (DCGAN as published).
    #[default]
    None,
    /// The class: G draws the class it is given, D judges (image, class) pairs.
    Class,
}

impl Condition {
    /// Every choice, in the order `--help` lists them.
    pub const ALL: [Condition; 2] = [Condition::None, Condition::Class];

    /// Lowercase name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Condition::None => "none",
            Condition::Class => "class",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Condition::None => "unconditional: G maps noise alone to images (DCGAN as published)",
            Condition::Class => {
                "class-conditional: G draws the class it is given, D judges (image, class) pairs; \
                 needs labelled data"
            }
        }
    }
}

/// Noise rows of `latent` values (`z`, row-major) with a one-hot of `classes` appended to row
/// `i`, set at `label(i)` (below `classes`); `z` unchanged when unconditional (`classes` 0).
pub fn with_classes(
    z: Vec<f32>,
    latent: usize,
    classes: usize,
    label: impl Fn(usize) -> usize,
) -> Vec<f32> {
    if classes == 0 {
        return z;
    }
    let rows = z.len() / latent;
    let mut out = Vec::with_capacity(rows * (latent + classes));
    for (i, row) in z.chunks(latent).enumerate() {
        out.extend_from_slice(row);
        let hot = label(i);
        out.extend((0..classes).map(|c| f32::from(u8::from(c == hot))));
    }
    out
}

/// Class `i % classes` for sample `i`: every class equally often, in turn (grids, evaluation).
pub fn balanced(classes: usize) -> impl Fn(usize) -> usize {
    move |i| i % classes.max(1)
}

/// `n` classes drawn uniformly from `rng` (training noise); none when unconditional.
pub fn drawn(rng: &mut StdRng, n: usize, classes: usize) -> Vec<usize> {
    match classes {
        0 => Vec::new(),
        _ => (0..n).map(|_| rng.random_range(0..classes)).collect(),
    }
}

/// Real `images` as D sees them: with the planes of their classes `labels` when conditional
/// (`classes` > 0), unchanged otherwise.
pub fn real_input(images: Tensor<4>, labels: &[u32], classes: usize) -> Tensor<4> {
    match classes {
        0 => images,
        _ => {
            let labels: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
            let n = labels.len();
            let labels = Tensor::<1>::from_data(TensorData::new(labels, [n]), &images.device());
            with_planes(images, labels.one_hot(classes))
        }
    }
}

/// G's `images` from the noise rows `z` as D sees them: with the planes of the classes the
/// rows carry when conditional (`classes` > 0, after `latent` values), unchanged otherwise.
pub fn fake_input(images: Tensor<4>, z: &Tensor<2>, latent: usize, classes: usize) -> Tensor<4> {
    match classes {
        0 => images,
        _ => with_planes(images, classes_of_noise(z, latent)),
    }
}

/// The one-hot part of noise rows `[B, latent + classes]`.
pub fn classes_of_noise(z: &Tensor<2>, latent: usize) -> Tensor<2> {
    let [_, width] = z.dims();
    z.clone().narrow(1, latent, width - latent)
}

/// `images` `[B, C, S, S]` with the one-hot rows `hot` `[B, K]` stacked behind them as K
/// constant planes: D's input `[B, C + K, S, S]`.
pub fn with_planes(images: Tensor<4>, hot: Tensor<2>) -> Tensor<4> {
    let [b, k] = hot.dims();
    let [_, _, h, w] = images.dims();
    let planes = hot.reshape([b, k, 1, 1]).expand([b, k, h, w]);
    Tensor::cat(vec![images, planes], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_rows_carry_their_class_and_planes_repeat_it_over_the_image() {
        let z = vec![0.5, -1.0, 2.0, 3.0];
        assert_eq!(with_classes(z.clone(), 2, 0, |_| 0), z, "unconditional");
        let rows = with_classes(z, 2, 3, balanced(3));
        assert_eq!(rows, [0.5, -1.0, 1.0, 0.0, 0.0, 2.0, 3.0, 0.0, 1.0, 0.0]);

        let dev = Device::flex();
        let noise = Tensor::<2>::from_data(TensorData::new(rows, [2, 5]), &dev);
        let hot = classes_of_noise(&noise, 2);
        let images = Tensor::<4>::zeros([2, 1, 2, 2], &dev).sub_scalar(0.25);
        let x = with_planes(images, hot);
        assert_eq!(x.dims(), [2, 4, 2, 2]);
        let v: Vec<f32> = x.into_data().try_to_vec().unwrap();
        // Sample 0: the image, then planes of class 0 (ones), 1 and 2 (zeros).
        assert_eq!(
            &v[..16],
            &[-0.25; 4]
                .into_iter()
                .chain([1.0; 4])
                .chain([0.0; 8])
                .collect::<Vec<_>>()[..]
        );
        // Sample 1: class 1's plane is the lit one.
        assert_eq!(&v[16 + 8..16 + 12], &[1.0; 4]);
        assert_eq!(&v[16 + 4..16 + 8], &[0.0; 4]);

        // Real images get their labels' planes.
        let images = Tensor::<4>::zeros([2, 1, 1, 1], &dev);
        let real = real_input(images, &[2, 0], 3);
        let r: Vec<f32> = real.into_data().try_to_vec().unwrap();
        assert_eq!(r, [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn the_class_reaches_both_networks_of_either_architecture() {
        use crate::model::{Arch, Discriminator, Generator, NetConfig, NoTap};
        let _lock = crate::seed_lock();
        let dev = Device::flex();
        dev.seed(4);
        for arch in [Arch::Dcgan, Arch::Mlp] {
            let net = NetConfig {
                arch,
                latent_dim: 8,
                classes: 4,
                ..NetConfig::default()
            };
            let g = Generator::new(&net, &dev).unwrap();
            let d = Discriminator::new(&net, &dev).unwrap();
            // One latent vector asked for as class 0 and as class 2.
            let z = vec![0.3f32; 8];
            let rows = with_classes([z.clone(), z].concat(), 8, 4, |i| 2 * i);
            let images = g.images(&rows, &net, &dev).unwrap();
            let (a, b) = images.split_at(images.len() / 2);
            assert_ne!(a, b, "{arch:?}: G ignores its class");

            // One image judged as each class.
            let image = Tensor::<4>::from_data(TensorData::new(a.to_vec(), [1, 1, 28, 28]), &dev);
            let logit = |class: u32| -> f32 {
                let x = real_input(image.clone(), &[class], 4);
                assert_eq!(x.dims(), [1, 5, 28, 28]);
                d.forward(x, &mut NoTap).into_scalar()
            };
            assert_ne!(logit(0), logit(3), "{arch:?}: D ignores the class");
        }
    }

    #[test]
    fn drawn_classes_cover_every_class_and_nothing_when_unconditional() {
        use rand::SeedableRng;
        let mut rng = StdRng::seed_from_u64(3);
        assert!(drawn(&mut rng, 10, 0).is_empty());
        let d = drawn(&mut rng, 400, 4);
        for c in 0..4 {
            let n = d.iter().filter(|&&l| l == c).count();
            assert!((60..140).contains(&n), "class {c}: {n} of 400");
        }
    }
}
