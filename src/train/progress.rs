//! Console progress: an indicatif bar on a terminal, plain periodic lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::step::StepScalars;

/// Shows training progress.
pub enum Progress {
    /// Live bar with losses and ETA.
    Bar(ProgressBar),
    /// A line every `every` steps (and at the end).
    Lines { every: u64, next: u64, total: u64 },
}

impl Progress {
    /// A bar when stderr is a terminal and not `quiet`, else about ten plain lines per run.
    pub fn new(total: u64, quiet: bool) -> Self {
        if !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} ETA {eta} {msg}",
                )
                .expect("static template is valid")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                every: total.div_ceil(10).max(1),
                next: 0,
                total,
            }
        }
    }

    /// Reports that steps up to `step` (0-based) are done, with the latest logged scalars.
    pub fn update(&mut self, step: u64, s: &StepScalars, ms_per_step: f64) {
        let mut msg = format!(
            "loss_d {:.3} loss_g {:.3} D(x) {:.2} D(G(z)) {:.2}",
            s.loss_d, s.loss_g, s.d_real, s.d_fake
        );
        if let Some(p) = &s.sparsity {
            let dead: Vec<String> = p
                .layers
                .iter()
                .map(|l| format!("{:.2}", l.dead_units))
                .collect();
            msg += &format!(" grad0 {:.3} dead [{}]", p.d_grad_zero, dead.join(" "));
        }
        msg += &format!(" {ms_per_step:.0} ms/step");
        match self {
            Progress::Bar(bar) => {
                bar.set_position(step + 1);
                bar.set_message(msg);
            }
            Progress::Lines { every, next, total } => {
                if step >= *next || step + 1 == *total {
                    eprintln!("step {:>6}/{total} {msg}", step + 1);
                    *next = step + *every;
                }
            }
        }
    }

    /// Moves the bar to `step` without new scalars.
    pub fn tick(&self, step: u64) {
        if let Progress::Bar(bar) = self {
            bar.set_position(step + 1);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
