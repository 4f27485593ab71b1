//! Owning wrappers over the oneDNN objects this engine uses: the CPU engine and its
//! stream ([`Context`]), memory descriptors, primitive descriptors and primitives, and
//! one `execute` that binds plain `f32` buffers as memory objects for one call.
//!
//! Every raw call goes through this file; the rest of the crate is safe code.

use std::ffi::c_int;
use std::sync::Arc;

use gru_core::GruError;

use crate::ffi::{self, Api, MemoryDesc};

/// The engine name in errors and in `computed_by`.
pub const ENGINE: &str = "OneDNN";

/// Arguments of one primitive execution at most (an RNN backward takes 15).
pub const MAX_ARGS: usize = 16;

/// A failed oneDNN call as a typed error naming the call and the status.
pub fn call_failed(call: &str, status: ffi::Status) -> GruError {
    GruError::Unsupported {
        engine: ENGINE.into(),
        field: call.into(),
        value: format!("dnnl_status {status} ({})", ffi::status_name(status)),
        reason: "oneDNN refused this call".into(),
    }
}

fn check(call: &str, status: ffi::Status) -> Result<(), GruError> {
    if status == ffi::SUCCESS {
        Ok(())
    } else {
        Err(call_failed(call, status))
    }
}

/// A oneDNN CPU engine and one in-order stream on it.
pub struct Context {
    api: Arc<Api>,
    engine: ffi::EngineT,
    stream: ffi::StreamT,
}

// SAFETY: oneDNN engines are thread-safe; the stream is used only through `&mut self`
// methods of the one prepared stack that owns this context, so never from two threads at
// once. Moving the handles to another thread is allowed by oneDNN.
unsafe impl Send for Context {}

impl Context {
    /// Creates the CPU engine (index 0) and a stream.
    pub fn new(api: Arc<Api>) -> Result<Self, GruError> {
        let mut engine: ffi::EngineT = std::ptr::null_mut();
        // SAFETY: `engine` is a valid out-pointer; kind and index are valid values.
        check("dnnl_engine_create", unsafe { (api.engine_create)(&mut engine, ffi::ENGINE_CPU, 0) })?;
        let mut stream: ffi::StreamT = std::ptr::null_mut();
        // SAFETY: `engine` was just created; `stream` is a valid out-pointer.
        let status = unsafe { (api.stream_create)(&mut stream, engine, ffi::STREAM_DEFAULT_FLAGS) };
        if status != ffi::SUCCESS {
            // SAFETY: `engine` is a live engine owned here and used by nothing else.
            unsafe { (api.engine_destroy)(engine) };
            return Err(call_failed("dnnl_stream_create", status));
        }
        Ok(Self { api, engine, stream })
    }

    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// A plain memory descriptor of `dims` (f32) in format `tag` (or `FORMAT_TAG_ANY`).
    pub fn md(&self, dims: &[usize], tag: c_int) -> Result<MemoryDesc, GruError> {
        let mut d: ffi::Dims = [0; ffi::MAX_NDIMS];
        for (slot, &v) in d.iter_mut().zip(dims) {
            *slot = v as i64;
        }
        let mut md = MemoryDesc::zero();
        // SAFETY: `md` is a valid out-pointer of the right size; `d` holds `dims.len()`
        // (<= 5) dimensions, as the count says.
        let status =
            unsafe { (self.api.memory_desc_init_by_tag)(&mut md, dims.len() as c_int, d.as_ptr(), ffi::F32, tag) };
        check("dnnl_memory_desc_init_by_tag", status)?;
        Ok(md)
    }

    /// True when two descriptors describe the same layout.
    pub fn md_equal(&self, a: &MemoryDesc, b: &MemoryDesc) -> bool {
        // SAFETY: both point to descriptors initialized by oneDNN (or zero).
        unsafe { (self.api.memory_desc_equal)(a, b) != 0 }
    }

    /// Bytes of a buffer with layout `md`.
    pub fn md_bytes(&self, md: &MemoryDesc) -> usize {
        // SAFETY: `md` points to a descriptor initialized by oneDNN (or zero: size 0).
        unsafe { (self.api.memory_desc_get_size)(md) }
    }

