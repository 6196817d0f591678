//! Adam with each parameter's update fused into one pass, for the CPU backends.
//!
//! burn's `Adam` updates a parameter through about a dozen element-wise tensor operations, each
//! a pass over memory into a buffer of its own: about a fifth of the MLP step's time. On the CPU
//! backends [`FusedAdam`] does the same f32 operations in the same order, in one parallel pass
//! over each parameter, its gradient and its two moments, so parameters and moments come out
//! bit-identical to burn's (tests below). On a GPU it hands over to burn's `Adam`. Its state is
//! burn's `AdamState`, so optimizer checkpoints read and write as before.

use std::mem::MaybeUninit;

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

use crate::device;
use crate::model::kernel::{CHUNK, HostF32};

/// Adam without weight decay or AMSGrad (what `gan` trains with), fused on the CPU.
#[derive(Clone)]
pub struct FusedAdam {
    /// burn's own, for devices whose tensors are not in host memory.
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// Adam(β1, β2, ε), as `AdamConfig::new()` with these set builds it.
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let burn = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        FusedAdam {
            burn,
            beta_1,
            beta_2,
            epsilon,
        }
    }

    /// The optimizer for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

/// The step's scalars, computed as burn's `AdaptiveMomentum::transform` computes them.
#[derive(Clone, Copy)]
struct Factors {
    beta_1: f32,
    beta_2: f32,
    /// 1 − β1 and 1 − β2.
    keep_1: f32,
    keep_2: f32,
    /// sqrt(1 − β2^t) / (1 − β1^t).
    combined: f32,
    /// ε · sqrt(1 − β2^t).
    epsilon: f32,
    lr: f32,
    /// First step: the moments start from the gradient alone.
    first: bool,
}

