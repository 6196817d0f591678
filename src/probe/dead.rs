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

    /// A tracker that continues from `history` (oldest first), as saved in a checkpoint.
    pub fn with_history(window: usize, history: Vec<Vec<Vec<bool>>>) -> Self {
        let mut t = DeadTracker::new(window);
        for masks in history {
            t.remember(masks);
        }
        t
    }

    /// The remembered masks, oldest first.
    pub fn history(&self) -> Vec<Vec<Vec<bool>>> {
        self.history.iter().cloned().collect()
    }

    /// What `push` would return, without remembering `masks` (for rows off the log schedule,
    /// so that a resumed run continues exactly as an uninterrupted one).
    pub fn peek(&self, masks: Vec<Vec<bool>>) -> Vec<f64> {
        let mut t = DeadTracker {
            window: self.window,
            history: self.history.clone(),
        };
        t.push(masks)
    }

    fn remember(&mut self, masks: Vec<Vec<bool>>) {
        if self.history.len() == self.window {
            self.history.pop_front();
        }
        self.history.push_back(masks);
    }

    /// Adds one logged step's per-layer masks; returns, per layer, the fraction of units dead in
    /// every remembered step (all of them until `window` steps have been seen).
    pub fn push(&mut self, masks: Vec<Vec<bool>>) -> Vec<f64> {
        self.remember(masks);
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