    /// Creates a primitive descriptor for the operation `desc` (optionally hinted by a
    /// forward primitive descriptor, for backward).
    pub fn primitive_desc(&self, desc: &ffi::RnnDesc, hint: Option<&PrimitiveDesc>) -> Result<PrimitiveDesc, GruError> {
        let mut pd: ffi::PrimitiveDescT = std::ptr::null_mut();
        let hint = hint.map_or(std::ptr::null_mut(), |h| h.pd);
        // SAFETY: `desc` was filled by a `*_desc_init` call; a null attr means defaults;
        // the engine is live; `hint` is null or a live primitive descriptor.
        let status = unsafe {
            (self.api.primitive_desc_create)(
                &mut pd,
                (desc as *const ffi::RnnDesc).cast(),
                std::ptr::null_mut(),
                self.engine,
                hint,
            )
        };
        check("dnnl_primitive_desc_create (rnn)", status)?;
        Ok(PrimitiveDesc { api: self.api.clone(), pd })
    }

    /// A reorder from layout `from` to layout `to` (same dims and type).
    pub fn reorder(&self, from: &MemoryDesc, to: &MemoryDesc) -> Result<Primitive, GruError> {
        let mut pd: ffi::PrimitiveDescT = std::ptr::null_mut();
        // SAFETY: both descriptors were initialized by oneDNN; the engine is live; a null
        // attr means defaults.
        let status = unsafe {
            (self.api.reorder_primitive_desc_create)(&mut pd, from, self.engine, to, self.engine, std::ptr::null_mut())
        };
        check("dnnl_reorder_primitive_desc_create", status)?;
        PrimitiveDesc { api: self.api.clone(), pd }.primitive()
    }

    /// Runs `primitive` with `args` (at most [`MAX_ARGS`]): each `(DNNL_ARG_*, layout,
    /// buffer)` is bound as a memory object for this call only. Waits for completion.
    /// Allocates nothing on the Rust side (the argument records are on the stack; the
    /// memory objects are oneDNN's own, created and destroyed in its heap).
    pub fn execute(&mut self, primitive: &Primitive, args: &[Arg<'_>]) -> Result<(), GruError> {
        if args.len() > MAX_ARGS {
            return Err(GruError::ShapeMismatch {
                field: "oneDNN arguments".into(),
                shape: format!("at most {MAX_ARGS}"),
                expected: MAX_ARGS,
                actual: args.len(),
            });
        }
        let mut records = [ffi::ExecArg { arg: 0, memory: std::ptr::null_mut() }; MAX_ARGS];
        let mut count = 0;
        for a in args {
            let need = self.md_bytes(a.md);
            let have = a.len * std::mem::size_of::<f32>();
            if have < need {
                return Err(GruError::ShapeMismatch {
                    field: format!("oneDNN argument {}", a.arg),
                    shape: "bytes of its memory descriptor".into(),
                    expected: need,
                    actual: have,
                });
            }
            let mut mem: ffi::MemoryT = std::ptr::null_mut();
            let ptr = a.ptr.cast();
            // SAFETY: `a.md` was initialized by oneDNN; `ptr` points to at least `need`
            // bytes (checked above) borrowed by `args` for this whole call; outputs are
            // exclusive borrows, inputs are only read by the primitive.
            let status = unsafe { (self.api.memory_create)(&mut mem, a.md, self.engine, ptr) };
            if status != ffi::SUCCESS {
                self.destroy_memories(&records[..count]);
                return Err(call_failed("dnnl_memory_create", status));
            }
            records[count] = ffi::ExecArg { arg: a.arg, memory: mem };
            count += 1;
        }
        let memories = &records[..count];
        // SAFETY: the primitive and stream are live; `memories` holds `len` valid
        // argument records whose buffers stay borrowed until after `stream_wait`.
        let status = unsafe {
            (self.api.primitive_execute)(primitive.prim, self.stream, memories.len() as c_int, memories.as_ptr())
        };
        // SAFETY: the stream is live; waiting makes every write to the buffers complete.
        let waited = unsafe { (self.api.stream_wait)(self.stream) };
        self.destroy_memories(memories);
        check("dnnl_primitive_execute", status)?;
        check("dnnl_stream_wait", waited)
    }

    fn destroy_memories(&self, memories: &[ffi::ExecArg]) {
        for m in memories {
            // SAFETY: each memory object was created above and is destroyed exactly once;
            // destroying it does not free the user buffer.
            unsafe { (self.api.memory_destroy)(m.memory) };
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: both handles were created in `new`, are destroyed exactly once, and no
        // primitive execution is in flight (every execute waits on the stream).
        unsafe {
            (self.api.stream_destroy)(self.stream);
            (self.api.engine_destroy)(self.engine);
        }
    }
}

/// One argument of a primitive execution: `DNNL_ARG_*`, its layout and its buffer,
/// borrowed for the call (shared for inputs, exclusive for outputs).
pub struct Arg<'a> {
    arg: c_int,
    md: &'a MemoryDesc,
    ptr: *mut f32,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [f32]>,
}

impl<'a> Arg<'a> {
    /// An argument oneDNN only reads (sources, weights, workspace in backward).
    pub fn input(arg: c_int, md: &'a MemoryDesc, data: &'a [f32]) -> Self {
        // oneDNN never writes an input argument, so the shared borrow is not written through.
        Self { arg, md, ptr: data.as_ptr().cast_mut(), len: data.len(), _borrow: std::marker::PhantomData }
    }

