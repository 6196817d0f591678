//! The built-in shape datasets: four classes (circle, square, triangle, cross) drawn
//! procedurally, anti-aliased, grayscale.
//!
//! Every image is one shape of random size and rotation, drawn in one of three styles:
//! `centred` (the default data) fills it at the image's centre; `silhouettes` fills it at a
//! random position; `shapes` strokes its outline, at a random position and width.
//! The pixel value is the analytic coverage (the signed distance to the edge, with a one-pixel
//! ramp), so edges are anti-aliased without supersampling. Everything comes from the seed: no
//! files.

use std::f32::consts::{PI, TAU};

use rand::RngExt;
use rand::rngs::StdRng;

use super::Dataset;
use crate::rng::Stream;

/// The classes of the shapes dataset, in label order.
pub const CLASSES: [&str; 4] = ["circle", "square", "triangle", "cross"];

/// How a shape is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The shape's outline, stroked 1.5–3 px wide (`--dataset shapes`).
    Outline,
    /// The whole shape filled; the cross as two bars (`--dataset silhouettes`).
    Filled,
    /// Filled as `Filled`, centred in the image as MNIST centres its digits (`--dataset
    /// centred`, the default data).
    Centred,
}

/// Draws `n` shape images of `size`×`size` pixels in `style`, labels cycling through every
/// class.
pub fn generate(n: usize, size: usize, seed: u64, style: Style) -> Dataset {
    // A stream of its own, so the data does not change when other seeded draws do.
    let mut rng = Stream::Shapes.rng(seed);
    let mut images = Vec::with_capacity(n * size * size);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % CLASSES.len();
        let shape = Shape::random(class, size as f32, style, &mut rng);
        shape.render(size, &mut images);
        labels.push(class as u32);
    }
    Dataset {
        images,
        labels,
        len: n,
        channels: 1,
        size,
        class_names: CLASSES.iter().map(|s| s.to_string()).collect(),
    }
}

/// One drawn shape: class, style, centre, radius, rotation and stroke width, in pixels.
struct Shape {
    class: usize,
    style: Style,
    cx: f32,
    cy: f32,
    radius: f32,
    angle: f32,
    stroke: f32,
}

impl Shape {
    fn random(class: usize, size: f32, style: Style, rng: &mut StdRng) -> Self {
        let scale = size / 28.0;
        // Drawn for both styles, so a seed gives the same positions, sizes and angles in each.
        let stroke = rng.random_range(1.5..3.0) * scale;
        let radius = rng.random_range(0.20..0.34) * size;
        // Keep the whole stroke inside the frame.
        let margin = radius + stroke / 2.0 + 1.0;
        let cx = rng.random_range(margin..=size - margin);
        let cy = rng.random_range(margin..=size - margin);
        let angle = rng.random_range(0.0..TAU);
        // The position is drawn whatever the style, so a seed gives the same sizes and angles.
        let (cx, cy) = match style {
            Style::Centred => (size / 2.0, size / 2.0),
            Style::Outline | Style::Filled => (cx, cy),
        };
        Shape {
            class,
            style,
            cx,
            cy,
            radius,
            angle,
            stroke,
        }
    }

    /// Appends the image, values in [-1, 1] (background -1, shape 1).
    fn render(&self, size: usize, out: &mut Vec<f32>) {
        let (sin, cos) = (-self.angle).sin_cos();
        for y in 0..size {
            for x in 0..size {
                // Pixel centre in the shape's own rotated frame.
                let dx = x as f32 + 0.5 - self.cx;
                let dy = y as f32 + 0.5 - self.cy;
                let px = dx * cos - dy * sin;
                let py = dx * sin + dy * cos;
                // How far inside what is drawn, plus the half-pixel ramp.
                let depth = match self.style {
                    Style::Outline => self.stroke / 2.0 - self.outline_distance(px, py) + 0.5,
                    Style::Filled | Style::Centred => 0.5 - self.filled_distance(px, py),
                };
                let coverage = depth.clamp(0.0, 1.0);
                out.push(coverage * 2.0 - 1.0);
            }
        }
    }

