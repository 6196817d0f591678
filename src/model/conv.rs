//! Convolutions as one row gather and one matrix product, for the CPU backends.
//!
//! burn 0.22's CPU backends compute a convolution's weight gradient as another convolution with
//! the batch as channels and the output map as kernel, which runs as hundreds of matrix products
//! only 16 columns wide, and the ndarray backend's transposed convolution is a scalar loop. Here a
//! convolution is an im2col gather of channel rows (`select`) followed by one
//! `[pixels·batch, taps·C_in] × [taps·C_in, C_out]` product, and a transposed convolution is that
//! product first and a scatter-add of the rows (`select_assign`) after. Both are built from
//! differentiable tensor operations, so autodiff derives the backward passes, and all three
//! products of each layer (forward, input gradient, weight gradient) are single large matrix
//! products. Same math as `nn::conv`: outputs agree to float rounding (tests below).

use std::cell::RefCell;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::{IndexingUpdateOp, TensorData};

use super::rows::Rows;

/// Whether `device` should run the DCGAN on [`Rows`] with these convolutions.
///
/// The GPU backends keep burn's own kernels.
pub fn gathers(device: &Device) -> bool {
    crate::device::on_host(device)
}

/// Geometry of one square convolution (dilation 1, one group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Geometry {
    /// Output side for an input side `n`.
    fn conv_out(&self, n: usize) -> usize {
        (n + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output side of the transposed convolution for an input side `n`.
    fn transpose_out(&self, n: usize) -> usize {
        (n - 1) * self.stride + self.kernel - 2 * self.padding
    }

    /// The tap table linking a `small` map (the convolution's output, or the transposed
    /// convolution's input) to a `large` one, for `b` images: for every image, pixel (i, j) of
    /// the small map and tap (ky, kx), the row `n·H·W + y·W + x` of the large map at
    /// (i·stride + ky − padding, j·stride + kx − padding), or `b·H·W` (one past the last row)
    /// where that falls outside it.
    ///
    /// A convolution gathers its input rows through this table (the extra row is a zero row for
    /// the padding); a transposed convolution, the convolution's adjoint, scatters its
    /// contributions through the same table (the extra row collects the cropped border).
    fn taps(&self, b: usize, small: [usize; 2], large: [usize; 2]) -> Vec<i64> {
        let ([sh, sw], [h, w], k) = (small, large, self.kernel);
        let outside = (b * h * w) as i64;
        let mut rows = Vec::with_capacity(b * sh * sw * k * k);
        for n in 0..b {
            for i in 0..sh {
                for j in 0..sw {
                    for ky in 0..k {
                        for kx in 0..k {
                            let y = (i * self.stride + ky) as isize - self.padding as isize;
                            let x = (j * self.stride + kx) as isize - self.padding as isize;
                            rows.push(
                                if (0..h as isize).contains(&y) && (0..w as isize).contains(&x) {
                                    (n * h * w) as i64 + (y as usize * w + x as usize) as i64
                                } else {
                                    outside
                                },
                            );
                        }
                    }
                }
            }
        }
        rows
    }
}

/// Kernel, stride and padding of a square convolution, checked to be what this module handles.
fn geometry(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2], plain: bool) -> Geometry {
    assert!(
        kernel[0] == kernel[1] && stride[0] == stride[1] && padding[0] == padding[1] && plain,
        "gathered convolutions are square, without dilation, groups or output padding"
    );
    Geometry {
        kernel: kernel[0],
        stride: stride[0],
        padding: padding[0],
    }
}

/// `conv.forward` on rows: an im2col gather of input rows, then one matrix product.
pub fn conv2d(conv: &Conv2d, x: Rows) -> Rows {
    let [c_out, c_in, k, _] = conv.weight.dims();
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(t, l, b, r) if t == b && l == r => [t, l],
        PaddingConfig2d::Valid => [0, 0],
        ref other => panic!("gathered convolutions need explicit padding, not {other:?}"),
    };
    let g = geometry(
        conv.kernel_size,
        conv.stride,
        padding,
        conv.dilation == [1, 1] && conv.groups == 1,
    );
    let (b, h, w) = (x.batch, x.height, x.width);
    let (ho, wo) = (g.conv_out(h), g.conv_out(w));
    let device = x.tensor.device();

    // One zero row for the taps that fall in the padding.
    let rows = Tensor::cat(vec![x.tensor, Tensor::zeros([1, c_in], &device)], 0);
    let taps = table(g, b, [ho, wo], [h, w], &device).index;
    let cols = rows.select(0, taps).reshape([b * ho * wo, k * k * c_in]);
    // Weight columns in the same (ky, kx, c_in) order.
    let weight = conv
        .weight
        .val()
        .permute([2, 3, 1, 0])
        .reshape([k * k * c_in, c_out]);
    let mut y = cols.matmul(weight);
    if let Some(bias) = &conv.bias {
        y = y + bias.val().unsqueeze_dim(0);
    }
    Rows {
        tensor: y,
        batch: b,
        height: ho,
        width: wo,
    }
}

