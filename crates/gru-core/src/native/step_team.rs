//! The stream step (`step.rs`) with the hidden units split between workers: the caller and
//! persistent helper threads, each computing its units of every stream from its columns of
//! Wᵀ and Rᵀ (the unit split's packs, `units.rs`), so that each core streams only its
//! share of W and R, from its own cache.
//!
//! ```text
//! worker k, units U_k:  GX_k = x · W_kᵀ + b_k      x [n, In], W_k the rows of U_k (r, z, n)
//!                       GH_k = h · R_kᵀ            h [n, H]
//!                       h'[:, U_k] = cell(GX_k, GH_k, h[:, U_k])
//! ```
//! Worker `k` computes what worker `k` of the unit split's forward computes at one time
//! step (the same packs, `UnitWeights::input_projection`, `recurrent_product` and
//! `cell_row`), so a stream stepped here gives what `forward` gives where it splits the
//! units; and where the panel kernel runs (f32, AVX-512 or AVX2+FMA) each output's sums
//! do not depend on which columns are computed together, so the dense sweep's step gives
//! the same bits too.
//!
//! The hand-off costs no allocation and no system call while the helpers are awake: one
//! *round* per layer and step. The caller writes the round's input (`x`, `h`), publishes a
//! new round number and computes part 0; each helper spins on the round number, *claims*
//! its part (a compare-and-swap of the part's last claimed round) and computes it. A part
//! that its helper has not claimed when the caller is done with its own (a helper asleep,
//! or descheduled on a busy host) is claimed and computed by the caller: a step never
//! waits for a thread to wake up, and never runs slower than about one thread would.
//! Helpers wait for [`IDLE_SPIN`] after their last round (thread wake-ups cost tens of
//! microseconds on virtual machines, more than a step), spinning and, past the first
//! microseconds, yielding their core now and then (`idle_wait.rs`), then park until the caller wakes
//! them for a round. Dropping the team stops and joins its helpers.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::idle_wait::IdleWait;
use super::units::UnitPack;
use crate::activation::Activations;
use crate::cell::{row_width, GateRow};
use crate::real::Real;

/// How long an idle helper waits for the next round (`idle_wait.rs`) before it parks.
const IDLE_SPIN: Duration = Duration::from_micros(300);

/// The step's workers: the caller (part 0) and one helper per other part.
pub(crate) struct StepTeam<T> {
    shared: Arc<Shared<T>>,
    helpers: Vec<JoinHandle<()>>,
}

/// What the caller and the helpers share.
struct Shared<T> {
    /// Per layer, the unit split's packs (one per part), refreshed in place by `set_params`.
    layers: Vec<Arc<[UnitPack<T>]>>,
    act: Activations<T>,
    hid: usize,
    /// The current round's input, written by the caller before it publishes the round.
    input: RwLock<RoundInput<T>>,
    /// Each part's buffers, used by whoever claimed the part.
    parts: Vec<Mutex<PartBuffers<T>>>,
    /// The last round published (0: none yet).
    round: AtomicU64,
    /// Per part: the last round it was claimed for (by its helper or by the caller).
    claimed: Vec<AtomicU64>,
    /// Per part: the last round its helper finished.
    finished: Vec<AtomicU64>,
    /// Per part: its helper is parked (or about to park).
    parked: Vec<AtomicBool>,
    /// Helpers that have started (their threads run `helper_loop`).
    started: AtomicUsize,
    /// The CPU the caller ran on when it last woke a helper (`usize::MAX`: unknown): a
    /// woken helper keeps off it (`affinity.rs`), instead of spinning beside the caller.
    caller_cpu: AtomicUsize,
    stop: AtomicBool,
}

/// One round: layer `layer` of `n` streams, `x` `[n, In]` and `h` `[n, H]`.
#[derive(Default)]
struct RoundInput<T> {
    layer: usize,
    n: usize,
    x: Vec<T>,
    h: Vec<T>,
}

