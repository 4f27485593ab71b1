//! File I/O: model and checkpoint files, safetensors files of other tools, atomic writes.
//!
//! - [`NamedTensor`] / [`TensorData`] ([`tensor`](self)): what a file holds, f32 or f64;
//!   [`take`] / [`take_as`] pick a tensor by name and shape.
//! - [`SafetensorsFile`] and [`save_tensors`]: any safetensors file (ours, a PyTorch state
//!   dict, the Keras layout of `convert`), read whole and checked, written atomically.
//! - [`save`] / [`load`] / [`model_json`]: the gru model file (format below), written by
//!   `Network::save`, training checkpoints and the converters.
//! - [`write_atomically`]: every file this crate writes goes through it.
//!
//! # Format (version 1)
//! A standard [safetensors](https://github.com/huggingface/safetensors) file:
//! - tensors, little-endian, row-major (C order), dtype `F32` or `F64`, each under a unique
//!   name (the caller's; e.g. `layer0.W`), with its shape;
//! - the header's `__metadata__` (a string → string map) holds
//!   - `"format": "gru"`,
//!   - `"format_version": "1"` ([`FORMAT_VERSION`]),
//!   - `"checksum"`: `crc32:` and eight hex digits, the CRC-32 of every tensor's data bytes
//!     (tensor by tensor in name order) and then of the `"model"` text ([`verify_checksum`]);
//!     files of earlier builds have none and still load (the key is optional in version 1),
//!   - `"model"`: a JSON document, as a string: whatever the caller passes (network
//!     description, training options, normalization statistics, class names, optimizer
//!     state and progress counters).
//!
//! Other metadata keys are ignored on load. [`SafetensorsFile`] and [`save_tensors`] read
//! and write any safetensors file with the same checks (the converters' PyTorch and Keras
//! files). Safetensors orders tensors in the file by dtype,
//! then by name; [`load`] returns them sorted by name.
//!
//! # Safety of the data
//! [`write_atomically`] (used by [`save`] and [`save_tensors`]) writes to a temporary file in
//! the same folder, syncs it and renames it over the destination, so a reader sees either the
//! old file or the new one, never a partial one; on any error the temporary file is removed
//! and the destination is untouched. [`load`] checks the format, the version, the checksum,
//! the model JSON and every tensor's dtype and values before returning anything, and reports
//! corrupt or truncated files as [`Error::File`](crate::Error::File), a flipped byte of the
//! tensor data or model JSON as [`Error::ChecksumMismatch`](crate::Error::ChecksumMismatch).

mod atomic;
mod checksum;
mod model_file;
mod safetensors_file;
mod tensor;

pub use atomic::write_atomically;
pub use checksum::{verify_checksum, Checksum, CHECKSUM_KEY};
pub use model_file::{load, model_json, save, FORMAT_VERSION};
pub use safetensors_file::{save_tensors, SafetensorsFile};
pub use tensor::{take, take_as, NamedTensor, TensorData};

#[cfg(test)]
mod tests;
