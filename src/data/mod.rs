//! Datasets held in memory and the seeded batch order over them.

pub mod shapes;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Images in [-1, 1], stored N×C×H×W contiguously, with one class label each.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Pixel values, `len * channels * size * size` of them.
    pub images: Vec<f32>,
    /// Class index of each image.
    pub labels: Vec<u32>,
    /// Number of images.
    pub len: usize,
    /// Channels per image (1 grayscale, 3 RGB).
    pub channels: usize,
    /// Height and width in pixels.
    pub size: usize,
    /// Name of each class index.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Number of values in one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.size * self.size
    }
}

/// Hands out batches of image indices, reshuffled every epoch from its own seeded stream.
pub struct Batcher {
    order: Vec<usize>,
    pos: usize,
    batch_size: usize,
    rng: StdRng,
}

impl Batcher {
    /// A batcher over `len` items; incomplete batches at an epoch's end are skipped.
    pub fn new(len: usize, batch_size: usize, seed: u64) -> Self {
        assert!(
            batch_size >= 1 && batch_size <= len,
            "batch size checked by the caller"
        );
        let mut b = Batcher {
            order: (0..len).collect(),
            pos: 0,
            batch_size,
            rng: StdRng::seed_from_u64(seed ^ 0x4241_5443_4845_5201),
        };
        b.order.shuffle(&mut b.rng);
        b
    }

    /// Gathers the next batch's pixels into one N×C×H×W buffer.
    pub fn next_batch(&mut self, data: &Dataset) -> Vec<f32> {
        if self.pos + self.batch_size > self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.pos = 0;
        }
        let n = data.image_len();
        let mut out = Vec::with_capacity(self.batch_size * n);
        for &i in &self.order[self.pos..self.pos + self.batch_size] {
            out.extend_from_slice(&data.images[i * n..(i + 1) * n]);
        }
        self.pos += self.batch_size;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(len: usize) -> Dataset {
        Dataset {
            images: (0..len).map(|i| i as f32).collect(),
            labels: vec![0; len],
            len,
            channels: 1,
            size: 1,
            class_names: vec!["x".into()],
        }
    }

    #[test]
    fn each_epoch_visits_every_item_once() {
        let data = numbered(12);
        let mut b = Batcher::new(12, 4, 5);
        for _epoch in 0..3 {
            let mut seen: Vec<f32> = (0..3).flat_map(|_| b.next_batch(&data)).collect();
            seen.sort_by(f32::total_cmp);
            assert_eq!(seen, (0..12).map(|i| i as f32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn order_depends_on_seed_only() {
        let data = numbered(50);
        let run = |seed| {
            let mut b = Batcher::new(50, 8, seed);
            (0..10)
                .flat_map(|_| b.next_batch(&data))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
