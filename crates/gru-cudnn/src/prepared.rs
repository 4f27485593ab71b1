//! The prepared stack on the GPU: the weight space packed once (and in place at
//! `set_params`), one `cudnnRNNForward` per call over the sequences of positive length
//! (sequence-major, unpacked, each with its length), and the two backward calls.
//!
//! ```text
//! x [T, B, I] ─gather rows of length > 0, zero past each length─▶ [T, n, I] ─▶ GPU
//! y [T, B, dirs·H] ◀─scatter (zero past each length)─ [T, n, dirs·H] ◀─ cudnnRNNForward
//! ```
//! The padding of x is never read (NaN there cannot reach cuDNN). The sequences of length
//! 0 run nothing: y = 0 (output mode last: the top layer's h_T), h_T = h0, dx = 0,
//! dh0 = dh_T (`gru_core::lengths`).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cudarc::cudnn::sys as cudnn;
use cudarc::driver::{CudaSlice, DevicePtr, DevicePtrMut};
use gru_core::{
    GruError, GruGradients, GruOutput, GruParams, GruSpec, Mode, OutputGrads, PreparedGru, Real, Saved, SequenceBatch,
};

use crate::desc::{DataDesc, RnnDesc, TensorDesc};
use crate::device::{check, driver_failed, Device, Handle, ENGINE};
use crate::layout::{pack, unpack_grads, Slot};
use crate::rows::{Rows, Sizes};

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

/// A GRU stack prepared on cuDNN (f32).
pub struct CudnnPrepared<T> {
    spec: GruSpec,
    mode: Mode,
    device: Arc<Device>,
    handle: Handle,
    rnn: RnnDesc,
    slots: Vec<Slot>,
    /// The weight space, `len` f32 elements.
    weights: CudaSlice<f32>,
    /// The workspace, grown to the largest call so far (and to the plan's shapes).
    workspace: Option<CudaSlice<u8>>,
    instance: u64,
    generation: u64,
    _t: PhantomData<fn() -> T>,
}

/// What backward needs of a training forward, on the device.
struct CudnnSaved {
    instance: u64,
    generation: u64,
    rows: Rows,
    run: Option<DeviceRun>,
}

struct DeviceRun {
    x_desc: DataDesc,
    y_desc: DataDesc,
    h_desc: TensorDesc,
    lengths: CudaSlice<i32>,
    x: CudaSlice<f32>,
    h0: CudaSlice<f32>,
    y: CudaSlice<f32>,
    reserve: Option<CudaSlice<u8>>,
}

/// The device address of a buffer (0 for none) and the guard that orders its use.
macro_rules! ptr {
    ($stream:expr, $buf:expr) => {
        $buf.device_ptr($stream).0 as *const std::ffi::c_void
    };
}
macro_rules! ptr_mut {
    ($stream:expr, $buf:expr) => {
        $buf.device_ptr_mut($stream).0 as *mut std::ffi::c_void
    };
}

impl<T: Real> CudnnPrepared<T> {
    pub(crate) fn new(
        spec: GruSpec,
        mode: Mode,
        device: Arc<Device>,
        handle: Handle,
        rnn: RnnDesc,
        slots: Vec<Slot>,
        weights: CudaSlice<f32>,
    ) -> Self {
        let instance = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        Self {
            spec,
            mode,
            device,
            handle,
            rnn,
            slots,
            weights,
            workspace: None,
            instance,
            generation: 0,
            _t: PhantomData,
        }
    }

    /// Repacks the weight space from `params` (same shapes as prepared).
    pub(crate) fn upload(&mut self, params: &GruParams<T>) -> Result<(), GruError> {
        let mut host = vec![0.0f32; self.weights.len()];
        pack(params, &self.slots, &mut host);
        self.device.stream.memcpy_htod(&host, &mut self.weights).map_err(|e| driver_failed("cuMemcpyHtoD", e))
    }

