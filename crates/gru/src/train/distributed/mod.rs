//! Data-parallel training: N processes (ranks) train one model, each on its shard of every
//! global minibatch, through one small trait, [`GradientReducer`], so that the training step
//! ([`train_step_reduced`](super::train_step_reduced)) stays independent of the engine and of
//! the transport. [`LocalReducer`] (one process, the default) reduces nothing; the MPI one
//! (`MpiReducer`, feature `mpi`) sums over `MPI_COMM_WORLD`.
//!
//! ```text
//! global minibatch of B sequences, positions 0..B
//! rank r of N takes positions shard_range(B, r, N)      (the first B mod N ranks one more)
//! each rank:  g_r = Σ_{its observations} ∂ℓ/∂θ          (the loss summed, not averaged)
//! all ranks:  g = (Σ_r g_r) / n                          (all-reduce sum; n = Σ_r n_r, the
//!                                                         global count of Reduction::Mean, 1 for Sum)
//! then the same clipping, L2 and optimizer step on every rank: θ stays identical everywhere
//! ```
//!
//! With the same seed every rank draws the same epoch order, so the global minibatches agree;
//! rank 0's parameters (and optimizer state, after a resume) are broadcast before the first step
//! ([`broadcast_state`]). N ranks then train the model of one process with batch B, up to the
//! order of the sums (f64: ~1e-12 relative per step). Dropout masks are drawn per rank (the same
//! distribution, other values), so with dropout layers the equivalence is statistical.

#[cfg(feature = "mpi")]
mod mpi;
mod shard;

use std::any::Any;

use gru_core::Real;

#[cfg(feature = "mpi")]
pub use self::mpi::MpiReducer;
pub use shard::{shard_chunk, shard_range};

use crate::error::{Error, Result};
use crate::network::Network;
use crate::optim::Optimizer;

/// The collective operations of data-parallel training, over all ranks of one job. Every rank
/// must call the same operations in the same order with buffers of the same length (the
/// training loops guarantee it); an operation is complete on return.
pub trait GradientReducer {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;

    /// The number of ranks `N` (1: one process).
    fn size(&self) -> usize;

    /// `recv[i] = Σ_ranks send[i]` on every rank (`send.len() == recv.len()`).
    fn all_reduce_sum_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()>;

    /// `recv[i] = Σ_ranks send[i]` on every rank (`send.len() == recv.len()`).
    fn all_reduce_sum_f64(&self, send: &[f64], recv: &mut [f64]) -> Result<()>;

    /// `buffer` becomes rank 0's on every rank.
    fn broadcast_f32(&self, buffer: &mut [f32]) -> Result<()>;

    /// `buffer` becomes rank 0's on every rank.
    fn broadcast_f64(&self, buffer: &mut [f64]) -> Result<()>;
}

/// One process: rank 0 of 1; the sum of one rank is its own buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalReducer;

impl GradientReducer for LocalReducer {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_reduce_sum_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        recv.copy_from_slice(send);
        Ok(())
    }

    fn all_reduce_sum_f64(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
        recv.copy_from_slice(send);
        Ok(())
    }

    fn broadcast_f32(&self, _buffer: &mut [f32]) -> Result<()> {
        Ok(())
    }

    fn broadcast_f64(&self, _buffer: &mut [f64]) -> Result<()> {
        Ok(())
    }
}

/// The largest number of elements one collective call moves (MPI counts are `int`): longer
/// buffers go in buckets of this size, in order.
const BUCKET: usize = 1 << 24;

/// `Σ_ranks values[i]` on every rank, in `T` (f32 or f64 sums; another `Real` in f64).
pub fn sum_all<T: Real>(reducer: &dyn GradientReducer, values: Vec<T>) -> Result<Vec<T>> {
    if reducer.size() <= 1 {
        return Ok(values);
    }
    let boxed: Box<dyn Any> = Box::new(values);
    let boxed = match boxed.downcast::<Vec<f32>>() {
        Ok(v) => {
            let mut out = vec![0f32; v.len()];
            for (s, r) in v.chunks(BUCKET).zip(out.chunks_mut(BUCKET)) {
                reducer.all_reduce_sum_f32(s, r)?;
            }
            return back::<T, f32>(out);
        }
        Err(other) => other,
    };
    match boxed.downcast::<Vec<f64>>() {
        Ok(v) => {
            let mut out = vec![0f64; v.len()];
            for (s, r) in v.chunks(BUCKET).zip(out.chunks_mut(BUCKET)) {
                reducer.all_reduce_sum_f64(s, r)?;
            }
            back::<T, f64>(out)
        }
        Err(other) => {
            let v = other.downcast::<Vec<T>>().map_err(|_| unreachable_type::<T>())?;
            let wide: Vec<f64> = v.iter().map(|x| x.widen()).collect();
            Ok(sum_all(reducer, wide)?.into_iter().map(T::lit).collect())
        }
    }
}

/// `values` becomes rank 0's on every rank.
pub fn broadcast<T: Real>(reducer: &dyn GradientReducer, values: &mut [T]) -> Result<()> {
    if reducer.size() <= 1 {
        return Ok(());
    }
    let mut wide: Vec<f64> = values.iter().map(|x| x.widen()).collect();
    for c in wide.chunks_mut(BUCKET) {
        reducer.broadcast_f64(c)?;
    }
    // Widening is exact, so rank 0's f32 values come back bit for bit.
    for (v, w) in values.iter_mut().zip(wide) {
        *v = T::lit(w);
    }
    Ok(())
}

