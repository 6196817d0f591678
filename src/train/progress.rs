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
    /// One run of a plan (gan compare): the plan's bar, this run's steps starting at `offset`.
    Plan(PlanBar),
}

/// The progress bar of a whole plan of runs, shared by the runs in turn.
#[derive(Clone)]
pub struct PlanBar {
    /// The bar over all steps of all runs (hidden when stderr is not a terminal).
    pub bar: ProgressBar,
    /// Steps of the plan before this run's first.
    pub offset: u64,
    /// The run's name, shown beside the bar.
    pub label: String,
}

/// A live bar over `total` steps with elapsed time, ETA and a message.
fn styled_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} ETA {eta} {msg}",
        )
        .expect("static template is valid")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

impl PlanBar {
    /// A bar over `total` steps: drawn on a terminal, hidden otherwise.
    pub fn bar(total: u64) -> ProgressBar {
        match std::io::stderr().is_terminal() {
            true => styled_bar(total),
            false => ProgressBar::hidden(),
        }
    }

    /// Prints a line above the bar (or plainly when it is hidden).
    pub fn println(&self, line: &str) {
        match self.bar.is_hidden() {
            true => eprintln!("{line}"),
            false => self.bar.println(line),
        }
    }
}

impl Progress {
    /// A bar when stderr is a terminal and not `quiet`, else about ten plain lines per run.
    pub fn new(total: u64, quiet: bool) -> Self {
        if !quiet && std::io::stderr().is_terminal() {
            Progress::Bar(styled_bar(total))
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
            Progress::Plan(p) => {
                p.bar.set_position(p.offset + step + 1);
                p.bar.set_message(format!("{} {msg}", p.label));
            }
        }
    }

    /// Moves the bar to `step` without new scalars.
    pub fn tick(&self, step: u64) {
        match self {
            Progress::Bar(bar) => bar.set_position(step + 1),
            Progress::Plan(p) => p.bar.set_position(p.offset + step + 1),
            Progress::Lines { .. } => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
