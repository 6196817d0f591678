//! Turning decoded images into the trainer's layout: square, C×H×W, values in [-1, 1].

use image::DynamicImage;
use image::imageops::FilterType;

/// Resizes `img` so its shorter side is `size`, centre-crops it square, converts it to
/// `channels` (1 or 3) and appends its planes to `out` scaled to [-1, 1].
pub fn push_image(img: &DynamicImage, size: usize, channels: usize, out: &mut Vec<f32>) {
    let s = size as u32;
    let resized;
    let img = if img.width() == s && img.height() == s {
        img
    } else {
        // Triangle filtering averages over the source footprint, so downscaling does not alias.
        resized = img.resize_to_fill(s, s, FilterType::Triangle);
        &resized
    };
    let scale = |v: u8| v as f32 / 127.5 - 1.0;
    if channels == 1 {
        out.extend(img.to_luma8().as_raw().iter().map(|&v| scale(v)));
    } else {
        let rgb = img.to_rgb8();
        for c in 0..3 {
            out.extend(rgb.as_raw().iter().skip(c).step_by(3).map(|&v| scale(v)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    #[test]
    fn wide_image_is_centre_cropped_and_planar() {
        // 40×20: red and blue side strips that the crop (x 10..30) must drop, green between.
        let img = RgbImage::from_fn(40, 20, |x, _| match x {
            0..5 => Rgb([255, 0, 0]),
            5..35 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let mut out = Vec::new();
        push_image(&DynamicImage::ImageRgb8(img), 10, 3, &mut out);
        assert_eq!(out.len(), 300);
        // The crop keeps the green middle: R and B planes at -1, G plane at 1.
        assert!(out[..100].iter().all(|&v| v == -1.0));
        assert!(out[100..200].iter().all(|&v| v == 1.0));
        assert!(out[200..].iter().all(|&v| v == -1.0));
    }

    #[test]
    fn gray_conversion_spans_minus_one_to_one() {
        let img = GrayImage::from_fn(4, 4, |x, _| Luma([if x < 2 { 0 } else { 255 }]));
        let mut out = Vec::new();
        push_image(&DynamicImage::ImageLuma8(img), 4, 1, &mut out);
        assert_eq!(&out[..4], &[-1.0, -1.0, 1.0, 1.0]);
    }
}
