//! Hand-written bindings to the oneDNN 2.x C API (`dnnl.h` of Debian's `libdnnl-dev` 2.6),
//! resolved at run time from `libdnnl.so.2` with libloading: the build needs no system
//! library, and a missing one is an error that names the package to install.
//!
//! In oneDNN 2.x `dnnl_memory_desc_t` and `dnnl_rnn_desc_t` are plain C structs, not
//! handles. They are mirrored here as opaque byte blobs of the exact size and alignment
//! of the installed 2.6 headers (checked with `sizeof`/`_Alignof` by a C program):
//!
//! ```text
//! dnnl_memory_desc_t   696 bytes, align 8
//! dnnl_rnn_desc_t    15344 bytes, align 8
//! dnnl_exec_arg_t       16 bytes  { int arg; dnnl_memory_t memory; }
//! dnnl_dims_t           12 × int64
//! ```
//! Only the library's `*_init` functions write them; Rust never reads their fields.

use std::ffi::{c_char, c_int, c_uint, c_void};

use libloading::Library;

/// The shared object this crate loads (the oneDNN 2.x ABI; 3.x is `libdnnl.so.3`).
pub const LIBRARY: &str = "libdnnl.so.2";

/// `DNNL_MAX_NDIMS`.
pub const MAX_NDIMS: usize = 12;

/// `dnnl_memory_desc_t`: 696 bytes, 8-aligned, written only by oneDNN.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct MemoryDesc {
    bytes: [u8; 696],
}

impl MemoryDesc {
    /// An all-zero descriptor (oneDNN's "zero memory descriptor": an absent argument).
    pub fn zero() -> Self {
        Self { bytes: [0; 696] }
    }
}

/// `dnnl_rnn_desc_t`: 15344 bytes, 8-aligned, written only by oneDNN.
#[repr(C, align(8))]
pub struct RnnDesc {
    bytes: [u8; 15344],
}

impl RnnDesc {
    /// An all-zero descriptor, boxed (15 KB), for a `*_desc_init` call to fill.
    pub fn boxed_zero() -> Box<Self> {
        Box::new(Self { bytes: [0; 15344] })
    }
}

// The sizes above are those of the installed headers; a mismatch is a compile error.
const _: () = assert!(std::mem::size_of::<MemoryDesc>() == 696 && std::mem::align_of::<MemoryDesc>() == 8);
const _: () = assert!(std::mem::size_of::<RnnDesc>() == 15344 && std::mem::align_of::<RnnDesc>() == 8);
const _: () = assert!(std::mem::size_of::<ExecArg>() == 16);

/// `dnnl_exec_arg_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecArg {
    pub arg: c_int,
    pub memory: MemoryT,
}

/// `dnnl_version_t`.
#[repr(C)]
pub struct Version {
    pub major: c_int,
    pub minor: c_int,
    pub patch: c_int,
    pub hash: *const c_char,
    pub cpu_runtime: c_uint,
    pub gpu_runtime: c_uint,
}

pub type Status = c_int;
pub type EngineT = *mut c_void;
pub type StreamT = *mut c_void;
pub type PrimitiveDescT = *mut c_void;
pub type PrimitiveT = *mut c_void;
pub type MemoryT = *mut c_void;
pub type AttrT = *mut c_void;
pub type Dims = [i64; MAX_NDIMS];

// dnnl_status_t
pub const SUCCESS: Status = 0;

// dnnl_data_type_t
pub const F32: c_int = 3;

// dnnl_format_tag_t (tnc = abc, ldnc = ldgo = abcd, ldgoi = abdec)
pub const FORMAT_TAG_ANY: c_int = 1;
pub const TAG_TNC: c_int = 4;
pub const TAG_LDNC: c_int = 5;
pub const TAG_LDGO: c_int = 5;
pub const TAG_LDGOI: c_int = 16;

// dnnl_prop_kind_t
pub const FORWARD_TRAINING: c_int = 64;
pub const FORWARD_INFERENCE: c_int = 96;
pub const BACKWARD: c_int = 128;

// dnnl_rnn_direction_t
pub const LEFT2RIGHT: c_int = 0;
pub const RIGHT2LEFT: c_int = 1;
pub const BIDIRECTIONAL_CONCAT: c_int = 2;

// dnnl_engine_kind_t, stream flags
pub const ENGINE_CPU: c_int = 1;
pub const STREAM_DEFAULT_FLAGS: c_uint = 1;

// dnnl_query_t
pub const QUERY_EXEC_ARG_MD: c_int = 255;