    /// Signed distance from a point (shape frame) to the filled shape's edge, in pixels,
    /// negative inside. The cross's bars are 0.6 × the radius wide.
    fn filled_distance(&self, x: f32, y: f32) -> f32 {
        let r = self.radius;
        match self.class {
            0 => (x * x + y * y).sqrt() - r,
            1 => box_sdf(x, y, r * 0.7, r * 0.7),
            2 => triangle_sdf(x, y, r),
            _ => {
                let half_bar = r * 0.3;
                box_sdf(x, y, r, half_bar).min(box_sdf(x, y, half_bar, r))
            }
        }
    }

    /// Distance from a point (shape frame) to the shape's outline, in pixels.
    fn outline_distance(&self, x: f32, y: f32) -> f32 {
        let r = self.radius;
        match self.class {
            0 => ((x * x + y * y).sqrt() - r).abs(),
            1 => {
                let h = r * 0.7; // half side: the rotated corners stay within the radius
                box_sdf(x, y, h, h).abs()
            }
            2 => triangle_sdf(x, y, r).abs(),
            _ => {
                let d1 = segment_distance(x, y, -r, 0.0, r, 0.0);
                let d2 = segment_distance(x, y, 0.0, -r, 0.0, r);
                d1.min(d2)
            }
        }
    }
}

/// Signed distance to an axis-aligned box of half extents (hx, hy).
fn box_sdf(x: f32, y: f32, hx: f32, hy: f32) -> f32 {
    let qx = x.abs() - hx;
    let qy = y.abs() - hy;
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0)
}

/// Signed distance to an equilateral triangle with circumradius `r`, centred at the origin.
fn triangle_sdf(x: f32, y: f32, r: f32) -> f32 {
    // Vertices on the circumcircle; distance is the min over the edges, signed by inside test.
    let v: [(f32, f32); 3] = std::array::from_fn(|i| {
        let a = -PI / 2.0 + i as f32 * TAU / 3.0;
        (r * a.cos(), r * a.sin())
    });
    let mut d = f32::INFINITY;
    let mut inside = true;
    for i in 0..3 {
        let (ax, ay) = v[i];
        let (bx, by) = v[(i + 1) % 3];
        d = d.min(segment_distance(x, y, ax, ay, bx, by));
        // Vertices run clockwise on screen (y down): inside is on the same side of every edge.
        let cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
        if cross < 0.0 {
            inside = false;
        }
    }
    if inside { -d } else { d }
}

