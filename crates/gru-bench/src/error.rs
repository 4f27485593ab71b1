//! The errors of the benchmark harness: an engine's, or the Python worker's.

/// What went wrong while timing a contestant.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An engine of ours (or oneDNN) refused or failed a call.
    #[error(transparent)]
    Engine(#[from] gru::Error),
    /// The Python worker (`tools/bench_worker.py`) could not be started, or stopped.
    #[error("the Python worker ({python} tools/bench_worker.py) {reason}")]
    Worker { python: String, reason: String },
    /// The worker answered something that is not the protocol's.
    #[error("the Python worker answered {line:?}: {reason}")]
    Protocol { line: String, reason: String },
    /// The worker answered that a peer failed (not importable, no such mode, ...).
    #[error("{peer}: {message}")]
    Peer { peer: String, message: String },
}

impl From<gru::GruError> for Error {
    fn from(e: gru::GruError) -> Self {
        Error::Engine(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