/// One part's buffers (they grow with `n` only): `gx`, `gh` `[n, 3U]`, one row's `pre` and
/// `gates` (`3U`) and `operand` (`U`), and the part's new state `y` `[n, U]`.
#[derive(Default)]
struct PartBuffers<T> {
    gx: Vec<T>,
    gh: Vec<T>,
    pre: Vec<T>,
    gates: Vec<T>,
    operand: Vec<T>,
    y: Vec<T>,
}

impl<T: Real> Shared<T> {
    /// Computes part `k` of the current round into its `y`.
    fn run_part(&self, k: usize) {
        let input = self.input.read().unwrap_or_else(|p| p.into_inner());
        let (n, hid) = (input.n, self.hid);
        let pack = &self.layers[input.layer][k];
        let weights = pack.weights.read().unwrap_or_else(|p| p.into_inner());
        let units = pack.units.clone();
        let u = units.len();
        let u3 = row_width(u);
        let mut bufs = self.parts[k].lock().unwrap_or_else(|p| p.into_inner());
        let PartBuffers { gx, gh, pre, gates, operand, y } = &mut *bufs;
        let zero = T::zero();
        gx.resize(n * u3, zero);
        gh.resize(n * u3, zero);
        pre.resize(u3, zero);
        gates.resize(u3, zero);
        operand.resize(u, zero);
        y.resize(n * u, zero);
        weights.input_projection(&input.x, n, gx);
        weights.recurrent_product(&input.h, n, hid, gh);
        for b in 0..n {
            let old = &input.h[b * hid + units.start..b * hid + units.end];
            let (gxr, ghr) = (GateRow::at(gx, b, u), GateRow::at(gh, b, u));
            weights.cell_row(&self.act, gxr, ghr, pre, gates, operand, old, &mut y[b * u..][..u]);
        }
    }