fn back<T: Real, S: 'static>(out: Vec<S>) -> Result<Vec<T>> {
    let boxed: Box<dyn Any> = Box::new(out);
    boxed.downcast::<Vec<T>>().map(|v| *v).map_err(|_| unreachable_type::<T>())
}

fn unreachable_type<T: Real>() -> Error {
    Error::Unsupported { operation: format!("a gradient sum in {}", T::DTYPE), reason: "unknown element type".into() }
}

/// Whether `flag` is set on any rank (every rank gets the same answer): a stop asked for on
/// one rank (a signal) stops all of them before the same minibatch.
pub fn any_rank(reducer: &dyn GradientReducer, flag: bool) -> Result<bool> {
    if reducer.size() <= 1 {
        return Ok(flag);
    }
    let mut out = [0.0];
    reducer.all_reduce_sum_f64(&[f64::from(u8::from(flag))], &mut out)?;
    Ok(out[0] > 0.0)
}

/// Makes every rank start from rank 0's state: the network's parameters and the optimizer's
/// state tensors and step count (a resumed run, whatever each rank read). Errors: the
/// reducer's, and the optimizer's when the ranks' optimizers differ in shape.
pub fn broadcast_state<T: Real>(
    reducer: &dyn GradientReducer,
    network: &mut Network<T>,
    optimizer: &mut dyn Optimizer<T>,
) -> Result<()> {
    if reducer.size() <= 1 {
        return Ok(());
    }
    let mut params = network.params_flat();
    let mut shape = [params.len() as f64, 0.0];
    let (mut tensors, step) = optimizer.to_tensors();
    shape[1] = tensors.len() as f64;
    let mine = shape;
    reducer.broadcast_f64(&mut shape)?;
    // Differences of shape are refused on every rank together (all learn it from the sum).
    let mismatch = [f64::from(u8::from(shape != mine))];
    let mut mismatches = [0.0];
    reducer.all_reduce_sum_f64(&mismatch, &mut mismatches)?;
    if mismatches[0] > 0.0 {
        return Err(Error::Distributed {
            rank: reducer.rank(),
            size: reducer.size(),
            reason: format!(
                "{} rank(s) hold another network or optimizer than rank 0 ({} parameters and {} state tensors here, \
                 {} and {} there); give every rank the same files and flags",
                mismatches[0], mine[0], mine[1], shape[0], shape[1]
            ),
        });
    }
    broadcast(reducer, &mut params)?;
    network.set_params_flat(&params)?;
    let mut step = [step as f64];
    reducer.broadcast_f64(&mut step)?;
    for (_, data) in &mut tensors {
        broadcast(reducer, data)?;
    }
    optimizer.load_tensors(tensors, step[0] as u64)
}

/// The dropout seed of `rank`: rank 0 keeps `seed` (so one rank is one process), the others
/// draw their own masks.
pub fn rank_seed(seed: u64, rank: usize) -> u64 {
    seed ^ (rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_sums_and_broadcasts_to_itself() {
        let r = LocalReducer;
        assert_eq!((r.rank(), r.size()), (0, 1));
        assert_eq!(sum_all(&r, vec![1.5f32, -2.0]).unwrap(), [1.5, -2.0]);
        assert_eq!(sum_all(&r, vec![1.5f64]).unwrap(), [1.5]);
        let mut v = [3.0f64];
        broadcast(&r, &mut v).unwrap();
        assert_eq!(v, [3.0]);
        assert!(any_rank(&r, true).unwrap());
        assert!(!any_rank(&r, false).unwrap());
        assert_eq!(rank_seed(42, 0), 42);
        assert_ne!(rank_seed(42, 1), 42);
    }

    /// Two ranks simulated in one process: each call sums with a fixed other rank's buffer.
    struct TwoRanks {
        other: Vec<f64>,
    }

    impl GradientReducer for TwoRanks {
        fn rank(&self) -> usize {
            1
        }
        fn size(&self) -> usize {
            2
        }
        fn all_reduce_sum_f32(&self, send: &[f32], recv: &mut [f32]) -> Result<()> {
            for ((r, s), o) in recv.iter_mut().zip(send).zip(&self.other) {
                *r = s + *o as f32;
            }
            Ok(())
        }
        fn all_reduce_sum_f64(&self, send: &[f64], recv: &mut [f64]) -> Result<()> {
            for ((r, s), o) in recv.iter_mut().zip(send).zip(&self.other) {
                *r = s + o;
            }
            Ok(())
        }
        fn broadcast_f32(&self, buffer: &mut [f32]) -> Result<()> {
            for (b, o) in buffer.iter_mut().zip(&self.other) {
                *b = *o as f32;
            }
            Ok(())
        }
        fn broadcast_f64(&self, buffer: &mut [f64]) -> Result<()> {
            buffer.copy_from_slice(&self.other[..buffer.len()]);
            Ok(())
        }
    }

    #[test]
    fn sums_reach_the_reducer_in_the_element_type() {
        let r = TwoRanks { other: vec![1.0, 2.0, 0.25] };
        assert_eq!(sum_all(&r, vec![1.0f32, 1.0, 1.0]).unwrap(), [2.0, 3.0, 1.25]);
        assert_eq!(sum_all(&r, vec![0.5f64, 0.5, 0.5]).unwrap(), [1.5, 2.5, 0.75]);
        let mut v = [9.0f32, 9.0];
        broadcast(&r, &mut v).unwrap();
        assert_eq!(v, [1.0, 2.0]);
        assert!(any_rank(&r, false).unwrap(), "the other rank's 1.0 counts as set");
    }
}
