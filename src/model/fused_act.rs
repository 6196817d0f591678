//! The activation alone (no batch norm before it) as one autodiff operation on flex.
//!
//! burn tracks ReLU as one node, and LeakyReLU (`activation::leaky_relu`) as a product by a
//! slope map that takes four passes to build, so LeakyReLU cost the DCGAN step ~4% more than
//! ReLU (two threads, 2026-12-04), nearly all of it in D's first layer, the one without batch
//! norm. Here either is one pass forward (read x, write y) and one backward (read dy and x,
//! write dx): the same work for both activations. Values and gradients are the tensor path's
//! (tests below). Only flex gets it; the other backends keep the tensor operations.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

use super::kernel::{ActKind, CHUNK, Curve, Identity, Leaky, Relu, contiguous, f32s, flex};
use crate::simd::{Kernel, vectorized};

/// Elements from which a pass is split over the thread pool (burn-flex's patched element-wise
/// threshold, `vendor/burn-flex/PATCHED.md` §2): below it a hand-off costs more than it saves.
const PARALLEL_FROM: usize = 64 * 1024;

/// Runs the kernel `make` builds for each set of matching chunks of `out`, `a` and `b`, split
/// over the pool when large.
fn each_chunk<'a, K: Kernel<Output = ()>>(
    out: &'a mut [f32],
    a: &'a [f32],
    b: &'a [f32],
    make: impl Fn(&'a mut [f32], &'a [f32], &'a [f32]) -> K + Sync,
) {
    let arch = pulp::Arch::new();
    if out.len() < PARALLEL_FROM {
        return vectorized(arch, make(out, a, b));
    }
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(out, (a, b))| vectorized(arch, make(out, a, b)));
}

/// The forward pass over one chunk: `y = act(x)`.
struct Forward<'a, A> {
    y: &'a mut [f32],
    x: &'a [f32],
    act: A,
}

impl<A: Curve> Kernel for Forward<'_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        for (y, x) in self.y.iter_mut().zip(self.x) {
            *y = self.act.apply(*x);
        }
    }
}

/// The backward pass over one chunk: `dx = dy · act'(x)`. A NaN in `dy` stays NaN where ReLU's
/// slope is 0 (burn's ReLU masks it to 0), as in the fused batch norm's backward pass.
struct Slopes<'a, A> {
    dx: &'a mut [f32],
    dy: &'a [f32],
    x: &'a [f32],
    act: A,
}

impl<A: Curve> Kernel for Slopes<'_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        for ((dx, dy), x) in self.dx.iter_mut().zip(self.dy).zip(self.x) {
            *dx = dy * self.act.slope(*x);
        }
    }
}

/// The forward pass: `act` of every element of `x`.
fn forward<A: Curve>(x: &[f32], act: A) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    each_chunk(&mut y, x, x, |y, x, _| Forward { y, x, act });
    y
}

/// The backward pass: the gradient `dy` times the activation's slope at each input.
fn backward<A: Curve>(dy: &[f32], x: &[f32], act: A) -> Vec<f32> {
    let mut dx = vec![0.0f32; x.len()];
    each_chunk(&mut dx, dy, x, |dx, dy, x| Slopes { dx, dy, x, act });
    dx
}

/// What the backward pass keeps: the input, its shape and the activation.
#[derive(Debug, Clone)]
struct Saved {
    x: FlexTensor,
    dims: Vec<usize>,
    act: ActKind,
}

/// The activation's node in burn's autodiff graph; one parent, x.
#[derive(Debug)]
struct ActBackward;

impl Backward<Flex, 1> for ActBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let Some(node) = node_x else { return };
        let Saved { x, dims, act } = ops.state;
        let (dy, x) = (f32s(&dy), f32s(&x));
        let dx = match act {
            ActKind::Identity => backward(dy, x, Identity),
            ActKind::Relu => backward(dy, x, Relu),
            ActKind::Leaky(alpha) => backward(dy, x, Leaky(alpha)),
        };
        grads.register::<Flex>(node.id, flex(dx, dims));
    }
}

