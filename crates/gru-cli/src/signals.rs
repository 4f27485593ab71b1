//! Ctrl-C and SIGTERM during training: the first one sets a flag that the training loop reads
//! between minibatches (`Trainer::fit_until`, `KoraliExperiment::train_until`), so the run
//! stops at a safe point, writes what was asked for and exits with 128 + the signal (130
//! for SIGINT, 143 for SIGTERM); a second one ends the process at once with that code.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

/// The stop flag of a run and the signal that set it.
pub struct Signals {
    stop: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl Signals {
    /// Handles SIGINT and SIGTERM from now on.
    pub fn install() -> Result<Self> {
        let (stop, signal) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag of the signal before: a second signal ends
            // the process at once.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&stop))
                .context("installing the signal handlers")?;
            flag::register_usize(sig, Arc::clone(&signal), sig as usize).context("installing the signal handlers")?;
            flag::register(sig, Arc::clone(&stop)).context("installing the signal handlers")?;
        }
        Ok(Self { stop, signal })
    }

    /// The flag the training loop reads.
    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// The signal received, if any.
    pub fn received(&self) -> Option<Interrupted> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            sig => Some(Interrupted { signal: sig as i32 }),
        }
    }
}

/// The error of a command stopped by a signal: `main` exits with [`Interrupted::exit_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    /// 128 + the signal: 130 for SIGINT, 143 for SIGTERM (what shells report).
    pub fn exit_code(&self) -> u8 {
        (128 + self.signal).clamp(0, 255) as u8
    }

    pub fn name(&self) -> &'static str {
        match self.signal {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted by {}", self.name())
    }
}

impl std::error::Error for Interrupted {}
