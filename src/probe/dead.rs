//! Persistently dead units: dead in every one of the last N logged steps.

use std::collections::VecDeque;

/// Remembers the dead-unit masks of the last `window` logged steps.
pub struct DeadTracker {
    window: usize,
    history: VecDeque<Vec<Vec<bool>>>,
}

impl DeadTracker {
    /// A tracker over the last `window` (≥ 1) logged steps.
    pub fn new(window: usize) -> Self {
        DeadTracker {
            window: window.max(1),
            history: VecDeque::new(),
        }
    }

    /// Adds one logged step's per-layer masks; returns, per layer, the fraction of units dead in
    /// every remembered step (all of them until `window` steps have been seen).
    pub fn push(&mut self, masks: Vec<Vec<bool>>) -> Vec<f64> {
        if self.history.len() == self.window {
            self.history.pop_front();
        }
        self.history.push_back(masks);
        let latest = self.history.back().expect("just pushed");
        (0..latest.len())
            .map(|l| {
                let units = latest[l].len();
                let persistent = (0..units)
                    .filter(|&u| self.history.iter().all(|m| m[l][u]))
                    .count();
                persistent as f64 / units.max(1) as f64
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_units_dead_throughout_the_window_count() {
        let mut t = DeadTracker::new(2);
        // Two layers of two units.
        assert_eq!(
            t.push(vec![vec![true, true], vec![true, false]]),
            [1.0, 0.5]
        );
        assert_eq!(
            t.push(vec![vec![true, false], vec![true, false]]),
            [0.5, 0.5]
        );
        // Unit 1 of layer 0 revived at step 2; the window now holds steps 2 and 3.
        assert_eq!(
            t.push(vec![vec![false, true], vec![true, true]]),
            [0.0, 0.5]
        );
        assert_eq!(
            t.push(vec![vec![false, true], vec![true, true]]),
            [0.5, 1.0]
        );
    }
}
