//! The GPU, its stream and a cuDNN handle: found once per process, or the typed reason
//! they cannot be.
//!
//! cudarc's dynamic loader panics when a library or one of its symbols is missing, so
//! before anything of cudarc runs, [`Device::open`] checks that the driver and cuDNN load
//! and that cuDNN has every entry point this engine calls; the first driver calls run
//! under `catch_unwind` as well (a driver older than the CUDA version cudarc was built for
//! lacks symbols), so that a machine without them gets
//! [`GruError::EngineUnavailable`], never a panic.

use std::ffi::CStr;
use std::sync::{Arc, OnceLock};

use cudarc::cudnn::sys as cudnn;
use cudarc::driver::{CudaContext, CudaStream};
use gru_core::GruError;

/// `computed_by` of this engine, and its name in errors.
pub const ENGINE: &str = "CuDNN";

/// What to install when the engine is unavailable.
pub const INSTALL: &str =
    "an NVIDIA GPU with its driver (libcuda.so.1) and cuDNN 9 (libcudnn.so.9, NVIDIA's cudnn9-cuda-12 package)";

/// The cuDNN entry points this engine calls, checked before the first call.
pub const SYMBOLS: [&str; 21] = [
    "cudnnGetVersion",
    "cudnnGetErrorString",
    "cudnnCreate",
    "cudnnDestroy",
    "cudnnSetStream",
    "cudnnCreateRNNDescriptor",
    "cudnnDestroyRNNDescriptor",
    "cudnnSetRNNDescriptor_v8",
    "cudnnCreateRNNDataDescriptor",
    "cudnnDestroyRNNDataDescriptor",
    "cudnnSetRNNDataDescriptor",
    "cudnnCreateTensorDescriptor",
    "cudnnDestroyTensorDescriptor",
    "cudnnSetTensorNdDescriptor",
    "cudnnGetTensorNdDescriptor",
    "cudnnGetRNNWeightSpaceSize",
    "cudnnGetRNNWeightParams",
    "cudnnGetRNNTempSpaceSizes",
    "cudnnRNNForward",
    "cudnnRNNBackwardData_v8",
    "cudnnRNNBackwardWeights_v8",
];

/// The engine cannot run here.
pub fn unavailable(reason: impl std::fmt::Display) -> GruError {
    GruError::EngineUnavailable { engine: ENGINE.into(), reason: format!("{reason}; needs {INSTALL}") }
}

/// A cuDNN call that returned an error status.
pub fn call_failed(call: &str, status: cudnn::cudnnStatus_t) -> GruError {
    // SAFETY: cudnnGetErrorString takes any status and returns a static C string (or
    // NULL, handled); the library was checked to have the symbol.
    let text = unsafe {
        let p = cudnn::cudnnGetErrorString(status);
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    GruError::Unsupported {
        engine: ENGINE.into(),
        field: call.into(),
        value: format!("{status:?} ({text})"),
        reason: "cuDNN refused this call".into(),
    }
}

/// `Ok` for `CUDNN_STATUS_SUCCESS`, else [`call_failed`].
pub fn check(call: &str, status: cudnn::cudnnStatus_t) -> Result<(), GruError> {
    if status == cudnn::cudnnStatus_t::CUDNN_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(call_failed(call, status))
    }
}

/// A CUDA driver error as this engine's error.
pub fn driver_failed(what: &str, e: cudarc::driver::DriverError) -> GruError {
    GruError::Unsupported {
        engine: ENGINE.into(),
        field: what.into(),
        value: format!("{e:?}"),
        reason: "the CUDA driver refused this call".into(),
    }
}

/// Whether the driver and cuDNN load and cuDNN has every symbol of [`SYMBOLS`]; the reason
/// when not. Runs nothing of CUDA.
pub fn libraries_present() -> Result<(), String> {
    // SAFETY: these only try to open the shared libraries by name (dlopen) and close them.
    let (driver, dnn) = unsafe { (cudarc::driver::sys::is_culib_present(), cudnn::is_culib_present()) };
    if !driver {
        return Err("the NVIDIA driver library (libcuda.so) is not installed".into());
    }
    if !dnn {
        return Err("cuDNN (libcudnn.so) is not installed".into());
    }
    // SAFETY: cudnn::culib opens the library that is_culib_present just found; `get` only
    // looks a symbol up, it calls nothing.
    let lib = unsafe { cudnn::culib() };
    let missing: Vec<&str> = SYMBOLS
        .iter()
        .copied()
        .filter(|s| unsafe { lib.get::<unsafe extern "C" fn()>(s.as_bytes()).is_err() })
        .collect();
    if !missing.is_empty() {
        return Err(format!("this cuDNN lacks {} (cuDNN 8.0 or newer has them)", missing.join(", ")));
    }
    Ok(())
}

/// A cuDNN handle bound to the device's stream.
pub struct Handle(cudnn::cudnnHandle_t);

// SAFETY: a cuDNN handle may be used from any thread as long as calls on it do not run
// concurrently; every use goes through `&mut` of the prepared stack or the Mutex of the
// shared device.
unsafe impl Send for Handle {}

impl Handle {
    pub fn raw(&self) -> cudnn::cudnnHandle_t {
        self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle was created by cudnnCreate and is destroyed once.
        unsafe {
            cudnn::cudnnDestroy(self.0);
        }
    }
}

/// GPU 0, the stream every call of this engine runs on, and the cuDNN version.
pub struct Device {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub version: usize,
    pub name: String,
}

static DEVICE: OnceLock<Result<Arc<Device>, String>> = OnceLock::new();

impl Device {
    /// The process's device, opened on first use; the reason it cannot be, as
    /// [`GruError::EngineUnavailable`].
    pub fn shared() -> Result<Arc<Device>, GruError> {
        DEVICE.get_or_init(|| Self::open().map(Arc::new)).clone().map_err(unavailable)
    }

    fn open() -> Result<Device, String> {
        libraries_present()?;
        let opened = std::panic::catch_unwind(|| {
            let count = CudaContext::device_count().map_err(|e| format!("no CUDA device: {e:?}"))?;
            if count < 1 {
                return Err("no CUDA device is visible".to_string());
            }
            let ctx = CudaContext::new(0).map_err(|e| format!("GPU 0 does not open: {e:?}"))?;
            let name = ctx.name().unwrap_or_default();
            let stream = ctx.default_stream();
            // SAFETY: cudnnGetVersion has no preconditions (the symbol was checked).
            let version = unsafe { cudnn::cudnnGetVersion() };
            Ok(Device { ctx, stream, version, name })
        });
        match opened {
            Ok(device) => device,
            Err(_) => Err("the CUDA driver is older than this build needs (a symbol is missing)".into()),
        }
    }

    /// A new cuDNN handle on this device's stream.
    pub fn handle(&self) -> Result<Handle, GruError> {
        self.ctx.bind_to_thread().map_err(|e| driver_failed("cuCtxSetCurrent", e))?;
        let mut raw: cudnn::cudnnHandle_t = std::ptr::null_mut();
        // SAFETY: cudnnCreate writes a new handle into `raw`; on failure nothing is created.
        check("cudnnCreate", unsafe { cudnn::cudnnCreate(&mut raw) })?;
        let handle = Handle(raw);
        // SAFETY: the handle is live; the stream belongs to the current context (a
        // CUstream and a cudaStream_t are the same object).
        check("cudnnSetStream", unsafe { cudnn::cudnnSetStream(raw, self.stream.cu_stream() as cudnn::cudaStream_t) })?;
        Ok(handle)
    }
}
