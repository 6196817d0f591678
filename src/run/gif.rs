//! `progress.gif`: a run's fixed-noise sample grids, in step order, as one animation.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

/// Milliseconds each grid is shown; the last one is held longer.
const FRAME_MS: u32 = 250;
const LAST_FRAME_MS: u32 = 2000;

/// The `samples/step_NNNNNN.png` grids of a run, in step order.
pub fn step_grids(samples: &Path) -> Result<Vec<PathBuf>> {
    let mut grids: Vec<PathBuf> = fs::read_dir(samples)
        .with_context(|| format!("reading {}", samples.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step_") && n.ends_with(".png"))
        })
        .collect();
    // Zero-padded step numbers sort in step order.
    grids.sort();
    Ok(grids)
}

/// Writes the grids under `samples` as an endlessly looping GIF at `path` (via a temporary file,
/// so an earlier GIF is replaced whole or not at all).
pub fn write_progress_gif(samples: &Path, path: &Path) -> Result<usize> {
    let grids = step_grids(samples)?;
    let tmp = path.with_extension("gif.tmp");
    {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut encoder = GifEncoder::new_with_speed(BufWriter::new(file), 10);
        encoder.set_repeat(Repeat::Infinite)?;
        for (i, grid) in grids.iter().enumerate() {
            let rgba = image::open(grid)
                .with_context(|| format!("reading {}", grid.display()))?
                .into_rgba8();
            let ms = if i + 1 == grids.len() {
                LAST_FRAME_MS
            } else {
                FRAME_MS
            };
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(ms, 1));
            encoder
                .encode_frame(frame)
                .with_context(|| format!("writing {}", tmp.display()))?;
        }
    }
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(grids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::AnimationDecoder;
    use image::codecs::gif::GifDecoder;

    #[test]
    fn grids_become_frames_in_step_order() {
        let tmp = tempfile::tempdir().unwrap();
        let samples = tmp.path().join("samples");
        fs::create_dir_all(&samples).unwrap();
        // Written out of order; the frame's grey level encodes its step.
        for (step, level) in [(500, 200u8), (0, 10), (250, 100)] {
            image::GrayImage::from_pixel(6, 6, image::Luma([level]))
                .save(samples.join(format!("step_{step:06}.png")))
                .unwrap();
        }
        image::GrayImage::new(6, 6)
            .save(samples.join("final.png"))
            .unwrap();
        let gif = tmp.path().join("progress.gif");
        assert_eq!(write_progress_gif(&samples, &gif).unwrap(), 3);
        let frames = GifDecoder::new(std::io::BufReader::new(File::open(&gif).unwrap()))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap();
        let levels: Vec<u8> = frames
            .iter()
            .map(|f| f.buffer().get_pixel(3, 3)[0])
            .collect();
        // GIF palettes may shift a level by a little.
        for (got, want) in levels.iter().zip([10u8, 100, 200]) {
            assert!(got.abs_diff(want) <= 4, "{levels:?}");
        }
        assert!(!tmp.path().join("progress.gif.tmp").exists());
    }
}