impl Factors {
    /// The update over one chunk: moments in place, then the parameters from `p` into `out`.
    ///
    /// Written as plain indexed loops over slices of one length, with the first-step test
    /// outside them, so that the compiler vectorises them (sqrt and division included: each
    /// lane rounds as the scalar operation does, so the values do not change).
    #[inline(always)]
    fn update(
        &self,
        p: &[f32],
        out: &mut [MaybeUninit<f32>],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let n = out.len();
        let (p, g, m, v) = (&p[..n], &g[..n], &mut m[..n], &mut v[..n]);
        if self.first {
            for i in 0..n {
                m[i] = g[i] * self.keep_1;
                v[i] = (g[i] * g[i]) * self.keep_2;
            }
        } else {
            for i in 0..n {
                m[i] = m[i] * self.beta_1 + g[i] * self.keep_1;
                v[i] = v[i] * self.beta_2 + (g[i] * g[i]) * self.keep_2;
            }
        }
        for i in 0..n {
            let step = (m[i] * self.combined) / (v[i].sqrt() + self.epsilon);
            out[i].write(p[i] - step * self.lr);
        }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if !fuses(&tensor, &grad, state.as_ref()) {
            return self.burn.step(lr, tensor, grad, state);
        }
        let device = tensor.device();
        let (time, moments) = match state {
            Some(s) => (
                s.momentum.time + 1,
                Some((s.momentum.moment_1, s.momentum.moment_2)),
            ),
            None => (1, None),
        };
        let t = time as i32;
        let bias_correction_2 = (1.0 - self.beta_2.powi(t)).sqrt();
        let factors = Factors {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            keep_1: 1.0 - self.beta_1,
            keep_2: 1.0 - self.beta_2,
            combined: bias_correction_2 / (1.0 - self.beta_1.powi(t)),
            epsilon: self.epsilon * bias_correction_2,
            // burn's scalar operations convert the rate to the tensor's element type.
            lr: lr as f32,
            first: moments.is_none(),
        };

        let shape = tensor.shape();
        // The parameter and the gradient are read where they lie and the new parameter is
        // written to a buffer of its own. The training step keeps its module alive while the
        // optimizer steps a clone of it, so taking the parameter out as `TensorData` copied it
        // twice on one thread (into a byte vector, then again to align that): 5% of the MLP
        // step's samples (profile, 2026-12-04). The moments are unshared and hand their
        // buffers over without a copy.
        let p = HostF32::new(tensor);
        let g = HostF32::new(grad);
        let (mut m, mut v) = match moments {
            Some((m, v)) => (m.into_data(), v.into_data()),
            None => (
                TensorData::zeros::<f32, _>(shape.clone()),
                TensorData::zeros::<f32, _>(shape.clone()),
            ),
        };
        let p = fused_pass(&factors, p.f32s(), g.f32s(), &mut m, &mut v);
        let p = TensorData::new(p, shape);

        let tensor = Tensor::from_data(p, (&device, DType::F32));
        let moment_1 = Tensor::from_data(m, (&device, DType::F32));
        let moment_2 = Tensor::from_data(v, (&device, DType::F32));
        let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
        (tensor, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

/// Whether this update takes the fused path: f32 on a host backend, with Adam's plain state of
/// the parameter's shape (anything else is burn's to handle, checks included).
fn fuses<const D: usize>(
    tensor: &Tensor<D>,
    grad: &Tensor<D>,
    state: Option<&AdamState<D>>,
) -> bool {
    let f32_like = |t: &Tensor<D>| t.dtype() == DType::F32 && t.shape() == tensor.shape();
    f32_like(tensor)
        && f32_like(grad)
        && state.is_none_or(|s| {
            s.momentum.max_moment_2.is_none()
                && f32_like(&s.momentum.moment_1)
                && f32_like(&s.momentum.moment_2)
        })
        && device::on_host(&tensor.device())
}

/// The whole update over f32 host buffers, in parallel chunks; returns the new parameters.
fn fused_pass(
    factors: &Factors,
    p: &[f32],
    g: &[f32],
    m: &mut TensorData,
    v: &mut TensorData,
) -> Vec<f32> {
    // The dtypes were checked before the buffers were taken, and host buffers are readable.
    let m = m.as_mut_slice::<f32>().expect("f32 moment on the host");
    let v = v.as_mut_slice::<f32>().expect("f32 moment on the host");
    let n = p.len();
    // Every chunk of `out` is written only if the zip below runs to its end.
    assert!(
        g.len() == n && m.len() == n && v.len() == n,
        "a parameter, its gradient and its moments of one length"
    );
    let mut out = Vec::with_capacity(n);
    // The widest vector instructions this CPU has, detected once per parameter.
    let arch = pulp::Arch::new();
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(CHUNK)
        .zip(p.par_chunks(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .for_each(|((((out, p), g), m), v)| {
            let chunk = Chunk {
                factors,
                p,
                out,
                g,
                m,
                v,
            };
            crate::simd::vectorized(arch, chunk)
        });
    // SAFETY: the five inputs have one length (asserted), so the chunks above cover all `n`
    // elements of `out`, and `update` writes every element of its chunk.
    unsafe { out.set_len(n) };
    out
}

/// One chunk's update, as a kernel compiled for the CPU's vector width.
struct Chunk<'a> {
    factors: &'a Factors,
    p: &'a [f32],
    out: &'a mut [MaybeUninit<f32>],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
}

impl crate::simd::Kernel for Chunk<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        self.factors
            .update(self.p, self.out, self.g, self.m, self.v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::Distribution;

    /// A small two-layer model, so the optimizer sees parameters of rank 1 and 2.
    #[derive(Module, Debug)]
    struct Net {
        a: Linear,
        b: Linear,
    }

    impl Net {
        fn new(device: &Device) -> Self {
            Net {
                a: LinearConfig::new(40, 70).init(device),
                // Over one chunk, so the pass runs as several parallel tasks.
                b: LinearConfig::new(70, 300).init(device),
            }
        }

        fn loss(&self, x: Tensor<2>) -> Tensor<1> {
            let h = burn::tensor::activation::relu(self.a.forward(x));
            let y = self.b.forward(h);
            (y.clone() * y).mean()
        }
    }

    fn flat(net: &Net) -> Vec<f32> {
        [
            net.a.weight.val().flatten::<1>(0, 1),
            net.a.bias.as_ref().unwrap().val(),
            net.b.weight.val().flatten::<1>(0, 1),
            net.b.bias.as_ref().unwrap().val(),
        ]
        .into_iter()
        .flat_map(|t| t.into_data().try_into_vec::<f32>().unwrap())
        .collect()
    }

    /// Trains two copies of one model side by side on `device`, one with burn's Adam and one
    /// fused; also returns the parameters they started from.
    fn train_on(
        device: Device,
        steps: usize,
        lr: f64,
        beta_1: f32,
    ) -> (Vec<f32>, Net, Net, ModuleOptimizer, ModuleOptimizer) {
        let _seed = crate::seed_lock();
        let mut burns = Net::new(&device);
        let start = flat(&burns);
        let mut fused = burns.clone();
        let mut opt_burn = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
            .init();
        let mut opt_fused = FusedAdam::new(beta_1, 0.999, 1e-8).init();
        for _ in 0..steps {
            let x = Tensor::<2>::random([16, 40], Distribution::Normal(0.0, 1.0), &device);
            let grads = burns.loss(x.clone()).backward();
            let grads = GradientsParams::from_grads(grads, &burns);
            burns = opt_burn.step(lr, burns, grads);
            let grads = fused.loss(x).backward();
            let grads = GradientsParams::from_grads(grads, &fused);
            fused = opt_fused.step(lr, fused, grads);
        }
        (start, burns, fused, opt_burn, opt_fused)
    }

    /// `train_on` the flex backend, without the starting parameters.
    fn train(steps: usize, lr: f64, beta_1: f32) -> (Net, Net, ModuleOptimizer, ModuleOptimizer) {
        let (_, burns, fused, opt_burn, opt_fused) =
            train_on(Device::flex().autodiff(), steps, lr, beta_1);
        (burns, fused, opt_burn, opt_fused)
    }

    #[test]
    fn fused_steps_are_bit_identical_to_burns_adam() {
        // Both host backends take the fused path (ndarray is deprecated upstream, but users can
        // still choose it).
        #[allow(deprecated)]
        let ndarray = Device::ndarray();
        for device in [Device::flex().autodiff(), ndarray.autodiff()] {
            let (start, burns, fused, _, _) = train_on(device.clone(), 6, 2e-3, 0.5);
            let (a, b) = (flat(&burns), flat(&fused));
            assert_eq!(a.len(), 40 * 70 + 70 + 70 * 300 + 300);
            let differ = a.iter().zip(&b).filter(|(x, y)| x.to_bits() != y.to_bits());
            assert_eq!(
                differ.count(),
                0,
                "parameters differ from burn's Adam on {device:?}"
            );
            // And the parameters did move from where both started.
            assert_ne!(start, a, "no step moved the parameters on {device:?}");
        }
    }

    #[test]
    fn fused_state_is_burns_and_resumes_either_way() {
        let (burns, fused, mut opt_burn, opt_fused) = train(3, 1e-3, 0.9);
        let adam = || {
            AdamConfig::new()
                .with_beta_1(0.9)
                .with_beta_2(0.999)
                .with_epsilon(1e-8)
                .init()
        };
        // Each optimizer's record loads into the other, as a checkpoint written before or
        // after the switch would.
        let mut burn_from_fused = adam().load_record(opt_fused.to_record());
        let mut fused_from_burn = FusedAdam::new(0.9, 0.999, 1e-8)
            .init()
            .load_record(opt_burn.to_record());
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::random([16, 40], Distribution::Normal(0.0, 1.0), &device);
        let step = |opt: &mut ModuleOptimizer, net: Net| {
            let grads = GradientsParams::from_grads(net.loss(x.clone()).backward(), &net);
            flat(&opt.step(1e-3, net, grads))
        };
        // The reference: burn's Adam carrying on without a reload. A state lost on loading
        // would restart the moments and the bias correction, and differ from it.
        let expected = step(&mut opt_burn, burns.clone());
        assert_eq!(step(&mut burn_from_fused, fused.clone()), expected);
        assert_eq!(step(&mut fused_from_burn, burns.clone()), expected);
        let fresh = step(&mut adam(), burns);
        assert_ne!(fresh, expected, "a restarted state must show");
    }

    #[test]
    fn host_f32_parameters_take_the_fused_path_and_odd_states_do_not() {
        let device = Device::flex();
        let p = Tensor::<2>::ones([3, 4], &device);
        let state = |rows: usize| {
            let m = Tensor::<2>::zeros([rows, 4], &device);
            AdamState::new(AdaptiveMomentumState::new(1, m.clone(), m))
        };
        assert!(fuses(&p, &p, None));
        assert!(fuses(&p, &p, Some(&state(3))));
        // A moment of another shape (a foreign checkpoint) is left to burn's checks.
        assert!(!fuses(&p, &p, Some(&state(2))));
        let mut amsgrad = state(3);
        amsgrad.momentum.max_moment_2 = Some(Tensor::zeros([3, 4], &device));
        assert!(!fuses(&p, &p, Some(&amsgrad)));
    }

    /// `Factors::update` over whole slices; returns the new parameters.
    fn update(f: &Factors, p: &[f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> Vec<f32> {
        let mut out = vec![MaybeUninit::uninit(); p.len()];
        f.update(p, &mut out, g, m, v);
        // SAFETY: `update` wrote every element.
        out.into_iter()
            .map(|x| unsafe { x.assume_init() })
            .collect()
    }

    #[test]
    fn the_fused_update_is_adams_formula() {
        let f = Factors {
            beta_1: 0.5,
            beta_2: 0.999,
            keep_1: 0.5,
            keep_2: 1.0 - 0.999,
            combined: 0.25,
            epsilon: 1e-8,
            lr: 0.01,
            first: false,
        };
        let (g, m0, v0, p0) = ([2.0f32, -1.0], [0.5f32, 0.0], [1.0f32, 4.0], [1.0f32, -3.0]);
        let (mut m, mut v) = (m0, v0);
        let p = update(&f, &p0, &g, &mut m, &mut v);
        for i in 0..2 {
            let m1 = m0[i] * 0.5 + g[i] * 0.5;
            let v1 = v0[i] * 0.999 + (g[i] * g[i]) * (1.0 - 0.999);
            assert_eq!(m[i], m1);
            assert_eq!(v[i], v1);
            assert_eq!(p[i], p0[i] - ((m1 * 0.25) / (v1.sqrt() + 1e-8)) * 0.01);
        }
        // The first step starts the moments from the gradient alone.
        let first = Factors { first: true, ..f };
        let (mut m, mut v) = (m0, v0);
        update(&first, &p0, &g, &mut m, &mut v);
        assert_eq!(m, [g[0] * 0.5, g[1] * 0.5]);
        assert_eq!(v[1], (g[1] * g[1]) * (1.0 - 0.999));
    }

    #[test]
    fn parameters_stay_trainable_after_a_fused_step() {
        let (_, fused, _, _) = train(1, 1e-3, 0.5);
        assert!(fused.a.weight.val().is_require_grad());
        assert!(fused.b.bias.as_ref().unwrap().val().is_require_grad());
    }
}
