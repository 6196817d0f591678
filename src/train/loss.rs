//! Non-saturating GAN losses with binary cross-entropy on logits.

use burn::prelude::*;
use burn::tensor::activation::softplus;

/// Mean BCE(sigmoid(logits), 1) = mean softplus(-logits).
pub fn bce_real(logits: Tensor<1>) -> Tensor<1> {
    softplus(logits.neg(), 1.0).mean()
}

/// Mean BCE(sigmoid(logits), 0) = mean softplus(logits).
pub fn bce_fake(logits: Tensor<1>) -> Tensor<1> {
    softplus(logits, 1.0).mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_closed_form_and_stays_finite() {
        let dev = Device::flex();
        let x = Tensor::<1>::from_floats([-200.0, -1.0, 0.0, 2.0, 200.0], &dev);
        let real: Vec<f32> = softplus(x.clone().neg(), 1.0)
            .into_data()
            .try_into_vec()
            .unwrap();
        let expect = |v: f64| (1.0 + (-v).exp()).ln();
        for (got, v) in real.iter().zip([-200.0, -1.0, 0.0, 2.0, 200.0]) {
            let want = if v < -100.0 { -v } else { expect(v) };
            assert!(
                (*got as f64 - want).abs() < 1e-4,
                "softplus(-{v}) = {got}, want {want}"
            );
        }
        let mean: f32 = bce_fake(x).into_scalar();
        assert!(mean.is_finite());
        // Direction: a confident "real" logit is cheap as real and costly as fake.
        let scalar = |t: Tensor<1>| -> f64 { t.into_scalar::<f32>() as f64 };
        let logit = |v: f32| Tensor::<1>::from_floats([v], &dev);
        assert!((scalar(bce_real(logit(0.0))) - 2f64.ln()).abs() < 1e-6);
        assert!((scalar(bce_fake(logit(0.0))) - 2f64.ln()).abs() < 1e-6);
        assert!((scalar(bce_real(logit(3.0))) - (1.0 + (-3f64).exp()).ln()).abs() < 1e-5);
        assert!((scalar(bce_fake(logit(30.0))) - 30.0).abs() < 1e-4);
        assert!(scalar(bce_real(logit(30.0))) < 1e-6);
    }
}
