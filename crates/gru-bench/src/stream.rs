//! The latency of one streaming step (`gru_core::stream`): `B` streams advanced one frame
//! each, I = H, h carried from step to step, inference. Ours is a
//! [`gru::StreamSet`] on an engine; the peers (through the Python worker, `worker.rs`) are
//! PyTorch `nn.GRUCell`, PyTorch `nn.GRU` over T = 1 with h carried, and an onnxruntime
//! session of one GRU node over T = 1 with `Y_h` fed back as `initial_h`. Each timed call
//! runs [`STEPS_PER_CALL`] steps and reports the mean of one step, in milliseconds (tables
//! show microseconds).

use std::time::Instant;

use gru::{Engine, GruParams, GruSpec, StreamId, StreamSet};

use crate::error::Result;
use crate::rounds::Contestant;

/// Streams per step.
pub const STREAM_BATCHES: [usize; 2] = [1, 16];
/// Hidden sizes (I = H).
pub const STREAM_HIDDEN: [usize; 3] = [128, 256, 512];
/// Steps per timed call (their mean is the call's time).
pub const STEPS_PER_CALL: usize = 200;

/// One streaming step of `batch` streams of `hidden` units on one of our engines.
pub struct OursStep {
    set: StreamSet<f32>,
    ids: Vec<StreamId>,
    frames: Vec<f32>,
}

impl OursStep {
    /// A set of `batch` open streams on `engine` (weights uniform in ±1/√H, frames in
    /// [-1, 1], deterministic).
    pub fn new(engine: &dyn Engine<f32>, batch: usize, hidden: usize) -> Result<Self> {
        let spec = GruSpec::new(hidden, hidden);
        let mut params = GruParams::<f32>::zeros(&spec);
        let s = 1.0 / (hidden as f32).sqrt();
        let flat: Vec<f32> = (0..params.num_params()).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * s).collect();
        params.set_flat(&flat)?;
        let mut set = StreamSet::prepare(engine, &spec, &params, batch)?;
        let ids = (0..batch).map(|_| set.open()).collect::<Result<Vec<_>, gru::GruError>>()?;
        let frames = (0..batch * hidden).map(|i| ((i * 31 % 200) as f32 / 100.0) - 1.0).collect();
        Ok(Self { set, ids, frames })
    }

    /// One step (what the rounds time, [`STEPS_PER_CALL`] at a time).
    pub fn step(&mut self) -> Result<f32> {
        Ok(self.set.step(&self.frames, &self.ids)?[0])
    }
}

impl Contestant for OursStep {
    fn warm_up(&mut self) -> Result<()> {
        for _ in 0..STEPS_PER_CALL {
            self.step()?;
        }
        Ok(())
    }

    fn time_once(&mut self) -> Result<f64> {
        let start = Instant::now();
        let mut sink = 0.0;
        for _ in 0..STEPS_PER_CALL {
            sink += self.step()?;
        }
        std::hint::black_box(sink);
        Ok(start.elapsed().as_secs_f64() * 1e3 / STEPS_PER_CALL as f64)
    }
}

/// Bytes of f32 weights one step of a layer of `hidden` units (I = H) reads: W and R,
/// `3H × I` and `3H × H`.
pub fn step_weight_bytes(hidden: usize) -> usize {
    4 * 3 * hidden * (hidden + hidden)
}

/// The floor of one step at B = 1, where it only streams its weights: the best time (ms),
/// over `reps` rounds, for `threads` threads to read `bytes` between them (each its own
/// share, read once per round, every thread started together), once the shares sit in
/// whatever cache holds them after the first round. A step that reads its weights from
/// the same level of the memory hierarchy cannot be faster.
pub fn read_floor_ms(bytes: usize, threads: usize, reps: usize) -> f64 {
    let threads = threads.max(1);
    let words = bytes.div_ceil(8 * threads).max(8);
    let barrier = std::sync::Barrier::new(threads);
    let times: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let share: Vec<u64> = (0..words as u64).map(|i| i ^ t as u64).collect();
                    (0..reps.max(1) + 1)
                        .map(|_| {
                            barrier.wait();
                            let start = Instant::now();
                            std::hint::black_box(read_all(&share));
                            start.elapsed().as_secs_f64() * 1e3
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    // Round r takes as long as its slowest thread; the first round fills the caches.
    (1..reps.max(1) + 1)
        .map(|r| times.iter().filter_map(|t| t.get(r)).fold(0.0f64, |a, &b| a.max(b)))
        .fold(f64::INFINITY, f64::min)
}

/// [`sum_words`] in the widest loads the CPU has (the loads' width bounds a read from L1
/// or L2, not from L3).
fn read_all(words: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked above), all the function requires.
        return unsafe { sum_words_avx512(words) };
    }
    sum_words(words)
}

/// [`sum_words`] in 512-bit loads: four independent accumulators of eight lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sum_words_avx512(words: &[u64]) -> u64 {
    use std::arch::x86_64::*;
    let blocks = words.chunks_exact(32);
    let tail = sum_words(blocks.remainder());
    let mut acc = [_mm512_setzero_si512(); 4];
    for block in blocks {
        for (a, lane) in acc.iter_mut().zip(block.chunks_exact(8)) {
            // SAFETY: `lane` holds 8 u64 (64 bytes); the load is unaligned.
            *a = _mm512_add_epi64(*a, unsafe { _mm512_loadu_si512(lane.as_ptr().cast()) });
        }
    }
    let sum = _mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]));
    tail.wrapping_add(_mm512_reduce_add_epi64(sum) as u64)
}

/// A sum of every word in eight independent lanes (the compiler vectorizes it; wrapping
/// integer adds, so no order to keep): a read at the load ports' pace.
fn sum_words(words: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let chunks = words.chunks_exact(8);
    let tail: u64 = chunks.remainder().iter().fold(0, |a, &w| a.wrapping_add(w));
    for c in chunks {
        for (a, &w) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(w);
        }
    }
    acc.iter().fold(tail, |a, &w| a.wrapping_add(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_reads_every_word_the_tail_included() {
        for n in [21u64, 100] {
            let words: Vec<u64> = (1..=n).collect();
            assert_eq!(sum_words(&words), n * (n + 1) / 2);
            assert_eq!(read_all(&words), n * (n + 1) / 2);
        }
    }

    #[test]
    fn the_floor_is_a_positive_time_and_grows_with_the_bytes() {
        let small = read_floor_ms(64 << 10, 2, 5);
        let large = read_floor_ms(64 << 20, 2, 3);
        assert!(small > 0.0 && small.is_finite());
        assert!(large > small, "64 MiB read in {large} ms, 64 KiB in {small} ms");
    }

    #[test]
    fn weight_bytes_count_w_and_r() {
        assert_eq!(step_weight_bytes(512), 4 * 3 * 512 * 1024);
    }
}
