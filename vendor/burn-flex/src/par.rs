//! Element-wise loops split over rayon's pool (patched in by `gan`).
//!
//! Upstream runs generic element-wise loops on the calling thread, and its SIMD kernels only go
//! parallel above 4M elements, so every batch-norm, activation and optimizer op of a small model
//! (tens of thousands to a few million elements) stays serial while the matrix products use
//! every core. Element-wise work has no reduction order, so splitting it changes no value.

use alloc::vec::Vec;

#[cfg(feature = "rayon")]
use rayon::prelude::*;

/// Below this many elements a loop stays on the calling thread: a split costs more than it saves.
#[cfg(feature = "rayon")]
pub(crate) const MIN_PARALLEL: usize = 64 * 1024;

/// Elements per rayon task at least (64 KiB of f32).
#[cfg(feature = "rayon")]
pub(crate) const CHUNK: usize = 16 * 1024;

/// How long one element of a loop takes, which decides from what size splitting it pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// A few cycles (arithmetic, comparisons): split from [`MIN_PARALLEL`] elements.
    Cheap,
    /// Tens of cycles (libm's exp, tanh, sin...): split from 8K elements, in tasks of 2K.
    Costly,
}

impl Cost {
    /// Fewest elements worth splitting.
    #[cfg(feature = "rayon")]
    fn min_parallel(self) -> usize {
        match self {
            Cost::Cheap => MIN_PARALLEL,
            Cost::Costly => 8 * 1024,
        }
    }

    /// Elements per rayon task at least.
    #[cfg(feature = "rayon")]
    fn chunk(self) -> usize {
        match self {
            Cost::Cheap => CHUNK,
            Cost::Costly => 2 * 1024,
        }
    }
}

/// Whether a loop over `n` elements is worth splitting.
#[cfg(feature = "rayon")]
#[inline]
pub(crate) fn parallel(n: usize) -> bool {
    parallel_at(n, Cost::Cheap)
}

/// Whether a loop over `n` elements of this cost is worth splitting.
#[cfg(feature = "rayon")]
#[inline]
fn parallel_at(n: usize, cost: Cost) -> bool {
    n >= cost.min_parallel() && rayon::current_num_threads() > 1
}

/// Applies `f`, of this cost, to every element of `data` in place.
#[inline]
pub(crate) fn for_each_mut<E, F>(data: &mut [E], cost: Cost, f: F)
where
    E: Send,
    F: Fn(&mut E) + Send + Sync,
{
    #[cfg(feature = "rayon")]
    if parallel_at(data.len(), cost) {
        data.par_chunks_mut(cost.chunk())
            .for_each(|c| c.iter_mut().for_each(&f));
        return;
    }
    let _ = cost;
    data.iter_mut().for_each(f);
}

/// Applies `f` to every `(dst, src)` pair, writing through `dst`.
#[inline]
pub(crate) fn zip_mut<D, S, F>(dst: &mut [D], src: &[S], f: F)
where
    D: Send,
    S: Sync,
    F: Fn(&mut D, &S) + Send + Sync,
{
    debug_assert_eq!(dst.len(), src.len());
    #[cfg(feature = "rayon")]
    if parallel(dst.len()) {
        dst.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, s)| f(d, s)));
        return;
    }
    dst.iter_mut().zip(src).for_each(|(d, s)| f(d, s));
}

/// `f`, of this cost, of every element of `src`, in order.
#[inline]
pub(crate) fn map<E, R, F>(src: &[E], cost: Cost, f: F) -> Vec<R>
where
    E: Sync,
    R: Send,
    F: Fn(&E) -> R + Send + Sync,
{
    #[cfg(feature = "rayon")]
    if parallel_at(src.len(), cost) {
        return src.par_iter().with_min_len(cost.chunk()).map(f).collect();
    }
    let _ = cost;
    src.iter().map(f).collect()
}

/// `f` of every pair of `a` and `b`, in order.
#[inline]
pub(crate) fn zip_map<A, B, R, F>(a: &[A], b: &[B], f: F) -> Vec<R>
where
    A: Sync,
    B: Sync,
    R: Send,
    F: Fn(&A, &B) -> R + Send + Sync,
{
    debug_assert_eq!(a.len(), b.len());
    #[cfg(feature = "rayon")]
    if parallel(a.len()) {
        return a
            .par_iter()
            .zip(b.par_iter())
            .with_min_len(CHUNK)
            .map(|(a, b)| f(a, b))
            .collect();
    }
    a.iter().zip(b).map(|(a, b)| f(a, b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes on both sides of both thresholds, including ragged last chunks.
    fn sizes() -> [usize; 5] {
        [0, 1000, 8 * 1024 + 3, 64 * 1024 + 7, 300_001]
    }

    /// Runs `check` inside a two-thread pool, so the parallel branches are taken.
    fn in_two_threads(check: impl FnOnce() + Send) {
        #[cfg(feature = "rayon")]
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
            .install(check);
        #[cfg(not(feature = "rayon"))]
        check();
    }

    #[test]
    fn every_helper_matches_its_serial_loop() {
        in_two_threads(|| {
            for n in sizes() {
                let a: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
                let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).cos()).collect();

                let mut x = a.clone();
                for_each_mut(&mut x, Cost::Cheap, |v| *v = *v * 3.0 - 1.0);
                assert!(x.iter().zip(&a).all(|(x, a)| *x == *a * 3.0 - 1.0), "n {n}");

                let mut y = a.clone();
                zip_mut(&mut y, &b, |d, s| *d = *d / (s + 2.0));
                assert!(
                    y.iter()
                        .zip(a.iter().zip(&b))
                        .all(|(y, (a, b))| *y == *a / (b + 2.0))
                );

                let m = map(&a, Cost::Cheap, |v| v.exp());
                assert_eq!(m.len(), n);
                assert!(m.iter().zip(&a).all(|(m, a)| *m == a.exp()));

                for cost in [Cost::Cheap, Cost::Costly] {
                    let t = map(&a, cost, |v| v.tanh());
                    assert_eq!(t.len(), n);
                    assert!(t.iter().zip(&a).all(|(t, a)| *t == a.tanh()));
                    let mut u = a.clone();
                    for_each_mut(&mut u, cost, |v| *v = v.tanh());
                    assert_eq!(u, t, "n {n}, {cost:?}");
                }

                let z = zip_map(&a, &b, |a, b| a.max(*b));
                assert_eq!(z.len(), n);
                assert!(
                    z.iter()
                        .zip(a.iter().zip(&b))
                        .all(|(z, (a, b))| *z == a.max(*b))
                );
            }
        });
    }
}
