//! `gan`: a GAN trainer on burn that measures what ReLU vs LeakyReLU does to a discriminator.

pub mod cli;
pub mod data;
pub mod device;
pub mod model;
pub mod probe;
pub mod report;
pub mod train;

/// burn's random generator is global per backend: tests that seed it take this lock first.
#[cfg(test)]
pub(crate) static SEED_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
