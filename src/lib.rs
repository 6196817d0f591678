//! `gan`: a GAN trainer on burn that measures what ReLU vs LeakyReLU does to a discriminator.

pub mod alloc;
pub mod cli;
pub mod compare;
pub mod data;
pub mod device;
pub mod eval;
pub mod findings;
pub mod metric;
pub mod model;
pub mod probe;
pub mod report;
pub mod rng;
pub mod run;
pub mod sample;
pub mod settings;
pub mod simd;
pub mod train;

/// burn's random generator is global per backend: tests that draw from it hold this lock.
#[cfg(test)]
pub(crate) fn seed_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A failed test poisons the lock; the others should still run.
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
