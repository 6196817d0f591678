//! Ctrl-C and SIGTERM: the first asks the loop to stop after the current step; a second one,
//! while that is pending, exits at once with status 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// Exit status of an interrupted run (128 + SIGINT), as shells report it.
pub const EXIT_CODE: u8 = 130;

/// Set once a stop has been requested.
#[derive(Clone)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Installs the handlers for SIGINT and SIGTERM, once per process: every run of a
    /// `gan compare` plan shares the flag, so a Ctrl-C between runs is not lost.
    pub fn install() -> Result<Self> {
        static INSTALLED: OnceLock<StopFlag> = OnceLock::new();
        if let Some(flag) = INSTALLED.get() {
            return Ok(flag.clone());
        }
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as it was before this signal set it:
            // exits only on the second signal.
            flag::register_conditional_shutdown(sig, EXIT_CODE as i32, Arc::clone(&stop))
                .context("installing the Ctrl-C handler")?;
            flag::register(sig, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
        }
        Ok(INSTALLED.get_or_init(|| StopFlag(stop)).clone())
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
