//! cuDNN descriptors, each owned (destroyed on drop): the RNN, its sequence data and state
//! tensors, and the table of the weight space read from cuDNN.

use cudarc::cudnn::sys as cudnn;
use gru_core::{GruError, GruSpec};

use crate::device::check;
use crate::layout::{Slot, LIN_LAYERS};

/// `CUDNN_RNN_PADDED_IO_ENABLED` (cudnn_adv.h: `#define CUDNN_RNN_PADDED_IO_ENABLED
/// (1U << 0)`; a macro, so not in cudarc's bindings): unpacked sequence data with padding.
const PADDED_IO_ENABLED: u32 = 1;

fn int(field: &str, v: usize) -> Result<i32, GruError> {
    i32::try_from(v).map_err(|_| GruError::InvalidOption {
        field: field.into(),
        value: v.to_string(),
        reason: "cuDNN takes sizes up to 2^31 - 1".into(),
    })
}

/// The RNN descriptor of a GRU stack.
pub struct RnnDesc(pub cudnn::cudnnRNNDescriptor_t);

// SAFETY: a descriptor is plain host memory owned by this value; cuDNN keeps no thread
// affinity for it.
unsafe impl Send for RnnDesc {}

impl RnnDesc {
    /// `CUDNN_GRU`, double bias, f32 with FMA math (no TF32), `projSize = hiddenSize`, no
    /// dropout, padded IO: the equations of `layout.rs`.
    pub fn gru(spec: &GruSpec) -> Result<Self, GruError> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: creates a descriptor into `raw`.
        check("cudnnCreateRNNDescriptor", unsafe { cudnn::cudnnCreateRNNDescriptor(&mut raw) })?;
        let desc = RnnDesc(raw);
        let dir = if spec.bidirectional {
            cudnn::cudnnDirectionMode_t::CUDNN_BIDIRECTIONAL
        } else {
            cudnn::cudnnDirectionMode_t::CUDNN_UNIDIRECTIONAL
        };
        let (input, hidden, depth) =
            (int("input_size", spec.input_size)?, int("hidden_size", spec.hidden_size)?, int("depth", spec.depth)?);
        // SAFETY: the descriptor is live; a NULL dropout descriptor means no dropout.
        check("cudnnSetRNNDescriptor_v8", unsafe {
            cudnn::cudnnSetRNNDescriptor_v8(
                raw,
                cudnn::cudnnRNNAlgo_t::CUDNN_RNN_ALGO_STANDARD,
                cudnn::cudnnRNNMode_t::CUDNN_GRU,
                cudnn::cudnnRNNBiasMode_t::CUDNN_RNN_DOUBLE_BIAS,
                dir,
                cudnn::cudnnRNNInputMode_t::CUDNN_LINEAR_INPUT,
                cudnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                cudnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                cudnn::cudnnMathType_t::CUDNN_FMA_MATH,
                input,
                hidden,
                hidden,
                depth,
                std::ptr::null_mut(),
                PADDED_IO_ENABLED,
            )
        })?;
        Ok(desc)
    }
}

impl Drop for RnnDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreateRNNDescriptor, destroyed once.
        unsafe {
            cudnn::cudnnDestroyRNNDescriptor(self.0);
        }
    }
}

/// Sequence data `[T, B, width]` (sequence-major, unpacked), with each sequence's length.
pub struct DataDesc(pub cudnn::cudnnRNNDataDescriptor_t);

// SAFETY: as RnnDesc.
unsafe impl Send for DataDesc {}

impl DataDesc {
    pub fn new(steps: usize, lengths: &[usize], width: usize) -> Result<Self, GruError> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: creates a descriptor into `raw`.
        check("cudnnCreateRNNDataDescriptor", unsafe { cudnn::cudnnCreateRNNDataDescriptor(&mut raw) })?;
        let desc = DataDesc(raw);
        let lens = lengths.iter().map(|&l| int("lengths", l)).collect::<Result<Vec<i32>, _>>()?;
        let mut fill = 0.0f32;
        // SAFETY: the descriptor is live; cuDNN copies `lens` (batch entries) and reads the
        // padding value (an f32 for f32 data) during the call.
        check("cudnnSetRNNDataDescriptor", unsafe {
            cudnn::cudnnSetRNNDataDescriptor(
                raw,
                cudnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                cudnn::cudnnRNNDataLayout_t::CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED,
                int("steps", steps)?,
                int("batch", lengths.len())?,
                int("width", width)?,
                lens.as_ptr(),
                (&mut fill as *mut f32).cast(),
            )
        })?;
        Ok(desc)
    }
}

impl Drop for DataDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreateRNNDataDescriptor, destroyed once.
        unsafe {
            cudnn::cudnnDestroyRNNDataDescriptor(self.0);
        }
    }
}

/// An f32 tensor descriptor.
pub struct TensorDesc(pub cudnn::cudnnTensorDescriptor_t);

// SAFETY: as RnnDesc.
unsafe impl Send for TensorDesc {}

