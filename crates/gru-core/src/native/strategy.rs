//! How a call of the fast path uses its threads, chosen by fixed rules or by measuring.
//!
//! - [`Strategy::BatchSplit`]: the batch cut into one part per thread (`split.rs`), each
//!   part a whole recurrence on its own;
//! - [`Strategy::UnitSplit`]: the hidden units of every step split between spinning
//!   workers (`units.rs`, `units_train.rs`), one recurrence;
//! - [`Strategy::OneSweep`]: one recurrence on one thread, its large GEMMs (input
//!   projection, weight gradients, dX) on all threads.
//!
//! The rules ([`by_rule`]) were measured on one host. Calibration
//! ([`NativeEngine::with_calibration`](super::NativeEngine::with_calibration), or
//! `GRU_CALIBRATE=1` for engines that do not say) times every strategy that applies on the
//! call's own first steps, in interleaved rounds, and keeps the fastest for that shape
//! (cached per process, and across processes in the file `GRU_CALIBRATION_CACHE` names: one
//! `strategy<TAB>key` line per choice, keyed by the CPU model). The strategies agree with each other to rounding, not bit for
//! bit (partial sums of the batch split's weight gradients are added in another order), so
//! calibration is opt-in: without it, the same call gives the same bits in every process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// How a call uses its threads (see the module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    BatchSplit,
    UnitSplit,
    OneSweep,
}

impl Strategy {
    /// The name in reports and in the calibration file.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::BatchSplit => "batch-split",
            Strategy::UnitSplit => "unit-split",
            Strategy::OneSweep => "one-sweep",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        [Strategy::BatchSplit, Strategy::UnitSplit, Strategy::OneSweep].into_iter().find(|v| v.name() == s)
    }
}

/// A call's shape, as far as the choice depends on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallShape {
    pub hidden: usize,
    pub batch: usize,
    pub threads: usize,
    /// Training (state kept for backward).
    pub keep: bool,
    /// The prepared stack has the unit split's packed weights.
    pub has_units: bool,
    /// The batch split would use more than one part.
    pub batch_parts: usize,
}

/// From this many hidden units inference splits the units rather than the batch, whatever
/// the batch (measured, `gru bench`: at B64 H512 both splits are equal, above the units win).
pub(crate) const UNIT_SPLIT_MIN_HIDDEN: usize = 512;
/// From this many hidden units the unit split also serves batches too small for the batch
/// split (below `2 · split::MIN_ROWS_PER_THREAD` sequences); under it a step is too short
/// for a barrier (B1 T1000 H64: 1.06 ms split vs 0.74 on one thread; B1 H256: 0.46 vs 0.75).
pub(crate) const UNIT_SPLIT_SMALL_BATCH_MIN_HIDDEN: usize = 128;
/// Training runs one recurrent sweep instead of splitting the batch, with its large GEMMs
/// (input projection, weight gradients, dX) split between the threads, from this many
/// hidden units when a batch split would leave at most `TRAIN_SWEEP_ALONE_MAX_ROWS`
/// sequences per thread: each thread of a batch split streams all of R every step, which
/// costs more than it saves at few rows (measured, B16 T50 H1024: 115 -> 103 ms; at B32
/// T187 H1536, 16 rows per thread, the batch split stays faster: 1575 vs 1942 ms).
pub(crate) const TRAIN_SWEEP_ALONE_MIN_HIDDEN: usize = 512;
pub(crate) const TRAIN_SWEEP_ALONE_MAX_ROWS: usize = 8;
/// From this many hidden units training splits the units too (`units_train.rs`), for
/// batches of at most `TRAIN_SWEEP_ALONE_MAX_ROWS` sequences per thread (measured,
/// B16 T50 H1024: 94 -> 74 ms, B4 T100 H512: 14.5 -> 12 ms; with more rows per thread the
/// batch split stays faster: B64 T50 H512 80 vs 104 ms, B32 T187 H1536 1353 vs 1444 ms).
pub(crate) const UNIT_SPLIT_TRAIN_MIN_HIDDEN: usize = 512;