    /// cuDNN's workspace and reserve sizes (bytes) of a call on `x_desc`.
    fn temp_sizes(&self, training: bool, x_desc: &DataDesc) -> Result<(usize, usize), GruError> {
        let (mut work, mut reserve) = (0usize, 0usize);
        // SAFETY: handle and descriptors are live; cuDNN writes two sizes.
        check("cudnnGetRNNTempSpaceSizes", unsafe {
            cudnn::cudnnGetRNNTempSpaceSizes(
                self.handle.raw(),
                self.rnn.0,
                fwd_mode(training),
                x_desc.0,
                &mut work,
                &mut reserve,
            )
        })?;
        Ok((work, reserve))
    }

    /// Makes the workspace at least `bytes` long.
    fn ensure_workspace(&mut self, bytes: usize) -> Result<(), GruError> {
        if bytes > 0 && self.workspace.as_ref().is_none_or(|w| w.len() < bytes) {
            self.workspace =
                Some(self.device.stream.alloc_zeros::<u8>(bytes).map_err(|e| driver_failed("cuMemAlloc", e))?);
        }
        Ok(())
    }

    /// Sizes the workspace for a full-length batch of `batch` sequences of `steps` steps.
    pub(crate) fn plan(&mut self, batch: usize, steps: usize, training: bool) -> Result<(), GruError> {
        let x_desc = DataDesc::new(steps, &vec![steps; batch], self.spec.input_size)?;
        let (work, _) = self.temp_sizes(training, &x_desc)?;
        self.ensure_workspace(work)
    }

    fn upload_vec<V: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        host: &[V],
    ) -> Result<CudaSlice<V>, GruError> {
        let stream = &self.device.stream;
        if host.is_empty() {
            return stream.alloc_zeros::<V>(1).map_err(|e| driver_failed("cuMemAlloc", e));
        }
        stream.clone_htod(host).map_err(|e| driver_failed("cuMemcpyHtoD", e))
    }

    fn download(&self, dev: &CudaSlice<f32>, len: usize) -> Result<Vec<f32>, GruError> {
        let mut v = self.device.stream.clone_dtoh(dev).map_err(|e| driver_failed("cuMemcpyDtoH", e))?;
        v.truncate(len);
        Ok(v)
    }

    fn run(&mut self, batch: &SequenceBatch<'_, T>, training: bool) -> Result<(GruOutput<T>, CudnnSaved), GruError> {
        let lengths = batch.validate(&self.spec)?;
        let sizes = Sizes::of(&self.spec);
        let rows = Rows::new(lengths, batch.steps);
        let (instance, generation) = (self.instance, self.generation);
        let saved = |run| CudnnSaved { instance, generation, rows: rows.clone(), run };
        if rows.live.is_empty() {
            let out = rows.outputs::<T>(&self.spec, &sizes, &[], &[], batch.h0);
            return Ok((out, saved(None)));
        }
        let n = rows.live.len();
        let x_desc = DataDesc::new(batch.steps, &rows.live_lengths(), sizes.input)?;
        let y_desc = DataDesc::new(batch.steps, &rows.live_lengths(), sizes.width)?;
        let h_desc = TensorDesc::state(sizes.blocks, n, sizes.hidden)?;
        let (work, reserve_bytes) = self.temp_sizes(training, &x_desc)?;
        self.ensure_workspace(work)?;
        let x = self.upload_vec(&rows.gather_steps(batch.x, sizes.input))?;
        let h0 = self.upload_vec(&rows.gather_state(batch.h0, &sizes))?;
        let lens = self.upload_vec(&rows.live_lengths().iter().map(|&l| l as i32).collect::<Vec<i32>>())?;
        let stream = self.device.stream.clone();
        let alloc = |len: usize| stream.alloc_zeros::<f32>(len.max(1)).map_err(|e| driver_failed("cuMemAlloc", e));
        let mut y = alloc(batch.steps * n * sizes.width)?;
        let mut h_t = alloc(sizes.blocks * n * sizes.hidden)?;
        let mut reserve = if reserve_bytes > 0 {
            Some(stream.alloc_zeros::<u8>(reserve_bytes).map_err(|e| driver_failed("cuMemAlloc", e))?)
        } else {
            None
        };
        let (w_bytes, work_bytes) = (self.weights.len() * 4, self.workspace.as_ref().map_or(0, |w| w.len()));
        {
            let s = &stream;
            let work_ptr = self.workspace.as_mut().map_or(std::ptr::null_mut(), |w| ptr_mut!(s, w));
            let reserve_ptr = reserve.as_mut().map_or(std::ptr::null_mut(), |r| ptr_mut!(s, r));
            // SAFETY: every device buffer is live and as long as the descriptors say (x
            // [T, n, I], y [T, n, dirs·H], h0 and h_T [D·dirs, n, H], n lengths, the weight
            // space, the workspace and reserve sized by cudnnGetRNNTempSpaceSizes); the
            // handle runs on `stream`, which orders these buffers' copies. GRU has no cell
            // state: its pointers are NULL.
            check("cudnnRNNForward", unsafe {
                cudnn::cudnnRNNForward(
                    self.handle.raw(),
                    self.rnn.0,
                    fwd_mode(training),
                    ptr!(s, lens).cast(),
                    x_desc.0,
                    ptr!(s, x),
                    y_desc.0,
                    ptr_mut!(s, y),
                    h_desc.0,
                    ptr!(s, h0),
                    ptr_mut!(s, h_t),
                    h_desc.0,
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    w_bytes,
                    ptr!(s, self.weights),
                    work_bytes,
                    work_ptr,
                    reserve_bytes,
                    reserve_ptr,
                )
            })?;
        }
        let y_host = self.download(&y, batch.steps * n * sizes.width)?;
        let h_host = self.download(&h_t, sizes.blocks * n * sizes.hidden)?;
        let out = rows.outputs::<T>(&self.spec, &sizes, &y_host, &h_host, batch.h0);
        let run = training.then_some(DeviceRun { x_desc, y_desc, h_desc, lengths: lens, x, h0, y, reserve });
        Ok((out, saved(run)))
    }
}

