//! What the fused flex operations, the fused Adam and the probes' host reductions share: the
//! activations as their kernels apply them, and tensors as plain f32 slices in host memory.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// Elements per parallel task: large enough that a task outweighs its scheduling.
pub(crate) const CHUNK: usize = 16 * 1024;

/// Elements from which a pass is split over the thread pool (burn-flex's patched element-wise
/// threshold, `vendor/burn-flex/PATCHED.md` §2): below it a hand-off costs more than it saves.
pub(crate) const PARALLEL_FROM: usize = 64 * 1024;

/// The activation as the kernels apply it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ActKind {
    /// None: a batch norm alone, whose output a probe reads before the activation.
    Identity,
    /// max(0, x); gradient 0 where x ≤ 0.
    Relu,
    /// x·s with s = alpha where x < 0, else 1 (gradient 1 at 0, as `activation::leaky_relu`).
    Leaky(f32),
}

/// An activation as a type of its own, so that each kernel is compiled (and vectorised) for it
/// instead of testing which one inside its inner loop.
pub(super) trait Curve: Copy + Send + Sync {
    /// The activation's value at `v`.
    fn apply(self, v: f32) -> f32;
    /// The activation's derivative at `v`.
    fn slope(self, v: f32) -> f32;
}

/// [`ActKind::Identity`] for the kernels.
#[derive(Clone, Copy)]
pub(super) struct Identity;

impl Curve for Identity {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        v
    }

    #[inline(always)]
    fn slope(self, _: f32) -> f32 {
        1.0
    }
}

/// [`ActKind::Relu`] for the kernels.
#[derive(Clone, Copy)]
pub(super) struct Relu;

impl Curve for Relu {
    // NaN passes through, as in flex's own ReLU (`max` would map it to 0 and hide a diverged
    // network from the loss).
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        if v.is_nan() || v > 0.0 { v } else { 0.0 }
    }

    #[inline(always)]
    fn slope(self, v: f32) -> f32 {
        if v.is_nan() || v > 0.0 { 1.0 } else { 0.0 }
    }
}

/// [`ActKind::Leaky`] for the kernels.
#[derive(Clone, Copy)]
pub(super) struct Leaky(pub(super) f32);

impl Curve for Leaky {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        v * self.slope(v)
    }

    #[inline(always)]
    fn slope(self, v: f32) -> f32 {
        if v < 0.0 { self.0 } else { 1.0 }
    }
}

/// A flex tensor whose storage is one contiguous run.
pub(crate) fn contiguous(t: FlexTensor) -> FlexTensor {
    match t.as_slice::<f32>().is_some() {
        true => t,
        false => t.to_contiguous(),
    }
}

/// The f32 elements of a contiguous flex tensor.
pub(crate) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A flex tensor of `shape` holding `values`.
pub(super) fn flex(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A tensor's elements as f32 in host memory.
pub(crate) enum HostF32 {
    /// A contiguous f32 flex tensor, whose buffer is read in place, shared or not.
    Flex(FlexTensor),
    /// Any other tensor, taken out of its backend (a copy where it is shared) as f32.
    Data(TensorData),
}

impl HostF32 {
    /// `t`'s elements, read in place on flex when they are f32.
    pub(crate) fn new<const D: usize>(t: Tensor<D>) -> Self {
        if t.dtype() == DType::F32
            && let Ok(f) = t.clone().try_into_primitive::<Flex>()
        {
            return HostF32::Flex(contiguous(f));
        }
        HostF32::Data(t.into_data().convert::<f32>())
    }

    /// The elements.
    pub(crate) fn f32s(&self) -> &[f32] {
        match self {
            HostF32::Flex(f) => f32s(f),
            HostF32::Data(d) => d.as_slice::<f32>().expect("converted to f32"),
        }
    }
}