impl TensorDesc {
    /// Unset (for cudnnGetRNNWeightParams to fill).
    pub fn empty() -> Result<Self, GruError> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: creates a descriptor into `raw`.
        check("cudnnCreateTensorDescriptor", unsafe { cudnn::cudnnCreateTensorDescriptor(&mut raw) })?;
        Ok(TensorDesc(raw))
    }

    /// The state tensor `[D·dirs, B, H]`, packed.
    pub fn state(blocks: usize, batch: usize, hidden: usize) -> Result<Self, GruError> {
        let desc = Self::empty()?;
        let dims = [int("blocks", blocks)?, int("batch", batch)?, int("hidden_size", hidden)?];
        let strides = [dims[1] * dims[2], dims[2], 1];
        // SAFETY: the descriptor is live; cuDNN copies the 3 dims and strides.
        check("cudnnSetTensorNdDescriptor", unsafe {
            cudnn::cudnnSetTensorNdDescriptor(
                desc.0,
                cudnn::cudnnDataType_t::CUDNN_DATA_FLOAT,
                3,
                dims.as_ptr(),
                strides.as_ptr(),
            )
        })?;
        Ok(desc)
    }

    /// `(rows, cols)` of a row-major matrix described with 2 or more dims (leading dims 1).
    fn matrix(&self, what: &str) -> Result<(usize, usize), GruError> {
        let (mut dtype, mut nb) = (cudnn::cudnnDataType_t::CUDNN_DATA_FLOAT, 0);
        let (mut dims, mut strides) = ([0i32; 8], [0i32; 8]);
        // SAFETY: the descriptor is live; cuDNN writes at most 8 dims and strides.
        check("cudnnGetTensorNdDescriptor", unsafe {
            cudnn::cudnnGetTensorNdDescriptor(self.0, 8, &mut dtype, &mut nb, dims.as_mut_ptr(), strides.as_mut_ptr())
        })?;
        let nb = usize::try_from(nb).unwrap_or(0).min(8);
        let d: Vec<usize> = dims[..nb].iter().map(|&v| usize::try_from(v).unwrap_or(0)).collect();
        let s: Vec<usize> = strides[..nb].iter().map(|&v| usize::try_from(v).unwrap_or(0)).collect();
        let layout_error = || GruError::Unsupported {
            engine: crate::device::ENGINE.into(),
            field: what.into(),
            value: format!("dims {d:?}, strides {s:?}"),
            reason: "cuDNN describes this weight in a layout this engine does not know".into(),
        };
        let (rows, cols) = match d.len() {
            0 => return Err(layout_error()),
            1 => (1, d[0]),
            n => (d[n - 2], d[n - 1]),
        };
        // Row-major; a column (cols 1) may have any unit stride.
        let row_major = s.last() == Some(&1) && (d.len() < 2 || s[s.len() - 2] == cols || cols == 1);
        if !row_major || d[..d.len().saturating_sub(2)].iter().any(|&v| v != 1) {
            return Err(layout_error());
        }
        Ok((rows, cols))
    }
}

impl Drop for TensorDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreateTensorDescriptor, destroyed once.
        unsafe {
            cudnn::cudnnDestroyTensorDescriptor(self.0);
        }
    }
}

/// The weight space's size in bytes.
pub fn weight_space_bytes(handle: cudnn::cudnnHandle_t, rnn: &RnnDesc) -> Result<usize, GruError> {
    let mut bytes = 0usize;
    // SAFETY: handle and descriptor are live; cuDNN writes one size.
    check("cudnnGetRNNWeightSpaceSize", unsafe { cudnn::cudnnGetRNNWeightSpaceSize(handle, rnn.0, &mut bytes) })?;
    Ok(bytes)
}

/// The table of the weight space at device address `base` (`bytes` long): where each
/// matrix and bias of each pseudo-layer sits, in f32 elements from `base`.
pub fn read_slots(
    handle: cudnn::cudnnHandle_t,
    rnn: &RnnDesc,
    spec: &GruSpec,
    base: u64,
    bytes: usize,
) -> Result<Vec<Slot>, GruError> {
    let (m_desc, b_desc) = (TensorDesc::empty()?, TensorDesc::empty()?);
    let mut slots = Vec::new();
    for pseudo_layer in 0..spec.num_blocks() {
        for lin_layer_id in 0..LIN_LAYERS {
            let (mut m_addr, mut b_addr) = (std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: handle, descriptors and the weight space (`bytes` at `base`) are live;
            // cuDNN only computes two addresses inside it and fills the two descriptors.
            check("cudnnGetRNNWeightParams", unsafe {
                cudnn::cudnnGetRNNWeightParams(
                    handle,
                    rnn.0,
                    int("pseudo_layer", pseudo_layer)?,
                    bytes,
                    base as *const std::ffi::c_void,
                    int("lin_layer_id", lin_layer_id)?,
                    m_desc.0,
                    &mut m_addr,
                    b_desc.0,
                    &mut b_addr,
                )
            })?;
            let offset = |addr: *mut std::ffi::c_void| (addr as u64).saturating_sub(base) as usize / 4;
            let (rows, cols) = b_desc.matrix("bias")?;
            let bias_len = if cols == 1 {
                rows
            } else if rows == 1 {
                cols
            } else {
                0
            };
            slots.push(Slot {
                pseudo_layer,
                lin_layer_id,
                matrix_offset: offset(m_addr),
                matrix_shape: m_desc.matrix("matrix")?,
                bias_offset: offset(b_addr),
                bias_len,
            });
        }
    }
    Ok(slots)
}