/// `conv.forward` on rows: one matrix product giving every input pixel's contribution to
/// each of its k·k output pixels, then a scatter-add of those rows onto the output pixels.
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Rows) -> Rows {
    let [c_in, c_out, k, _] = conv.weight.dims();
    let g = geometry(
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation == [1, 1] && conv.groups == 1 && conv.padding_out == [0, 0],
    );
    let (b, h, w) = (x.batch, x.height, x.width);
    let (ho, wo) = (g.transpose_out(h), g.transpose_out(w));
    let device = x.tensor.device();

    let weight = conv
        .weight
        .val()
        .permute([0, 2, 3, 1])
        .reshape([c_in, k * k * c_out]);
    let contributions = x.tensor.matmul(weight).reshape([b * h * w * k * k, c_out]);
    let targets = table(g, b, [h, w], [ho, wo], &device);
    let mut y = if targets.identity {
        // A 1×1 input projected to a k×k map (stride 1, no padding): every contribution is
        // its own output pixel, already in row order.
        contributions
    } else {
        // Contributions that land in the cropped border go to a discarded last row.
        Tensor::zeros([b * ho * wo + 1, c_out], &device)
            .select_assign(0, targets.index, contributions, IndexingUpdateOp::Add)
            .slice(s![0..b * ho * wo, ..])
    };
    if let Some(bias) = &conv.bias {
        y = y + bias.val().unsqueeze_dim(0);
    }
    Rows {
        tensor: y,
        batch: b,
        height: ho,
        width: wo,
    }
}

/// One tap table, as the index tensor the gathers and scatters take.
#[derive(Clone)]
struct Table {
    /// [`Geometry::taps`] on the device.
    index: Tensor<1, Int>,
    /// Whether it sends row i to row i.
    identity: bool,
}

/// What a tap table depends on: geometry, batch, the small and the large map's sides.
type TableKey = (Geometry, usize, [usize; 2], [usize; 2]);

thread_local! {
    /// Tables already built on this thread (a pool worker; G's pass may run on either, so each
    /// builds its own): each layer asks for the same table every step, which was ~1% of a
    /// DCGAN step to rebuild and upload each time.
    static TABLES: RefCell<Vec<(TableKey, Device, Table)>> = const { RefCell::new(Vec::new()) };
}

/// The tap table for this geometry, batch and pair of maps on `device`, built once per thread.
///
/// Built on the device without autodiff: device equality ignores autodiff, and an index made
/// on an autodiff device would turn the evaluation passes' untracked inputs into autodiff
/// tensors. A plain index goes with tracked and untracked inputs alike.
fn table(g: Geometry, b: usize, small: [usize; 2], large: [usize; 2], device: &Device) -> Table {
    /// More distinct tables than any run uses (layers × batch sizes); past it, start over.
    const KEEP: usize = 64;
    let key = (g, b, small, large);
    let device = device.clone().inner();
    TABLES.with_borrow_mut(|tables| {
        if let Some((_, _, t)) = tables.iter().find(|(k, d, _)| *k == key && *d == device) {
            return t.clone();
        }
        let rows = g.taps(b, small, large);
        let table = Table {
            identity: is_identity(&rows),
            index: index(rows, &device),
        };
        if tables.len() >= KEEP {
            tables.clear();
        }
        tables.push((key, device.clone(), table.clone()));
        table
    })
}

/// Whether a scatter table sends row i to row i.
fn is_identity(targets: &[i64]) -> bool {
    targets.iter().enumerate().all(|(i, &t)| t == i as i64)
}