// DNNL_ARG_*
pub const ARG_SRC_LAYER: c_int = 1;
pub const ARG_SRC_ITER: c_int = 2;
pub const ARG_DST_LAYER: c_int = 17;
pub const ARG_DST_ITER: c_int = 18;
pub const ARG_WEIGHTS_LAYER: c_int = 33;
pub const ARG_WEIGHTS_ITER: c_int = 34;
pub const ARG_BIAS: c_int = 41;
pub const ARG_WORKSPACE: c_int = 64;
pub const ARG_DIFF_SRC_LAYER: c_int = 129;
pub const ARG_DIFF_SRC_ITER: c_int = 130;
pub const ARG_DIFF_DST_LAYER: c_int = 145;
pub const ARG_DIFF_DST_ITER: c_int = 146;
pub const ARG_DIFF_WEIGHTS_LAYER: c_int = 161;
pub const ARG_DIFF_WEIGHTS_ITER: c_int = 162;
pub const ARG_DIFF_BIAS: c_int = 169;
pub const ARG_FROM: c_int = 1;
pub const ARG_TO: c_int = 17;

/// `dnnl_{gru,lbr_gru}_forward_desc_init`.
pub type ForwardDescInit = unsafe extern "C" fn(
    desc: *mut RnnDesc,
    prop_kind: c_int,
    direction: c_int,
    src_layer: *const MemoryDesc,
    src_iter: *const MemoryDesc,
    weights_layer: *const MemoryDesc,
    weights_iter: *const MemoryDesc,
    bias: *const MemoryDesc,
    dst_layer: *const MemoryDesc,
    dst_iter: *const MemoryDesc,
    flags: c_uint,
) -> Status;

/// `dnnl_{gru,lbr_gru}_backward_desc_init`.
pub type BackwardDescInit = unsafe extern "C" fn(
    desc: *mut RnnDesc,
    prop_kind: c_int,
    direction: c_int,
    src_layer: *const MemoryDesc,
    src_iter: *const MemoryDesc,
    weights_layer: *const MemoryDesc,
    weights_iter: *const MemoryDesc,
    bias: *const MemoryDesc,
    dst_layer: *const MemoryDesc,
    dst_iter: *const MemoryDesc,
    diff_src_layer: *const MemoryDesc,
    diff_src_iter: *const MemoryDesc,
    diff_weights_layer: *const MemoryDesc,
    diff_weights_iter: *const MemoryDesc,
    diff_bias: *const MemoryDesc,
    diff_dst_layer: *const MemoryDesc,
    diff_dst_iter: *const MemoryDesc,
    flags: c_uint,
) -> Status;

