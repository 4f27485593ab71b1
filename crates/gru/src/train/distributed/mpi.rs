//! [`GradientReducer`] over MPI's `MPI_COMM_WORLD` (the `mpi` crate; feature `mpi`).
//!
//! Sums are `MPI_Allreduce(MPI_SUM)` into a second buffer, broadcasts `MPI_Bcast` from rank 0.
//! MPI's default error handler on the world communicator is `MPI_ERRORS_ARE_FATAL`: a failed
//! call (a rank that died) ends the job, and `mpirun` names the rank that died; a rank that
//! fails on its own calls [`MpiReducer::abort`], which ends every rank (no rank waits forever).

use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;

use super::GradientReducer;
use crate::error::{Error, Result};

/// The ranks of one MPI job (`mpirun -n N ...`); a process started without `mpirun` is rank 0
/// of 1. Holding it keeps MPI initialized; dropping it finalizes MPI.
pub struct MpiReducer {
    world: SimpleCommunicator,
    // Dropped last: `MPI_Finalize`.
    _universe: Universe,
}

impl MpiReducer {
    /// Initializes MPI (the calling thread makes every MPI call: `MPI_THREAD_FUNNELED`; the
    /// engines' worker threads never call MPI). Errors when MPI was initialized already.
    pub fn init() -> Result<Self> {
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled).ok_or_else(|| Error::Distributed {
            rank: 0,
            size: 1,
            reason: "MPI is initialized already in this process".into(),
        })?;
        Ok(MpiReducer { world: universe.world(), _universe: universe })
    }

    /// Ends every rank of the job with exit status `code` (`MPI_Abort`): for an error that
    /// only this rank knows, which would leave the others waiting in the next collective.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

impl GradientReducer for MpiReducer {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        self.world.all_reduce_into(send, recv, SystemOperation::sum());
        Ok(())
    }

    fn all_reduce_sum_f64(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        self.world.all_reduce_into(send, recv, SystemOperation::sum());
        Ok(())
    }

    fn broadcast_f32(&self, buffer: &mut [f32]) -> Result<()> {
        self.world.process_at_rank(0).broadcast_into(buffer);
        Ok(())
    }

    fn broadcast_f64(&self, buffer: &mut [f64]) -> Result<()> {
        self.world.process_at_rank(0).broadcast_into(buffer);
        Ok(())
    }
}
