//! Sample grids: a batch of generated images tiled into one PNG.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};

/// Pixels of padding around and between the tiles.
pub const PAD: usize = 2;

/// Columns and rows of the grid for `n` images: as square as possible.
pub fn grid_shape(n: usize) -> (usize, usize) {
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    (cols, n.div_ceil(cols))
}

/// Width and height in pixels of the grid for `n` tiles of `size`×`size`.
pub fn grid_pixels(n: usize, size: usize) -> (u32, u32) {
    let (cols, rows) = grid_shape(n);
    let side = |k: usize| (k * size + (k + 1) * PAD) as u32;
    (side(cols), side(rows))
}

/// Writes `n` images (N×C×H×W values in [-1, 1], C = 1 or 3) as one grid PNG.
pub fn save_grid(
    values: &[f32],
    n: usize,
    channels: usize,
    size: usize,
    path: &Path,
) -> Result<()> {
    save_grid_with_cols(values, n, grid_shape(n).0, channels, size, path)
}

/// Like [`save_grid`], with `cols` tiles per row.
pub fn save_grid_with_cols(
    values: &[f32],
    n: usize,
    cols: usize,
    channels: usize,
    size: usize,
    path: &Path,
) -> Result<()> {
    ensure!(
        channels == 1 || channels == 3,
        "grids take 1 or 3 channels, not {channels}"
    );
    ensure!(
        values.len() == n * channels * size * size,
        "grid input has the wrong length"
    );
    ensure!(cols >= 1, "a grid needs at least one column");
    let side = |k: usize| (k * size + (k + 1) * PAD) as u32;
    let (w, h) = (side(cols), side(n.div_ceil(cols)));
    let to_u8 = |v: f32| (((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round()) as u8;
    let plane = size * size;
    // Tile k's pixel (x, y) in grid coordinates.
    let origin = |k: usize| {
        (
            (k % cols) * (size + PAD) + PAD,
            (k / cols) * (size + PAD) + PAD,
        )
    };
    let result = if channels == 1 {
        let mut img: GrayImage = ImageBuffer::from_pixel(w, h, Luma([0]));
        for k in 0..n {
            let (ox, oy) = origin(k);
            for y in 0..size {
                for x in 0..size {
                    let v = values[k * plane + y * size + x];
                    img.put_pixel((ox + x) as u32, (oy + y) as u32, Luma([to_u8(v)]));
                }
            }
        }
        img.save(path)
    } else {
        let mut img: RgbImage = ImageBuffer::from_pixel(w, h, Rgb([0, 0, 0]));
        for k in 0..n {
            let (ox, oy) = origin(k);
            let base = k * 3 * plane;
            for y in 0..size {
                for x in 0..size {
                    let px = |c: usize| to_u8(values[base + c * plane + y * size + x]);
                    img.put_pixel((ox + x) as u32, (oy + y) as u32, Rgb([px(0), px(1), px(2)]));
                }
            }
        }
        img.save(path)
    };
    result.with_context(|| format!("writing sample grid {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_as_square_as_possible() {
        assert_eq!(grid_shape(64), (8, 8));
        assert_eq!(grid_shape(10), (4, 3));
        assert_eq!(grid_shape(1), (1, 1));
        assert_eq!(
            grid_pixels(64, 28),
            (8 * 28 + 9 * PAD as u32, 8 * 28 + 9 * PAD as u32)
        );
    }

    #[test]
    fn tiles_land_where_expected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        // Two 2×2 tiles: the first black (-1), the second white (1).
        let mut v = vec![-1.0; 4];
        v.extend([1.0; 4]);
        save_grid(&v, 2, 1, 2, &path).unwrap();
        let img = image::open(&path).unwrap().to_luma8();
        assert_eq!(img.dimensions(), grid_pixels(2, 2));
        assert_eq!(img.get_pixel(PAD as u32, PAD as u32)[0], 0);
        assert_eq!(img.get_pixel((2 * PAD + 2) as u32, PAD as u32)[0], 255);
    }
}