/// The activation `kind` applied to `x` as one operation, or `None` where `x` is not a flex
/// autodiff f32 tensor (the caller then runs the tensor operations).
pub(super) fn apply<const D: usize>(x: Tensor<D>, kind: ActKind) -> Option<Tensor<D>> {
    type Ad = Autodiff<Flex>;
    let device = x.device();
    // Device equality ignores autodiff, hence both checks (as in `norm_act`).
    if !(device.is_autodiff() && device == Device::flex()) || x.dtype() != DType::F32 {
        return None;
    }
    let dims = x.dims().to_vec();
    let x = x.try_into_primitive::<Ad>().ok()?;
    let host = contiguous(x.primitive().clone());
    let y = match kind {
        ActKind::Identity => forward(f32s(&host), Identity),
        ActKind::Relu => forward(f32s(&host), Relu),
        ActKind::Leaky(alpha) => forward(f32s(&host), Leaky(alpha)),
    };
    let y = flex(y, dims.clone());
    let out = match ActBackward
        .prepare::<NoCheckpointing>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(
            Saved {
                x: host,
                dims,
                act: kind,
            },
            y,
        ),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(Tensor::from_primitive::<Ad>(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Act as Kind;
    use crate::model::activation::Activation;
    use burn::tensor::{Distribution, TensorData};

    /// Output and input gradient of `pass` under the upstream gradient `up`.
    fn run<const D: usize>(
        x: Tensor<D>,
        up: Tensor<D>,
        pass: impl Fn(Tensor<D>) -> Tensor<D>,
    ) -> [Vec<f32>; 2] {
        let x = x.require_grad();
        let y = pass(x.clone());
        let grads = (y.clone() * up).sum().backward();
        [y.inner().into_data(), x.grad(&grads).unwrap().into_data()]
            .map(|d| d.convert::<f32>().try_to_vec().unwrap())
    }

    #[test]
    fn fused_values_and_gradients_are_the_tensor_paths() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        // 300K elements run in parallel chunks, 12 in one serial pass; exact zeros included,
        // where ReLU's gradient is 0 and LeakyReLU's 1.
        for n in [100_000, 4] {
            for act in [
                Activation::new(Kind::Relu, 0.2),
                Activation::new(Kind::Leaky, 0.2),
            ] {
                let mut x: Vec<f32> = Tensor::<2>::random([n, 3], Distribution::Default, &device)
                    .into_data()
                    .try_to_vec()
                    .unwrap();
                x.iter_mut().step_by(7).for_each(|v| *v = 0.0);
                x.iter_mut().skip(1).step_by(5).for_each(|v| *v -= 0.5);
                let x = Tensor::<2>::from_data(TensorData::new(x, [n, 3]), &device);
                let up = Tensor::<2>::random([n, 3], Distribution::Normal(0.0, 1.0), &device);
                let fused = run(x.clone(), up.clone(), |x| apply(x, act.kind()).unwrap());
                let plain = run(x, up, |x| act.forward_tensor_ops(x));
                // The tensor path's LeakyReLU slope is 1 − (1 − α) in f32, one rounding away
                // from α; ReLU's values and gradients are equal exactly.
                for (name, a, b) in [("y", &fused[0], &plain[0]), ("dx", &fused[1], &plain[1])] {
                    let worst = a
                        .iter()
                        .zip(b)
                        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-30))
                        .fold(0.0f32, f32::max);
                    let tolerance = if act.kind() == ActKind::Relu {
                        0.0
                    } else {
                        1e-6
                    };
                    assert!(worst <= tolerance, "{name}: {worst} (n {n}, {act:?})");
                }
            }
        }
    }

    #[test]
    fn a_nan_passes_through_and_untracked_inputs_and_other_backends_are_handled() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        for act in [
            Activation::new(Kind::Relu, 0.2),
            Activation::new(Kind::Leaky, 0.2),
        ] {
            let x = Tensor::<1>::from_data(TensorData::new(vec![f32::NAN, -1.0], [2]), &device);
            let y: Vec<f32> = apply(x.clone(), act.kind())
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();
            assert!(y[0].is_nan(), "{act:?}");
            let expected = act
                .forward_tensor_ops(x)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            assert!((y[1] - expected[1]).abs() < 1e-6, "{act:?}");
        }
        // Untracked (no require_grad): a plain output, no node.
        let act = Activation::new(Kind::Leaky, 0.2);
        let x = Tensor::<2>::random([8, 4], Distribution::Default, &device);
        let y = apply(x.clone(), act.kind()).unwrap();
        let expected = burn::tensor::activation::leaky_relu(x, 0.2);
        assert_eq!(
            y.into_data(),
            expected.into_data(),
            "untracked, against burn's"
        );
        let plain = Tensor::<2>::random([8, 4], Distribution::Default, &Device::flex());
        assert!(apply(plain, act.kind()).is_none(), "flex without autodiff");
    }
}
