//! `gru train --distributed`: the ranks of an MPI job (`mpirun -n N gru train --distributed
//! ...`, feature `mpi`), or one process. Only rank 0 prints progress and writes files.

use anyhow::Result;
use gru::train::distributed::{GradientReducer, LocalReducer};

/// The processes training one model.
pub enum Job {
    /// One process (no `--distributed`).
    Local(LocalReducer),
    /// The ranks of an MPI job.
    #[cfg(feature = "mpi")]
    Mpi(gru::train::distributed::MpiReducer),
}

impl Job {
    /// One process, or with `distributed` this process's rank of the MPI job it was started in
    /// (rank 0 of 1 without `mpirun`). Errors in a build without the feature `mpi`.
    pub fn start(distributed: bool) -> Result<Job> {
        if !distributed {
            return Ok(Job::Local(LocalReducer));
        }
        #[cfg(feature = "mpi")]
        {
            Ok(Job::Mpi(gru::train::distributed::MpiReducer::init()?))
        }
        #[cfg(not(feature = "mpi"))]
        anyhow::bail!(
            "--distributed: this gru was built without MPI; build it with the feature mpi \
             (cargo build --release -p gru-cli --features mpi, with an MPI library and libclang \
             installed: Debian's libopenmpi-dev, openmpi-bin and libclang-dev) and run it under \
             mpirun -n N"
        )
    }

    pub fn reducer(&self) -> &dyn GradientReducer {
        match self {
            Job::Local(r) => r,
            #[cfg(feature = "mpi")]
            Job::Mpi(r) => r,
        }
    }

    /// Whether this process prints progress and writes the model, history, plots and
    /// checkpoints: rank 0.
    pub fn writes(&self) -> bool {
        self.reducer().rank() == 0
    }

    /// The end of a command on this rank. An error that every rank met together (a divergence,
    /// a stop by a signal, another rank's failure: the training step decides them on the sums)
    /// is returned, and each rank exits with it; an error of this rank alone is printed, naming
    /// the rank, and ends the whole job (`MPI_Abort`), so that no rank waits for it forever.
    pub fn finish(&self, result: Result<()>) -> Result<()> {
        let Err(e) = result else { return Ok(()) };
        let r = self.reducer();
        if r.size() <= 1 {
            return Err(e);
        }
        let collective = e.downcast_ref::<crate::signals::Interrupted>().is_some()
            || matches!(
                e.downcast_ref::<gru::Error>(),
                Some(gru::Error::Diverged { .. } | gru::Error::Distributed { .. } | gru::Error::Interrupted { .. })
            );
        let e = e.context(format!("rank {} of {}", r.rank(), r.size()));
        if collective {
            return Err(e);
        }
        errln!("Error: {e:?}");
        self.abort(1);
        #[allow(unreachable_code)]
        Err(e)
    }

    fn abort(&self, code: i32) {
        match self {
            Job::Local(_) => {}
            #[cfg(feature = "mpi")]
            Job::Mpi(r) => r.abort(code),
        }
        let _ = code;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_is_rank_0_and_returns_its_errors() {
        let job = Job::start(false).unwrap();
        assert!(job.writes());
        assert_eq!(job.reducer().size(), 1);
        assert!(job.finish(Ok(())).is_ok());
        assert_eq!(job.finish(Err(anyhow::anyhow!("boom"))).unwrap_err().to_string(), "boom");
    }

    #[cfg(not(feature = "mpi"))]
    #[test]
    fn distributed_without_mpi_says_how_to_get_it() {
        let Err(e) = Job::start(true) else { panic!("a build without mpi started a distributed job") };
        let text = e.to_string();
        assert!(text.contains("--distributed") && text.contains("features mpi"), "{text}");
    }
}