    /// An argument oneDNN writes (destinations, gradients, workspace in forward).
    pub fn output(arg: c_int, md: &'a MemoryDesc, data: &'a mut [f32]) -> Self {
        Self { arg, md, ptr: data.as_mut_ptr(), len: data.len(), _borrow: std::marker::PhantomData }
    }
}

/// An owned `dnnl_primitive_desc_t`.
pub struct PrimitiveDesc {
    api: Arc<Api>,
    pd: ffi::PrimitiveDescT,
}

// SAFETY: primitive descriptors are immutable after creation and may be used from any
// thread; this one is owned and destroyed once.
unsafe impl Send for PrimitiveDesc {}

impl PrimitiveDesc {
    /// The layout the primitive expects for execution argument `arg` (`DNNL_ARG_*`);
    /// a zero descriptor when it takes no such argument.
    pub fn arg_md(&self, arg: c_int) -> MemoryDesc {
        // SAFETY: `pd` is live; the query returns null or a pointer into `pd`, copied
        // out before `pd` can be destroyed.
        let p = unsafe { (self.api.primitive_desc_query_md)(self.pd, ffi::QUERY_EXEC_ARG_MD, arg) };
        if p.is_null() {
            MemoryDesc::zero()
        } else {
            // SAFETY: non-null pointer to a valid dnnl_memory_desc_t inside `pd`.
            unsafe { *p }
        }
    }

    /// Creates the primitive (JIT-compiles its kernels); this descriptor stays usable
    /// (as a hint for backward, and for queries).
    pub fn primitive(&self) -> Result<Primitive, GruError> {
        let mut prim: ffi::PrimitiveT = std::ptr::null_mut();
        // SAFETY: `pd` is live; `prim` is a valid out-pointer.
        check("dnnl_primitive_create", unsafe { (self.api.primitive_create)(&mut prim, self.pd) })?;
        Ok(Primitive { api: self.api.clone(), prim })
    }
}

impl Drop for PrimitiveDesc {
    fn drop(&mut self) {
        // SAFETY: created by dnnl_*primitive_desc_create, destroyed exactly once;
        // primitives made from it hold their own copy.
        unsafe { (self.api.primitive_desc_destroy)(self.pd) };
    }
}

/// An owned `dnnl_primitive_t`.
pub struct Primitive {
    api: Arc<Api>,
    prim: ffi::PrimitiveT,
}

// SAFETY: oneDNN primitives are immutable after creation and may be executed from any
// thread; this one is owned and destroyed once.
unsafe impl Send for Primitive {}

impl Drop for Primitive {
    fn drop(&mut self) {
        // SAFETY: created by dnnl_primitive_create, destroyed exactly once, not executing.
        unsafe { (self.api.primitive_destroy)(self.prim) };
    }
}