fn fwd_mode(training: bool) -> cudnn::cudnnForwardMode_t {
    if training {
        cudnn::cudnnForwardMode_t::CUDNN_FWD_MODE_TRAINING
    } else {
        cudnn::cudnnForwardMode_t::CUDNN_FWD_MODE_INFERENCE
    }
}

impl<T: Real> PreparedGru<T> for CudnnPrepared<T> {
    fn computed_by(&self) -> &'static str {
        ENGINE
    }

    fn spec(&self) -> &GruSpec {
        &self.spec
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn set_params(&mut self, params: &GruParams<T>) -> gru_core::Result<()> {
        params.check(&self.spec)?;
        self.upload(params)?;
        self.generation += 1;
        Ok(())
    }

    fn forward(&mut self, batch: &SequenceBatch<'_, T>) -> gru_core::Result<GruOutput<T>> {
        self.run(batch, false).map(|(out, _)| out)
    }

    fn forward_train(&mut self, batch: &SequenceBatch<'_, T>) -> gru_core::Result<(GruOutput<T>, Saved)> {
        if self.mode != Mode::Training {
            return Err(GruError::ModeMismatch { operation: "forward_train".into(), mode: self.mode.to_string() });
        }
        let (out, saved) = self.run(batch, true)?;
        Ok((out, Saved::new(ENGINE, saved)))
    }

    fn backward(&mut self, saved: Saved, grads: &OutputGrads<'_, T>) -> gru_core::Result<GruGradients<T>> {
        let saved: CudnnSaved = saved.take(ENGINE)?;
        if saved.instance != self.instance || saved.generation != self.generation {
            return Err(GruError::SavedMismatch {
                reason: "saved by another prepared stack, or before set_params changed the weights".into(),
            });
        }
        let rows = &saved.rows;
        let sizes = Sizes::of(&self.spec);
        grads.validate(&self.spec, rows.steps, rows.lengths.len())?;
        let dh_t_all = gru_core::lengths::empty_last_grads(&self.spec, grads.dy, grads.dh_t, &rows.lengths);
        let dh_t_all = dh_t_all.as_deref().or(grads.dh_t);
        let Some(run) = saved.run else {
            return Ok(rows.gradients(&self.spec, &sizes, &[], &[], dh_t_all, GruParams::zeros(&self.spec)));
        };
        let n = rows.live.len();
        let dy = self.upload_vec(&rows.gather_output_grads(&self.spec, grads.dy, &sizes))?;
        let dhy = self.upload_vec(&rows.gather_state(dh_t_all, &sizes))?;
        let stream = self.device.stream.clone();
        let alloc = |len: usize| stream.alloc_zeros::<f32>(len.max(1)).map_err(|e| driver_failed("cuMemAlloc", e));
        let mut dx = alloc(rows.steps * n * sizes.input)?;
        let mut dhx = alloc(sizes.blocks * n * sizes.hidden)?;
        let mut dw = alloc(self.weights.len())?;
        let DeviceRun { x_desc, y_desc, h_desc, lengths, x, h0, y, mut reserve } = run;
        let (w_bytes, work_bytes) = (self.weights.len() * 4, self.workspace.as_ref().map_or(0, |w| w.len()));
        let reserve_bytes = reserve.as_ref().map_or(0, |r| r.len());
        {
            let s = &stream;
            let work_ptr = self.workspace.as_mut().map_or(std::ptr::null_mut(), |w| ptr_mut!(s, w));
            let reserve_ptr = reserve.as_mut().map_or(std::ptr::null_mut(), |r| ptr_mut!(s, r));
            // SAFETY: the buffers of the training forward (x, h0, y, lengths, the reserve it
            // filled) and the new ones (dy, dhy like y and h0; dx like x; dhx like h0) are
            // live and sized as their descriptors say; the weights are those the forward
            // used (the generation was checked); the stream orders every copy.
            check("cudnnRNNBackwardData_v8", unsafe {
                cudnn::cudnnRNNBackwardData_v8(
                    self.handle.raw(),
                    self.rnn.0,
                    ptr!(s, lengths).cast(),
                    y_desc.0,
                    ptr!(s, y),
                    ptr!(s, dy),
                    x_desc.0,
                    ptr_mut!(s, dx),
                    h_desc.0,
                    ptr!(s, h0),
                    ptr!(s, dhy),
                    ptr_mut!(s, dhx),
                    h_desc.0,
                    std::ptr::null(),
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    w_bytes,
                    ptr!(s, self.weights),
                    work_bytes,
                    work_ptr,
                    reserve_bytes,
                    reserve_ptr,
                )
            })?;
            // SAFETY: as above; dw is a zeroed buffer as long as the weight space, to which
            // CUDNN_WGRAD_MODE_ADD adds the gradients.
            check("cudnnRNNBackwardWeights_v8", unsafe {
                cudnn::cudnnRNNBackwardWeights_v8(
                    self.handle.raw(),
                    self.rnn.0,
                    cudnn::cudnnWgradMode_t::CUDNN_WGRAD_MODE_ADD,
                    ptr!(s, lengths).cast(),
                    x_desc.0,
                    ptr!(s, x),
                    h_desc.0,
                    ptr!(s, h0),
                    y_desc.0,
                    ptr!(s, y),
                    w_bytes,
                    ptr_mut!(s, dw),
                    work_bytes,
                    work_ptr,
                    reserve_bytes,
                    reserve_ptr,
                )
            })?;
        }
        let dx_host = self.download(&dx, rows.steps * n * sizes.input)?;
        let dh0_host = self.download(&dhx, sizes.blocks * n * sizes.hidden)?;
        let dw_host = self.download(&dw, self.weights.len())?;
        let params = unpack_grads::<T>(&self.spec, &self.slots, &dw_host);
        Ok(rows.gradients(&self.spec, &sizes, &dx_host, &dh0_host, dh_t_all, params))
    }
}

#[allow(dead_code)]
fn assert_send<T: Real>() {
    fn is_send<S: Send>() {}
    is_send::<CudnnPrepared<T>>();
    is_send::<CudnnSaved>();
}
