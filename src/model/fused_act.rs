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

use super::kernel::{
    ActKind, CHUNK, Curve, Identity, Leaky, PARALLEL_FROM, Relu, contiguous, f32s, flex,
};
use crate::simd::{Kernel, vectorized};

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

/// The input gradient `dy · act'(x)` of an activation node whose state is `saved`.
fn input_grad(dy: FlexTensor, saved: Saved) -> FlexTensor {
    let dy = contiguous(dy);
    let Saved { x, dims, act } = saved;
    let (dy, x) = (f32s(&dy), f32s(&x));
    let dx = match act {
        ActKind::Identity => backward(dy, x, Identity),
        ActKind::Relu => backward(dy, x, Relu),
        ActKind::Leaky(alpha) => backward(dy, x, Leaky(alpha)),
    };
    flex(dx, dims)
}

/// The activation's node in burn's autodiff graph; one parent, x.
#[derive(Debug)]
struct ActBackward;

impl Backward<Flex, 1> for ActBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let Some(node) = node_x else { return };
        grads.register::<Flex>(node.id, input_grad(dy, ops.state));
    }
}

/// The activation's node with a gradient probe riding along; parents x and the probe, a zero
/// leaf of x's size. It stands for `act(x + p)`: the probe's gradient is x's, handed to both
/// without the addition's forward pass or its node.
#[derive(Debug)]
struct ProbedActBackward;

impl Backward<Flex, 2> for ProbedActBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_p] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let dx = input_grad(dy, ops.state);
        if let Some(node) = node_p {
            // The probe is flat; the view shares dx's storage, which both only read.
            grads.register::<Flex>(node.id, dx.reshape([dx.layout().num_elements()].into()));
        }
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, dx);
        }
    }
}

/// Whether the fused kernels take `x`: a flex autodiff f32 tensor.
fn on_flex_autodiff<const D: usize>(x: &Tensor<D>) -> bool {
    let device = x.device();
    // Device equality ignores autodiff, hence both checks (as in `norm_act`).
    device.is_autodiff() && device == Device::flex() && x.dtype() == DType::F32
}

/// The activation of `x` (flex, of shape `dims`), and what its backward pass keeps.
fn activate(x: &FlexTensor, dims: Vec<usize>, kind: ActKind) -> (Saved, FlexTensor) {
    let host = contiguous(x.clone());
    let y = match kind {
        ActKind::Identity => forward(f32s(&host), Identity),
        ActKind::Relu => forward(f32s(&host), Relu),
        ActKind::Leaky(alpha) => forward(f32s(&host), Leaky(alpha)),
    };
    let y = flex(y, dims.clone());
    let saved = Saved {
        x: host,
        dims,
        act: kind,
    };
    (saved, y)
}

type Ad = Autodiff<Flex>;

/// The activation `kind` applied to `x` as one operation, or `None` where `x` is not a flex
/// autodiff f32 tensor (the caller then runs the tensor operations).
pub(super) fn apply<const D: usize>(x: Tensor<D>, kind: ActKind) -> Option<Tensor<D>> {
    if !on_flex_autodiff(&x) {
        return None;
    }
    let dims = x.dims().to_vec();
    let x = x.try_into_primitive::<Ad>().ok()?;
    let (saved, y) = activate(x.primitive(), dims, kind);
    let out = match ActBackward
        .prepare::<NoCheckpointing>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(saved, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(Tensor::from_primitive::<Ad>(out))
}

/// `apply` of `x + probe` (`probe` a flat zero leaf of x's size), as one operation: the values
/// are `apply(x)`'s, and the probe's gradient is x's. `None` where `apply` declines, or where
/// `probe` is not a flex autodiff tensor of x's size.
pub(super) fn apply_probed<const D: usize>(
    x: Tensor<D>,
    probe: Tensor<1>,
    kind: ActKind,
) -> Option<Tensor<D>> {
    if !on_flex_autodiff(&x) || probe.dims()[0] != x.shape().num_elements() {
        return None;
    }
    let dims = x.dims().to_vec();
    let (x, probe) = (
        x.try_into_primitive::<Ad>().ok()?,
        probe.try_into_primitive::<Ad>().ok()?,
    );
    let (saved, y) = activate(x.primitive(), dims, kind);
    let out = match ProbedActBackward
        .prepare::<NoCheckpointing>([x.node(), probe.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(saved, y),
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
    fn a_probed_activation_is_the_activation_of_x_plus_its_probe() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        // Output, x's gradient and the probe's gradient, through a layer before x so that x is
        // an inner node as in D; `fused` decides how the probe rides along.
        let pass = |w: &Tensor<2>, up: &Tensor<2>, kind: ActKind, fused: bool| {
            let w = w.clone().require_grad();
            let x = w.clone() * 2.0;
            let probe = Tensor::<1>::zeros([x.shape().num_elements()], &device).require_grad();
            let y = match fused {
                true => apply_probed(x, probe.clone(), kind).unwrap(),
                false => apply(x.clone() + probe.clone().reshape(x.dims()), kind).unwrap(),
            };
            let grads = (y.clone() * up.clone()).sum().backward();
            [
                y.inner().into_data(),
                w.grad(&grads).unwrap().into_data(),
                probe.grad(&grads).unwrap().into_data(),
            ]
            .map(|d| d.try_to_vec::<f32>().unwrap())
        };
        for n in [100_000, 4] {
            let mut w: Vec<f32> = Tensor::<2>::random([n, 3], Distribution::Default, &device)
                .into_data()
                .try_to_vec()
                .unwrap();
            w.iter_mut().step_by(7).for_each(|v| *v = 0.0);
            w.iter_mut().skip(1).step_by(5).for_each(|v| *v -= 0.5);
            let w = Tensor::<2>::from_data(TensorData::new(w, [n, 3]), &device);
            let up = Tensor::<2>::random([n, 3], Distribution::Normal(0.0, 1.0), &device);
            for kind in [ActKind::Relu, ActKind::Leaky(0.2)] {
                let fused = pass(&w, &up, kind, true);
                let added = pass(&w, &up, kind, false);
                for (i, name) in ["y", "dw", "dprobe"].into_iter().enumerate() {
                    assert_eq!(fused[i], added[i], "{name} (n {n}, {kind:?})");
                }
                assert_eq!(
                    fused[2].len(),
                    3 * n,
                    "the probe's gradient is flat, x's size"
                );
            }
        }
        // A probe of another size, or off flex autodiff: declined, for the caller's addition.
        let x = Tensor::<2>::random([4, 3], Distribution::Default, &device);
        let probe = Tensor::<1>::zeros([11], &device).require_grad();
        assert!(apply_probed(x, probe, ActKind::Relu).is_none());
        let plain = Tensor::<2>::random([4, 3], Distribution::Default, &Device::flex());
        let probe = Tensor::<1>::zeros([12], &Device::flex());
        assert!(apply_probed(plain, probe, ActKind::Relu).is_none());
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