/// The fixed rules (the constants above); `forced_units`: the engine's unit-split choice.
pub(crate) fn by_rule(s: &CallShape, forced_units: Option<bool>) -> Strategy {
    let few_rows = s.batch <= TRAIN_SWEEP_ALONE_MAX_ROWS * s.threads;
    let units = s.has_units
        && (forced_units == Some(true)
            || if s.keep {
                few_rows
            } else {
                s.hidden >= UNIT_SPLIT_MIN_HIDDEN || s.batch < 2 * super::split::MIN_ROWS_PER_THREAD
            });
    if units {
        Strategy::UnitSplit
    } else if s.keep && s.hidden >= TRAIN_SWEEP_ALONE_MIN_HIDDEN && few_rows {
        Strategy::OneSweep
    } else {
        Strategy::BatchSplit
    }
}

/// The strategies calibration compares for `s` (one or none: nothing to compare).
pub(crate) fn candidates(s: &CallShape) -> Vec<Strategy> {
    let mut out = vec![Strategy::OneSweep];
    if s.batch_parts > 1 {
        out.push(Strategy::BatchSplit);
    }
    if s.has_units {
        out.push(Strategy::UnitSplit);
    }
    out
}

/// Whether engines that do not say calibrate: `GRU_CALIBRATE` = `1`, `true` or `on`.
pub(crate) fn calibrate_by_default() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("GRU_CALIBRATE")
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "on"))
    })
}

/// Rounds of calibration: every candidate timed once per round, the best of the rounds kept.
pub(crate) const ROUNDS: usize = 3;
/// Steps of the call a calibration times (its first ones).
pub(crate) const STEPS: usize = 16;

/// Times `run(candidate)` in [`ROUNDS`] interleaved rounds after one warm-up each;
/// returns the fastest and every candidate's best milliseconds.
pub(crate) fn measure(candidates: &[Strategy], mut run: impl FnMut(Strategy)) -> (Strategy, Vec<(Strategy, f64)>) {
    for &c in candidates {
        run(c);
    }
    let mut best = vec![f64::INFINITY; candidates.len()];
    for _ in 0..ROUNDS {
        for (i, &c) in candidates.iter().enumerate() {
            let t = Instant::now();
            run(c);
            best[i] = best[i].min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let times: Vec<(Strategy, f64)> = candidates.iter().copied().zip(best).collect();
    let fastest = times.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map_or(candidates[0], |t| t.0);
    (fastest, times)
}

/// The process's calibrated choices, by key (see [`key`]), loaded from
/// `GRU_CALIBRATION_CACHE` on first use.
/// A calibrated choice and the times it was made from (none when read from the file).
type Calibrated = (Strategy, Vec<(Strategy, f64)>);

fn cache() -> &'static Mutex<HashMap<String, Calibrated>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Calibrated>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(load_file().unwrap_or_default()))
}

/// The key of a calibrated choice: the CPU model, the spec, the call's batch, threads and
/// whether it trains.
pub(crate) fn key(spec_text: &str, s: &CallShape) -> String {
    format!(
        "{} | {spec_text} | B{} | {} threads | {}",
        cpu_model(),
        s.batch,
        s.threads,
        if s.keep { "training" } else { "inference" }
    )
}

/// A choice calibrated earlier (in this process or the cache file), with its times.
pub(crate) fn cached(key: &str) -> Option<Calibrated> {
    cache().lock().ok()?.get(key).cloned()
}

/// Records a calibrated choice (and writes the cache file when there is one; a file that
/// cannot be written is left as it was: calibration is an optimization, never an error).
pub(crate) fn remember(key: String, choice: Strategy, measured: Vec<(Strategy, f64)>) {
    let Ok(mut map) = cache().lock() else { return };
    map.insert(key, (choice, measured));
    if let Some(path) = std::env::var_os("GRU_CALIBRATION_CACHE") {
        let mut lines: Vec<String> = map.iter().map(|(k, v)| format!("{}\t{k}\n", v.0.name())).collect();
        lines.sort();
        let path = std::path::PathBuf::from(path);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        if std::fs::write(&tmp, lines.concat()).is_err() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The cache file's choices; an unreadable or malformed file (or entry) is ignored.
fn load_file() -> Option<HashMap<String, Calibrated>> {
    let path = std::env::var_os("GRU_CALIBRATION_CACHE")?;
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(v, k)| Some((k.to_string(), (Strategy::from_name(v)?, Vec::new()))))
            .collect(),
    )
}

/// The CPU's model name (Linux `/proc/cpuinfo`), else "unknown CPU".
fn cpu_model() -> &'static str {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into())
    })
}

