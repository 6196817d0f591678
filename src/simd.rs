//! Running a kernel with the widest vector instructions the CPU has (AVX-512 where present).
//!
//! pulp's `Arch::dispatch` compiles for the detected instruction set only the code that is
//! inlined into it. A closure is a function of its own, which LLVM kept out of line: a profile
//! (2026-12-04) found Adam's and the fused batch-norm kernels' loops in 4-wide SSE on an
//! AVX-512 machine. A [`Kernel`]'s `run`, marked `#[inline(always)]`, is inlined.

/// A loop to run vectorised; implementations mark `run` `#[inline(always)]`.
pub trait Kernel {
    /// What the loop returns.
    type Output;
    /// Runs the loop.
    fn run(self) -> Self::Output;
}

/// A kernel as pulp's operation.
struct Dispatched<K>(K);

impl<K: Kernel> pulp::WithSimd for Dispatched<K> {
    type Output = K::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> K::Output {
        self.0.run()
    }
}

/// Runs `kernel` compiled for the instruction set `arch` detected.
pub fn vectorized<K: Kernel>(arch: pulp::Arch, kernel: K) -> K::Output {
    arch.dispatch(Dispatched(kernel))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles a slice in place and returns its length.
    struct Double<'a>(&'a mut [f32]);

    impl Kernel for Double<'_> {
        type Output = usize;

        #[inline(always)]
        fn run(self) -> usize {
            self.0.iter_mut().for_each(|v| *v *= 2.0);
            self.0.len()
        }
    }

    #[test]
    fn a_kernel_runs_once_and_returns_its_output() {
        let mut v: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        assert_eq!(vectorized(pulp::Arch::new(), Double(&mut v)), 1000);
        assert!(v.iter().enumerate().all(|(i, &x)| x == 2.0 * i as f32));
    }
}
