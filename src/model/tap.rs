//! Hooks on the discriminator's hidden pre-activations, for measuring what flows through them.

use burn::prelude::*;

/// Sees each hidden pre-activation z_l of the discriminator, in layer order, and may hand back a
/// gradient probe for it.
pub trait Tap {
    /// Looks at layer `l`'s pre-activation; returns a probe to attach to it, if any: a flat zero
    /// leaf of z's size that requires grad, whose gradient becomes dL/dz
    /// ([`super::activation::Activation::forward_probed`]).
    fn look<const D: usize>(&mut self, layer: usize, z: &Tensor<D>) -> Option<Tensor<1>>;

    /// Whether the tap looks at the pre-activations at all: when it does not, the forward
    /// pass may fuse batch norm and the activation, so no pre-activation tensor exists.
    fn active(&self) -> bool {
        true
    }
}

/// The tap of a plain forward pass: looks at nothing.
pub struct NoTap;

impl Tap for NoTap {
    fn look<const D: usize>(&mut self, _layer: usize, _z: &Tensor<D>) -> Option<Tensor<1>> {
        None
    }

    fn active(&self) -> bool {
        false
    }
}

/// An optional tap: looks when present.
impl<T: Tap> Tap for Option<T> {
    fn look<const D: usize>(&mut self, layer: usize, z: &Tensor<D>) -> Option<Tensor<1>> {
        self.as_mut().and_then(|t| t.look(layer, z))
    }

    fn active(&self) -> bool {
        self.as_ref().is_some_and(Tap::active)
    }
}