/// A choice and how it was made, for [`crate::PreparedGru::explain`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Choice {
    pub strategy: Strategy,
    pub threads: usize,
    pub batch: usize,
    /// Each candidate's best milliseconds over the first steps, when calibrated now.
    pub measured: Vec<(Strategy, f64)>,
    pub how: &'static str,
}

impl Choice {
    pub(crate) fn explain(&self) -> String {
        let mut s = format!("{} on {} threads for B{} ({})", self.strategy.name(), self.threads, self.batch, self.how);
        if !self.measured.is_empty() {
            let times: Vec<String> = self.measured.iter().map(|(c, ms)| format!("{} {ms:.3} ms", c.name())).collect();
            s += &format!(": {} over the first {STEPS} steps", times.join(", "));
        } else if self.how != "rule" {
            s += ", in an earlier process";
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(hidden: usize, batch: usize, keep: bool, has_units: bool) -> CallShape {
        let batch_parts = super::super::split::parts(batch, 2).len();
        CallShape { hidden, batch, threads: 2, keep, has_units, batch_parts }
    }

    #[test]
    fn the_rules_are_the_measured_thresholds() {
        assert_eq!(by_rule(&shape(256, 32, false, true), None), Strategy::BatchSplit);
        assert_eq!(by_rule(&shape(512, 64, false, true), None), Strategy::UnitSplit);
        assert_eq!(by_rule(&shape(256, 1, false, true), None), Strategy::UnitSplit);
        assert_eq!(by_rule(&shape(64, 1, false, false), None), Strategy::BatchSplit);
        assert_eq!(by_rule(&shape(1024, 16, true, true), None), Strategy::UnitSplit);
        assert_eq!(by_rule(&shape(1024, 16, true, false), None), Strategy::OneSweep);
        assert_eq!(by_rule(&shape(1536, 32, true, true), None), Strategy::BatchSplit);
        assert_eq!(by_rule(&shape(256, 32, false, true), Some(true)), Strategy::UnitSplit);
    }

    #[test]
    fn candidates_are_what_applies() {
        assert_eq!(
            candidates(&shape(256, 32, false, true)),
            [Strategy::OneSweep, Strategy::BatchSplit, Strategy::UnitSplit]
        );
        assert_eq!(candidates(&shape(64, 2, false, false)), [Strategy::OneSweep]);
    }

    #[test]
    fn measure_keeps_the_fastest_in_interleaved_rounds() {
        let mut order = Vec::new();
        let (best, times) = measure(&[Strategy::OneSweep, Strategy::BatchSplit], |c| {
            order.push(c);
            if c == Strategy::OneSweep {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        });
        assert_eq!(best, Strategy::BatchSplit);
        assert_eq!(times.len(), 2);
        assert!(times[0].1 >= 3.0, "{times:?}");
        // Warm-up of each, then rounds alternating the candidates.
        assert_eq!(order.len(), 2 * (ROUNDS + 1));
        assert!(order.chunks(2).all(|r| r == [Strategy::OneSweep, Strategy::BatchSplit]), "{order:?}");
    }

    #[test]
    fn choices_are_remembered_by_key() {
        let s = shape(96, 24, false, true);
        let k = key("a test spec", &s);
        assert!(k.contains("B24") && k.contains("inference"), "{k}");
        assert_eq!(cached(&k), None);
        remember(k.clone(), Strategy::UnitSplit, vec![(Strategy::UnitSplit, 1.5)]);
        assert_eq!(cached(&k), Some((Strategy::UnitSplit, vec![(Strategy::UnitSplit, 1.5)])));
        let c = Choice {
            strategy: Strategy::UnitSplit,
            threads: 2,
            batch: 24,
            measured: vec![(Strategy::UnitSplit, 1.5)],
            how: "calibrated",
        };
        assert_eq!(
            c.explain(),
            "unit-split on 2 threads for B24 (calibrated): unit-split 1.500 ms over the first 16 steps"
        );
    }
}
