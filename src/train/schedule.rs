//! When a step is logged, measured, drawn and checkpointed.

use crate::settings::TrainSettings;

/// The loop's schedule, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    steps: u64,
    log_every: u64,
    sample_every: u64,
    checkpoint_every: u64,
    eval_every: u64,
}

impl Schedule {
    /// The schedule of `s`.
    pub fn of(s: &TrainSettings) -> Self {
        Schedule {
            steps: s.steps,
            log_every: s.log_every,
            sample_every: s.sample_every,
            checkpoint_every: s.checkpoint_every,
            eval_every: s.eval_every,
        }
    }

    /// Step `step` (0-based) is on the every-N log schedule (its row enters the dead-unit
    /// window); the last step is logged too, off the schedule.
    pub fn on_log_schedule(&self, step: u64) -> bool {
        step.is_multiple_of(self.log_every)
    }

    /// Step `step` gets a metrics.csv row.
    pub fn logged(&self, step: u64) -> bool {
        self.on_log_schedule(step) || step + 1 == self.steps
    }

    /// Step `step`'s row measures quality (with --eval-every).
    pub fn measured(&self, step: u64) -> bool {
        self.eval_every > 0 && (step.is_multiple_of(self.eval_every) || step + 1 == self.steps)
    }

    /// A sample grid is due after `done` steps (the last one is drawn by the ending).
    pub fn grid_due(&self, done: u64) -> bool {
        self.sample_every > 0 && done.is_multiple_of(self.sample_every) && done < self.steps
    }

    /// A checkpoint is due after `done` steps (the last one is written by the ending).
    pub fn checkpoint_due(&self, done: u64) -> bool {
        self.checkpoint_every > 0 && done.is_multiple_of(self.checkpoint_every) && done < self.steps
    }

    /// Whether `done` steps finish the run.
    pub fn is_last(&self, done: u64) -> bool {
        done >= self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule::of(&TrainSettings {
            steps: 25,
            log_every: 10,
            sample_every: 10,
            checkpoint_every: 20,
            eval_every: 20,
            ..TrainSettings::default()
        })
    }

    #[test]
    fn rows_on_the_schedule_and_at_the_end() {
        let s = schedule();
        let logged: Vec<u64> = (0..25).filter(|&k| s.logged(k)).collect();
        assert_eq!(logged, [0, 10, 20, 24]);
        assert!(!s.on_log_schedule(24));
        let measured: Vec<u64> = (0..25).filter(|&k| s.measured(k)).collect();
        assert_eq!(measured, [0, 20, 24]);
    }

    #[test]
    fn grids_and_checkpoints_before_the_end_only() {
        let s = schedule();
        let grids: Vec<u64> = (1..=25).filter(|&d| s.grid_due(d)).collect();
        assert_eq!(grids, [10, 20]);
        let ckpts: Vec<u64> = (1..=25).filter(|&d| s.checkpoint_due(d)).collect();
        assert_eq!(ckpts, [20]);
        let off = Schedule::of(&TrainSettings {
            sample_every: 0,
            checkpoint_every: 0,
            ..TrainSettings::default()
        });
        assert!((1..2000).all(|d| !off.grid_due(d) && !off.checkpoint_due(d) && !off.measured(d)));
    }
}