/// A row-index table as an int tensor on `device`.
fn index(rows: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::Distribution;

    /// Largest absolute difference between two tensors.
    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    /// Runs `ours` and `burns` on the same input and upstream gradient and asserts that output,
    /// input gradient and weight gradient agree to 1e-4 (`case` names the geometry).
    fn compare<M: Module>(
        module: &M,
        weight: impl Fn(&M) -> Tensor<4>,
        ours: impl Fn(&M, Tensor<4>) -> Tensor<4>,
        burns: impl Fn(&M, Tensor<4>) -> Tensor<4>,
        input: [usize; 4],
        case: &str,
    ) {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &device);
        let run = |f: &dyn Fn(&M, Tensor<4>) -> Tensor<4>| {
            let x = x.clone().require_grad();
            let y = f(module, x.clone());
            // Upstream gradient 2y: depends on the output, so a wrong output or gradient shows.
            let grads = (y.clone() * y.clone()).sum().backward();
            (
                y.inner(),
                x.grad(&grads).unwrap(),
                weight(module).grad(&grads).unwrap(),
            )
        };
        let (y1, gx1, gw1) = run(&ours);
        let (y2, gx2, gw2) = run(&burns);
        let diffs = [max_diff(y1, y2), max_diff(gx1, gx2), max_diff(gw1, gw2)];
        assert!(diffs.iter().all(|d| *d < 1e-4), "{diffs:?} for {case}");
    }

    #[test]
    fn gathered_conv_matches_burns_conv_and_its_gradients() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        for (cin, cout, k, s, p, side, bias) in [
            (3, 8, 4, 2, 1, 12, true),
            (4, 6, 3, 1, 1, 7, false),
            (2, 5, 5, 2, 0, 11, true),
        ] {
            let conv = Conv2dConfig::new([cin, cout], [k, k])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_bias(bias)
                .init(&device);
            compare(
                &conv,
                |c| c.weight.val(),
                |c, x| conv2d(c, Rows::from_nchw(x)).into_nchw(),
                |c, x| c.forward(x),
                [3, cin, side, side],
                &format!("k{k} s{s} p{p}"),
            );
        }
    }

    #[test]
    fn scattered_transposed_conv_matches_burns_and_its_gradients() {
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        for (cin, cout, k, s, p, side, bias) in [
            (8, 4, 4, 2, 1, 5, true),
            (6, 3, 7, 1, 0, 1, false),
            (3, 2, 3, 2, 1, 4, true),
        ] {
            let conv = ConvTranspose2dConfig::new([cin, cout], [k, k])
                .with_stride([s, s])
                .with_padding([p, p])
                .with_bias(bias)
                .init(&device);
            compare(
                &conv,
                |c| c.weight.val(),
                |c, x| conv_transpose2d(c, Rows::from_nchw(x)).into_nchw(),
                |c, x| c.forward(x),
                [3, cin, side, side],
                &format!("k{k} s{s} p{p}"),
            );
        }
    }

    #[test]
    fn cached_tap_tables_match_a_fresh_build_and_carry_no_autodiff() {
        let device = Device::flex();
        let g = Geometry {
            kernel: 4,
            stride: 2,
            padding: 1,
        };
        let data = |t: Table| t.index.into_data().iter::<i64>().collect::<Vec<_>>();
        let cached = || TABLES.with_borrow(|t| t.len());
        // Each test runs on a thread of its own, so this thread's cache starts empty.
        let before = cached();
        table(g, 3, [7, 7], [14, 14], &device);
        let again = table(g, 3, [7, 7], [14, 14], &device);
        assert_eq!(cached(), before + 1, "the second call must be a cache hit");
        assert_eq!(data(again), g.taps(3, [7, 7], [14, 14]));
        // Another batch is another table.
        let other = table(g, 2, [7, 7], [14, 14], &device);
        assert_eq!(cached(), before + 2);
        assert_eq!(data(other), g.taps(2, [7, 7], [14, 14]));
        let one = Geometry {
            kernel: 7,
            stride: 1,
            padding: 0,
        };
        assert!(table(one, 2, [1, 1], [7, 7], &device).identity);
        assert!(!table(g, 2, [7, 7], [14, 14], &device).identity);
        // Asked for first by training on the autodiff device, the table must still suit an
        // untracked evaluation pass on the plain device.
        let fresh = table(g, 5, [7, 7], [14, 14], &device.clone().autodiff());
        assert!(!fresh.index.is_autodiff());
        // The plain device then gets that same table: one entry for both.
        let entries = cached();
        assert!(!table(g, 5, [7, 7], [14, 14], &device).index.is_autodiff());
        assert_eq!(cached(), entries);
    }

    #[test]
    fn the_dcgan_sized_transposed_conv_matches_burns() {
        // G's second stage at its real size (8 × 49 × 16 contributions of 64 channels), beyond
        // the small geometries above.
        let _lock = crate::seed_lock();
        let device = Device::flex().autodiff();
        let conv = ConvTranspose2dConfig::new([128, 64], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .init(&device);
        compare(
            &conv,
            |c| c.weight.val(),
            |c, x| conv_transpose2d(c, Rows::from_nchw(x)).into_nchw(),
            |c, x| c.forward(x),
            [8, 128, 7, 7],
            "DCGAN G stage 2",
        );
    }

    #[test]
    fn cpu_devices_gather() {
        let _lock = crate::seed_lock();
        assert!(gathers(&Device::flex()));
        assert!(gathers(&Device::flex().autodiff()));
    }
}
