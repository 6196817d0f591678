//! Frozen weights: D's effective capacity, as the fraction of its parameters whose gradient was
//! exactly zero in every logged step of the last window (they did not move at all).

/// Counts, per parameter entry of D, the logged steps in a row its gradient was exactly zero.
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenTracker {
    window: u32,
    /// Logged steps seen so far (up to the window).
    seen: u32,
    /// Per entry: consecutive logged steps with a zero gradient, up to the window.
    runs: Vec<u16>,
}

impl FrozenTracker {
    /// A tracker over the last `window` (≥ 1) logged steps.
    pub fn new(window: u32) -> Self {
        FrozenTracker {
            window: window.clamp(1, u16::MAX as u32),
            seen: 0,
            runs: Vec::new(),
        }
    }

    /// A tracker that continues from a checkpoint's `seen` and `runs`.
    pub fn with_state(window: u32, seen: u32, runs: Vec<u16>) -> Self {
        FrozenTracker {
            seen,
            runs,
            ..FrozenTracker::new(window)
        }
    }

    /// What a checkpoint keeps: logged steps seen and the per-entry runs.
    pub fn state(&self) -> (u32, &[u16]) {
        (self.seen, &self.runs)
    }

    /// Adds one logged step's zero mask; returns the frozen fraction over all of D's parameters
    /// and per hidden layer (`layers`: each parameter's hidden layer and size, in mask order).
    pub fn push(&mut self, zero: &[bool], layers: &[(Option<usize>, usize)]) -> (f64, Vec<f64>) {
        if self.runs.len() != zero.len() {
            // The first step (or a network of another shape): start counting afresh.
            self.runs = vec![0; zero.len()];
            self.seen = 0;
        }
        let cap = self.window as u16;
        for (r, &z) in self.runs.iter_mut().zip(zero) {
            *r = if z { (*r + 1).min(cap) } else { 0 };
        }
        self.seen = (self.seen + 1).min(self.window);
        self.fractions(layers)
    }

    /// What `push` would return, without remembering `zero` (rows off the log schedule).
    pub fn peek(&self, zero: &[bool], layers: &[(Option<usize>, usize)]) -> (f64, Vec<f64>) {
        self.clone().push(zero, layers)
    }

    /// Frozen: zero in each of the last min(window, seen) logged steps.
    fn fractions(&self, layers: &[(Option<usize>, usize)]) -> (f64, Vec<f64>) {
        let need = self.seen.max(1) as u16;
        let hidden = layers.iter().filter_map(|l| l.0).max().map_or(0, |m| m + 1);
        let (mut frozen, mut size) = (vec![0usize; hidden], vec![0usize; hidden]);
        let mut offset = 0;
        let mut all = 0;
        for &(layer, n) in layers {
            let f = super::count_where(&self.runs[offset..offset + n], |r| r >= need);
            all += f;
            if let Some(l) = layer {
                frozen[l] += f;
                size[l] += n;
            }
            offset += n;
        }
        let per_layer = frozen
            .iter()
            .zip(&size)
            .map(|(&f, &n)| f as f64 / n.max(1) as f64)
            .collect();
        (all as f64 / self.runs.len().max(1) as f64, per_layer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_frozen_only_when_zero_in_every_step_of_the_window() {
        // Two layers of 2 entries and an output entry.
        let layers = [(Some(0), 2), (Some(1), 2), (None, 1)];
        let mut t = FrozenTracker::new(2);
        let (all, per) = t.push(&[true, false, true, true, true], &layers);
        // One step seen: zero now = frozen so far.
        assert_eq!((all, per), (0.8, vec![0.5, 1.0]));
        let (all, per) = t.push(&[true, true, false, true, true], &layers);
        // Entry 1 only now, entry 2 not now: neither frozen over the window of 2.
        assert_eq!((all, per), (0.6, vec![0.5, 0.5]));
        // Off the schedule: computed, not remembered.
        let peeked = t.peek(&[false, false, false, false, false], &layers);
        assert_eq!(peeked.0, 0.0);
        // Entry 1 is now zero twice in a row: frozen too.
        assert_eq!(t.push(&[true, true, false, true, true], &layers).0, 0.8);
        assert_eq!(
            t.push(&[true, true, false, true, true], &layers).1,
            vec![1.0, 0.5]
        );
        let (seen, runs) = t.state();
        let resumed = FrozenTracker::with_state(2, seen, runs.to_vec());
        assert_eq!(resumed, t);
    }
}
