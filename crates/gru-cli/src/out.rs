//! Standard output and standard error for the commands, without `println!`'s panic.
//!
//! Rust ignores SIGPIPE, so when the reader of a pipe goes away (`gru train ... | head`) the
//! next write fails with `BrokenPipe`, and `println!` panics on it. The commands write through
//! [`outln!`] and [`out!`] instead:
//! - after a broken pipe nothing more is printed and the command goes on: a training run still
//!   saves its model, and the exit status is the command's own (as ripgrep and git do when
//!   their reader leaves);
//! - any other failure (a full disk behind `>`) stops the printing too, and `main` reports
//!   it and exits with 1 ([`take_failure`]).
//!
//! [`errln!`] writes standard error and drops what cannot be written there: no stream is
//! left to say it on.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set once standard output failed: nothing more is written to it.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first failure to write standard output that was not a broken pipe.
static FAILURE: Mutex<Option<io::Error>> = Mutex::new(None);

/// `println!` through [`write_stdout`].
macro_rules! outln {
    () => { $crate::out::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` through [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write_stdout(format_args!($($arg)*)) };
}

/// `eprintln!` through [`write_stderr`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes `args` to standard output and flushes it, unless it failed before; a failure is
/// kept by [`failed`].
pub fn write_stdout(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        failed(e);
    }
}

/// Writes `args` to standard error; what cannot be written is dropped.
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Standard output failed with `e`: print nothing more to it; keep `e` unless it is a broken
/// pipe (the reader left, which is no error of the command). Also for writers of standard
/// output other than [`write_stdout`] (`gru stream`).
pub fn failed(e: io::Error) {
    CLOSED.store(true, Ordering::Relaxed);
    if e.kind() != io::ErrorKind::BrokenPipe {
        let mut first = FAILURE.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(e);
    }
}

/// Whether standard output failed (its reader left, or another error).
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// The failure to write standard output that `main` must report, if any (a broken pipe is
/// not one).
pub fn take_failure() -> Option<io::Error> {
    FAILURE.lock().unwrap_or_else(|p| p.into_inner()).take()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both kinds of failure close standard output; only the one that is not a broken pipe
    /// is kept for `main`. (One test: the state is the process's.)
    #[test]
    fn a_broken_pipe_closes_quietly_and_other_failures_are_kept() {
        assert!(!closed());
        failed(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(closed());
        assert!(take_failure().is_none());
        failed(io::Error::from(io::ErrorKind::StorageFull));
        failed(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(take_failure().map(|e| e.kind()), Some(io::ErrorKind::StorageFull));
        assert!(take_failure().is_none());
    }
}