    /// Claims part `k` for round `round` (true: the claimer computes it).
    fn claim(&self, k: usize, round: u64) -> bool {
        self.claimed[k].compare_exchange(round - 1, round, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// Restricts this helper to its CPUs minus the caller's (a system call only when the
/// caller's CPU changed since the last time), after a start or a wake-up, never while it
/// spins.
fn keep_off_caller<T>(shared: &Shared<T>) {
    let cpu = shared.caller_cpu.load(Ordering::Acquire);
    super::affinity::keep_off((cpu != usize::MAX).then_some(cpu));
}

/// Helper `k`'s loop: wait for a round, claim part `k`, compute it; park when idle.
fn helper_loop<T: Real>(shared: Arc<Shared<T>>, k: usize) {
    let mut seen = shared.round.load(Ordering::Acquire);
    keep_off_caller(&shared);
    shared.started.fetch_add(1, Ordering::Release);
    loop {
        let mut wait = IdleWait::new(IDLE_SPIN);
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            let r = shared.round.load(Ordering::Acquire);
            if r != seen {
                seen = r;
                break;
            }
            if wait.pause() {
                continue;
            }
            // Park, unless a round came in between (the caller reads `parked` after it
            // publishes a round: one of the two sees the other).
            shared.parked[k].store(true, Ordering::SeqCst);
            if shared.round.load(Ordering::SeqCst) == seen && !shared.stop.load(Ordering::SeqCst) {
                std::thread::park();
                keep_off_caller(&shared);
            }
            shared.parked[k].store(false, Ordering::SeqCst);
        }
        if shared.claim(k, seen) {
            shared.run_part(k);
            shared.finished[k].store(seen, Ordering::Release);
        }
    }
}

impl<T: Real> StepTeam<T> {
    /// A team over the unit split's packs of every layer (`layers[ℓ]`, one pack per part,
    /// the same number in every layer), `hid` units per layer; starts `parts - 1` helper
    /// threads, or `None` when one cannot be started.
    pub(crate) fn new(layers: Vec<Arc<[UnitPack<T>]>>, act: Activations<T>, hid: usize) -> Option<Self> {
        let parts = layers.first().map_or(0, |l| l.len());
        if parts < 2 || layers.iter().any(|l| l.len() != parts) {
            return None;
        }
        let shared = Arc::new(Shared {
            layers,
            act,
            hid,
            input: RwLock::new(RoundInput::default()),
            parts: (0..parts).map(|_| Mutex::new(PartBuffers::default())).collect(),
            round: AtomicU64::new(0),
            claimed: (0..parts).map(|_| AtomicU64::new(0)).collect(),
            finished: (0..parts).map(|_| AtomicU64::new(0)).collect(),
            parked: (0..parts).map(|_| AtomicBool::new(false)).collect(),
            started: AtomicUsize::new(0),
            caller_cpu: AtomicUsize::new(super::affinity::current_cpu().unwrap_or(usize::MAX)),
            stop: AtomicBool::new(false),
        });
        let mut team = Self { shared, helpers: Vec::with_capacity(parts - 1) };
        for k in 1..parts {
            let shared = team.shared.clone();
            let spawned =
                std::thread::Builder::new().name(format!("gru-step-{k}")).spawn(move || helper_loop(shared, k));
            // On failure the team is dropped here, which stops the helpers already started.
            team.helpers.push(spawned.ok()?);
        }
        // Until the helpers run: what a thread's start costs (its allocations included)
        // belongs to the first step, not to a later one.
        while team.shared.started.load(Ordering::Acquire) < parts - 1 {
            std::thread::yield_now();
        }
        Some(team)
    }

    /// Workers of the team (the caller included).
    pub(crate) fn parts(&self) -> usize {
        self.shared.parts.len()
    }

    /// One step of layer `layer` for `n` streams: `x` `[n, In]`, `h` `[n, H]` (the layer's
    /// state, replaced by the new one).
    pub(crate) fn layer_step(&self, layer: usize, x: &[T], n: usize, h: &mut [T]) {
        let s = &*self.shared;
        {
            let mut input = s.input.write().unwrap_or_else(|p| p.into_inner());
            input.layer = layer;
            input.n = n;
            input.x.clear();
            input.x.extend_from_slice(x);
            input.h.clear();
            input.h.extend_from_slice(h);
        }
        let round = s.round.fetch_add(1, Ordering::SeqCst) + 1;
        for (k, helper) in self.helpers.iter().enumerate() {
            if s.parked[k + 1].load(Ordering::SeqCst) {
                s.caller_cpu.store(super::affinity::current_cpu().unwrap_or(usize::MAX), Ordering::Release);
                helper.thread().unpark();
            }
        }
        // Part 0 is the caller's; the others are their helpers' unless still unclaimed
        // when the caller gets to them.
        s.claimed[0].store(round, Ordering::Relaxed);
        s.run_part(0);
        for k in 1..s.parts.len() {
            if s.claim(k, round) {
                s.run_part(k);
                continue;
            }
            // The helper is computing its part: spin (it ends within a part's time), and
            // yield now and then only past that (it may have lost its core).
            let mut wait = IdleWait::new(Duration::MAX);
            while s.finished[k].load(Ordering::Acquire) != round {
                wait.pause();
            }
        }
        let hid = s.hid;
        for (k, part) in s.parts.iter().enumerate() {
            let units = s.layers[layer][k].units.clone();
            let u = units.len();
            let bufs = part.lock().unwrap_or_else(|p| p.into_inner());
            for (b, row) in bufs.y.chunks_exact(u).take(n).enumerate() {
                h[b * hid + units.start..b * hid + units.end].copy_from_slice(row);
            }
        }
    }
}

impl<T> Drop for StepTeam<T> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for helper in &self.helpers {
            helper.thread().unpark();
        }
        for helper in self.helpers.drain(..) {
            let _ = helper.join();
        }
    }
}