/// The functions this crate calls, resolved from one loaded library (kept alive here).
pub struct Api {
    pub version: unsafe extern "C" fn() -> *const Version,
    pub engine_create: unsafe extern "C" fn(*mut EngineT, c_int, usize) -> Status,
    pub engine_destroy: unsafe extern "C" fn(EngineT) -> Status,
    pub stream_create: unsafe extern "C" fn(*mut StreamT, EngineT, c_uint) -> Status,
    pub stream_wait: unsafe extern "C" fn(StreamT) -> Status,
    pub stream_destroy: unsafe extern "C" fn(StreamT) -> Status,
    pub memory_desc_init_by_tag: unsafe extern "C" fn(*mut MemoryDesc, c_int, *const i64, c_int, c_int) -> Status,
    pub memory_desc_equal: unsafe extern "C" fn(*const MemoryDesc, *const MemoryDesc) -> c_int,
    pub memory_desc_get_size: unsafe extern "C" fn(*const MemoryDesc) -> usize,
    pub memory_create: unsafe extern "C" fn(*mut MemoryT, *const MemoryDesc, EngineT, *mut c_void) -> Status,
    pub memory_destroy: unsafe extern "C" fn(MemoryT) -> Status,
    pub primitive_desc_create:
        unsafe extern "C" fn(*mut PrimitiveDescT, *const c_void, AttrT, EngineT, PrimitiveDescT) -> Status,
    pub reorder_primitive_desc_create: unsafe extern "C" fn(
        *mut PrimitiveDescT,
        *const MemoryDesc,
        EngineT,
        *const MemoryDesc,
        EngineT,
        AttrT,
    ) -> Status,
    pub primitive_desc_query_md: unsafe extern "C" fn(PrimitiveDescT, c_int, c_int) -> *const MemoryDesc,
    pub primitive_desc_destroy: unsafe extern "C" fn(PrimitiveDescT) -> Status,
    pub primitive_create: unsafe extern "C" fn(*mut PrimitiveT, PrimitiveDescT) -> Status,
    pub primitive_execute: unsafe extern "C" fn(PrimitiveT, StreamT, c_int, *const ExecArg) -> Status,
    pub primitive_destroy: unsafe extern "C" fn(PrimitiveT) -> Status,
    pub gru_forward_desc_init: ForwardDescInit,
    pub gru_backward_desc_init: BackwardDescInit,
    pub lbr_gru_forward_desc_init: ForwardDescInit,
    pub lbr_gru_backward_desc_init: BackwardDescInit,
    /// `dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)`, row-major.
    pub sgemm: unsafe extern "C" fn(
        c_char,
        c_char,
        i64,
        i64,
        i64,
        f32,
        *const f32,
        i64,
        *const f32,
        i64,
        f32,
        *mut f32,
        i64,
    ) -> Status,
    _library: Library,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

impl Api {
    /// Loads `name` (for example [`LIBRARY`]) and resolves every function; the error text
    /// says what was missing.
    pub fn load(name: &str) -> Result<Self, String> {
        // SAFETY: loading runs the library's initializers; libdnnl's only set up its
        // global state (CPU detection, primitive cache) and have no preconditions.
        let library = unsafe { Library::new(name) }.map_err(|e| format!("cannot load {name}: {e}"))?;
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: the symbol's C prototype in dnnl.h 2.x is the function pointer
                // type of the field it is stored in; the pointer stays valid while
                // `_library` (moved into the same struct) is loaded.
                let s = unsafe { library.get(concat!($name, "\0").as_bytes()) };
                *s.map_err(|e| format!("{name} has no {}: {e} (not oneDNN 2.x?)", $name))?
            }};
        }
        let api = Api {
            version: sym!("dnnl_version"),
            engine_create: sym!("dnnl_engine_create"),
            engine_destroy: sym!("dnnl_engine_destroy"),
            stream_create: sym!("dnnl_stream_create"),
            stream_wait: sym!("dnnl_stream_wait"),
            stream_destroy: sym!("dnnl_stream_destroy"),
            memory_desc_init_by_tag: sym!("dnnl_memory_desc_init_by_tag"),
            memory_desc_equal: sym!("dnnl_memory_desc_equal"),
            memory_desc_get_size: sym!("dnnl_memory_desc_get_size"),
            memory_create: sym!("dnnl_memory_create"),
            memory_destroy: sym!("dnnl_memory_destroy"),
            primitive_desc_create: sym!("dnnl_primitive_desc_create"),
            reorder_primitive_desc_create: sym!("dnnl_reorder_primitive_desc_create"),
            primitive_desc_query_md: sym!("dnnl_primitive_desc_query_md"),
            primitive_desc_destroy: sym!("dnnl_primitive_desc_destroy"),
            primitive_create: sym!("dnnl_primitive_create"),
            primitive_execute: sym!("dnnl_primitive_execute"),
            primitive_destroy: sym!("dnnl_primitive_destroy"),
            gru_forward_desc_init: sym!("dnnl_gru_forward_desc_init"),
            gru_backward_desc_init: sym!("dnnl_gru_backward_desc_init"),
            lbr_gru_forward_desc_init: sym!("dnnl_lbr_gru_forward_desc_init"),
            lbr_gru_backward_desc_init: sym!("dnnl_lbr_gru_backward_desc_init"),
            sgemm: sym!("dnnl_sgemm"),
            _library: library,
        };
        let (major, minor, patch) = api.version_triple();
        if major != 2 {
            return Err(format!("{name} is oneDNN {major}.{minor}.{patch}; this engine needs oneDNN 2.x"));
        }
        Ok(api)
    }

    /// `(major, minor, patch)` of the loaded library.
    pub fn version_triple(&self) -> (i32, i32, i32) {
        // SAFETY: dnnl_version takes no arguments and returns a pointer to a static struct.
        let v = unsafe { (self.version)() };
        if v.is_null() {
            return (0, 0, 0);
        }
        // SAFETY: non-null, points to the library's static dnnl_version_t (layout above).
        let v = unsafe { &*v };
        (v.major, v.minor, v.patch)
    }
}

/// The name of a `dnnl_status_t`, for error messages.
pub fn status_name(status: Status) -> &'static str {
    match status {
        0 => "success",
        1 => "out_of_memory",
        2 => "invalid_arguments",
        3 => "unimplemented",
        4 => "iterator_ends",
        5 => "runtime_error",
        6 => "not_required",
        _ => "unknown status",
    }
}

/// The OpenMP runtime Debian's oneDNN runs on (`libgomp.so.1`, already loaded with it):
/// its thread count is the only thread setting oneDNN 2.x's OpenMP build has.
pub struct Omp {
    pub set_num_threads: unsafe extern "C" fn(c_int),
    pub get_max_threads: unsafe extern "C" fn() -> c_int,
    _library: Library,
}

impl Omp {
    /// Loads `libgomp.so.1` (the instance libdnnl uses when it is loaded already).
    pub fn load() -> Result<Self, String> {
        const NAME: &str = "libgomp.so.1";
        // SAFETY: libgomp's initializers only read OMP_* variables.
        let library = unsafe { Library::new(NAME) }.map_err(|e| format!("cannot load {NAME}: {e}"))?;
        // SAFETY: `void omp_set_num_threads(int)` and `int omp_get_max_threads(void)` are
        // the OpenMP API's prototypes; the pointers stay valid while `_library` is loaded.
        unsafe {
            let set: libloading::Symbol<unsafe extern "C" fn(c_int)> =
                library.get(b"omp_set_num_threads\0").map_err(|e| format!("{NAME}: {e}"))?;
            let get: libloading::Symbol<unsafe extern "C" fn() -> c_int> =
                library.get(b"omp_get_max_threads\0").map_err(|e| format!("{NAME}: {e}"))?;
            Ok(Self { set_num_threads: *set, get_max_threads: *get, _library: library })
        }
    }
}
