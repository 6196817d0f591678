//! Hooks on the discriminator's hidden pre-activations, for measuring what flows through them.

use burn::prelude::*;

use super::activation::Activation;

/// Sees (and may replace) each hidden pre-activation z_l of the discriminator, in layer order.
pub trait Tap {
    /// Called with layer `l`'s pre-activation; returns the tensor the forward pass continues with.
    fn tap<const D: usize>(&mut self, layer: usize, z: Tensor<D>) -> Tensor<D>;

    /// `act` of the tapped `z`: the forward pass's hidden activation, which a tap may fuse
    /// with what it adds.
    fn tap_act<const D: usize>(
        &mut self,
        layer: usize,
        z: Tensor<D>,
        act: &Activation,
    ) -> Tensor<D> {
        act.forward(self.tap(layer, z))
    }

    /// Whether the tap looks at the pre-activations at all: when it does not, the forward
    /// pass may fuse batch norm and the activation, so no pre-activation tensor exists.
    fn active(&self) -> bool {
        true
    }
}

/// The tap of a plain forward pass: passes everything through untouched.
pub struct NoTap;

impl Tap for NoTap {
    fn tap<const D: usize>(&mut self, _layer: usize, z: Tensor<D>) -> Tensor<D> {
        z
    }

    fn active(&self) -> bool {
        false
    }
}

/// An optional tap: taps when present, passes through when `None`.
impl<T: Tap> Tap for Option<T> {
    fn tap<const D: usize>(&mut self, layer: usize, z: Tensor<D>) -> Tensor<D> {
        match self {
            Some(t) => t.tap(layer, z),
            None => z,
        }
    }

    fn tap_act<const D: usize>(
        &mut self,
        layer: usize,
        z: Tensor<D>,
        act: &Activation,
    ) -> Tensor<D> {
        match self {
            Some(t) => t.tap_act(layer, z, act),
            None => act.forward(z),
        }
    }

    fn active(&self) -> bool {
        self.as_ref().is_some_and(Tap::active)
    }
}
