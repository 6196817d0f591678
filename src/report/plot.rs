//! Line charts with a spread band (plotters, SVG): one line per configuration over steps.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// One configuration's curve: label and (step, mean, low, high) points.
pub type Band = (String, Vec<(u64, f64, f64, f64)>);

/// Colour of the i-th configuration (relu first in a default compare: red, then blue...).
fn colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 6] = [
        RGBColor(214, 39, 40),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    COLOURS[i % COLOURS.len()]
}

/// Draws `bands` (mean line, low–high band) into an SVG at `path`; false when there is nothing
/// to draw (then no file is written).
pub fn band_chart(path: &Path, title: &str, y_desc: &str, bands: &[Band]) -> Result<bool> {
    let points = bands.iter().flat_map(|(_, b)| b.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (u64::MAX, 0u64, f64::INFINITY, f64::NEG_INFINITY);
    for &(s, _, lo, hi) in points {
        if lo.is_finite() && hi.is_finite() {
            x0 = x0.min(s);
            x1 = x1.max(s);
            y0 = y0.min(lo);
            y1 = y1.max(hi);
        }
    }
    if x0 > x1 {
        return Ok(false);
    }
    // Room above and below; a flat line still gets a visible range.
    let pad = ((y1 - y0) * 0.05).max(1e-3 * y1.abs().max(1.0));
    let (y0, y1) = (y0 - pad, y1 + pad);
    let x1 = x1.max(x0 + 1);
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());

    let root = SVGBackend::new(path, (640, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x0 as f64..x1 as f64, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (label, band)) in bands.iter().enumerate() {
        let c = colour(i);
        if band.len() > 1 {
            // The band: lows forward, highs back.
            let mut outline: Vec<(f64, f64)> = band.iter().map(|p| (p.0 as f64, p.2)).collect();
            outline.extend(band.iter().rev().map(|p| (p.0 as f64, p.3)));
            chart
                .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.18).filled())))
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_series(LineSeries::new(
                band.iter().map(|p| (p.0 as f64, p.1)),
                c.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        if band.len() == 1 {
            let p = band[0];
            chart
                .draw_series(std::iter::once(Circle::new(
                    (p.0 as f64, p.1),
                    4,
                    c.filled(),
                )))
                .map_err(|e| err(&e))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(true)
}

/// Every seed's value of one metric: arm `arms[0]` (relu) on the left, `arms[1]` (leaky) on the
/// right, a line joining the runs of one seed. False when there is nothing to draw.
pub fn paired_lines(
    path: &Path,
    title: &str,
    arms: &[String; 2],
    pairs: &[(u64, f64, f64)],
) -> Result<bool> {
    let finite: Vec<&(u64, f64, f64)> = pairs
        .iter()
        .filter(|p| p.1.is_finite() && p.2.is_finite())
        .collect();
    if finite.is_empty() {
        return Ok(false);
    }
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1).min(p.2), hi.max(p.1).max(p.2))
        });
    let pad = ((hi - lo) * 0.08).max(1e-3 * hi.abs().max(1.0));
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = SVGBackend::new(path, (420, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..1.5f64, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(2)
        .x_label_formatter(&|x| match x.round() as i64 {
            0 => arms[0].clone(),
            1 => arms[1].clone(),
            _ => String::new(),
        })
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;
    for p in &finite {
        chart
            .draw_series(LineSeries::new(
                [(0.0, p.1), (1.0, p.2)],
                BLACK.mix(0.35).stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
        chart
            .draw_series([
                Circle::new((0.0, p.1), 4, colour(0).filled()),
                Circle::new((1.0, p.2), 4, colour(1).filled()),
            ])
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_with_a_line_per_band_and_skips_empty_input() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.svg");
        let bands = vec![
            (
                "relu".to_string(),
                vec![(0, 0.5, 0.45, 0.55), (10, 0.52, 0.5, 0.54)],
            ),
            (
                "leaky".to_string(),
                vec![(0, 0.0, 0.0, 0.0), (10, 0.0, 0.0, 0.0)],
            ),
        ];
        assert!(band_chart(&path, "D grad zeros", "fraction", &bands).unwrap());
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(svg.contains("relu") && svg.contains("leaky") && svg.contains("D grad zeros"));
        assert!(svg.matches("<polyline").count() >= 2, "two lines");
        let empty = tmp.path().join("none.svg");
        assert!(!band_chart(&empty, "t", "y", &[("a".into(), vec![])]).unwrap());
        assert!(!empty.exists());
    }

    fn arms() -> [String; 2] {
        ["relu".into(), "leaky".into()]
    }

    #[test]
    fn paired_lines_draw_one_line_per_seed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.svg");
        assert!(paired_lines(&path, "FD", &arms(), &[(42, 30.0, 20.0), (43, 31.0, 22.0)]).unwrap());
        let svg = std::fs::read_to_string(&path).unwrap();
        assert_eq!(svg.matches("<circle").count(), 4, "{svg}");
        assert!(svg.contains("relu") && svg.contains("leaky"));
        assert!(!paired_lines(&tmp.path().join("q.svg"), "FD", &arms(), &[]).unwrap());
    }
}