/// Distance from (x, y) to the segment a–b.
fn segment_distance(x: f32, y: f32, ax: f32, ay: f32, bx: f32, by: f32) -> f32 {
    let (abx, aby) = (bx - ax, by - ay);
    let t = (((x - ax) * abx + (y - ay) * aby) / (abx * abx + aby * aby)).clamp(0.0, 1.0);
    let (qx, qy) = (ax + t * abx - x, ay + t * aby - y);
    (qx * qx + qy * qy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 28 × 28 image of one shape centred in the frame, stroked 2 px wide when outlined.
    fn centred(class: usize, style: Style, radius: f32, angle: f32) -> Vec<f32> {
        let s = Shape {
            class,
            style,
            cx: 14.0,
            cy: 14.0,
            radius,
            angle,
            stroke: 2.0,
        };
        let mut v = Vec::new();
        s.render(28, &mut v);
        v
    }

    #[test]
    fn same_seed_same_images_other_seed_differs() {
        let a = generate(16, 28, 7, Style::Outline);
        let b = generate(16, 28, 7, Style::Outline);
        let c = generate(16, 28, 8, Style::Outline);
        assert_eq!(a.images, b.images);
        assert_eq!(a.labels, b.labels);
        assert_ne!(a.images, c.images);
    }

    #[test]
    fn values_in_range_and_every_class_present() {
        for (size, style) in [28, 32, 64]
            .into_iter()
            .zip([Style::Outline, Style::Filled])
        {
            let ds = generate(40, size, 1, style);
            assert_eq!(ds.images.len(), 40 * size * size);
            assert!(ds.images.iter().all(|v| (-1.0..=1.0).contains(v)));
            for class in 0..CLASSES.len() as u32 {
                assert!(ds.labels.contains(&class), "class {class} missing");
            }
        }
    }

    #[test]
    fn images_have_a_visible_antialiased_stroke() {
        let ds = generate(8, 28, 3, Style::Outline);
        for img in ds.images.chunks(28 * 28) {
            let on = img.iter().filter(|&&v| v > 0.9).count();
            let partial = img.iter().filter(|&&v| v > -0.9 && v < 0.9).count();
            assert!(on > 15, "stroke too thin: {on} full pixels");
            assert!(on < 28 * 28 / 2, "image mostly filled: {on}");
            assert!(partial > 5, "no anti-aliased edge pixels: {partial}");
        }
    }

    #[test]
    fn classes_differ_in_shape() {
        // The same geometry drawn as each class gives four different images.
        let draw = |class| centred(class, Style::Outline, 9.0, 0.3);
        let imgs: Vec<_> = (0..4).map(draw).collect();
        for i in 0..4 {
            for j in i + 1..4 {
                assert_ne!(imgs[i], imgs[j]);
            }
        }
    }

    #[test]
    fn centred_shapes_are_the_silhouettes_moved_to_the_centre() {
        let (filled, centred) = (
            generate(32, 28, 5, Style::Filled),
            generate(32, 28, 5, Style::Centred),
        );
        assert_eq!(filled.labels, centred.labels);
        // Mass-weighted centre and mass of each image's lit pixels.
        let moments = |img: &[f32]| {
            let (mut m, mut x, mut y) = (0.0, 0.0, 0.0);
            for (i, v) in img.iter().enumerate() {
                let w = (v + 1.0) / 2.0;
                m += w;
                x += w * ((i % 28) as f32 + 0.5);
                y += w * ((i / 28) as f32 + 0.5);
            }
            (m, x / m, y / m)
        };
        let mut off_centre = 0;
        for (f, c) in filled.images.chunks(784).zip(centred.images.chunks(784)) {
            let ((mf, xf, yf), (mc, xc, yc)) = (moments(f), moments(c));
            // Same size and rotation (the same drawn shape, so the same area)...
            assert!((mf - mc).abs() < 1.0, "area {mf} vs {mc}");
            // ...its own centre within a pixel of the image's (a triangle's centroid is not
            // its circumcentre, so not exactly)...
            assert!(
                (xc - 14.0).abs() < 1.5 && (yc - 14.0).abs() < 1.5,
                "{xc}, {yc}"
            );
            off_centre += usize::from((xf - 14.0).abs() > 2.0 || (yf - 14.0).abs() > 2.0);
        }
        // ...where the silhouettes mostly sit elsewhere.
        assert!(off_centre > 16, "{off_centre} of 32 off centre");
    }

    #[test]
    fn silhouettes_fill_what_shapes_outline_at_the_same_places() {
        let (outline, filled) = (
            generate(16, 28, 5, Style::Outline),
            generate(16, 28, 5, Style::Filled),
        );
        assert_eq!(outline.labels, filled.labels);
        // Pixels above `t`: their bounding box (x0, y0, x1, y1).
        let bbox = |img: &[f32], t: f32| {
            let on = img.iter().enumerate().filter(|(_, v)| **v > t);
            on.fold((28, 28, 0, 0), |(x0, y0, x1, y1), (i, _)| {
                let (x, y) = (i % 28, i / 28);
                (x0.min(x), y0.min(y), x1.max(x), y1.max(y))
            })
        };
        for (i, (o, f)) in outline
            .images
            .chunks(28 * 28)
            .zip(filled.images.chunks(28 * 28))
            .enumerate()
        {
            // The same shape at the same place: the filled one lies within the outline's
            // outer edge, and is far from a filled frame.
            let (outer, inner) = (bbox(o, -1.0), bbox(f, 0.9));
            assert!(
                inner.0 >= outer.0
                    && inner.1 >= outer.1
                    && inner.2 <= outer.2
                    && inner.3 <= outer.3,
                "image {i}: {inner:?} outside {outer:?}"
            );
            let on = f.iter().filter(|&&v| v > 0.9).count();
            assert!(on > 20 && on < 28 * 28 / 2, "image {i}: {on} pixels on");
        }
        // A centred shape of each class covers its centre when filled; the circle, square and
        // triangle outlines leave it empty.
        let centre = |class, style| centred(class, style, 8.0, 0.4)[14 * 28 + 14];
        for class in 0..CLASSES.len() {
            assert_eq!(centre(class, Style::Filled), 1.0, "class {class}");
        }
        for class in 0..3 {
            assert_eq!(centre(class, Style::Outline), -1.0, "class {class}");
        }
    }
}
