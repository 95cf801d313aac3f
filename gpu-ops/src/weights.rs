//! Reading model weights from safetensors files: f32 tensors by name, BF16 widened (its bits
//! are the top half of an f32's), every failure one [`WeightsError`] line naming the file and
//! the tensor.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

/// A file or tensor that could not be read: `{path}: {message}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WeightsError {
    pub path: String,
    pub message: String,
}

impl WeightsError {
    pub(crate) fn new(path: &Path, message: impl std::fmt::Display) -> Self {
        WeightsError {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}

/// A file's bytes, or an error naming it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, WeightsError> {
    std::fs::read(path).map_err(|e| WeightsError::new(path, e))
}

/// The tensors of one safetensors file.
pub(crate) struct Tensors<'a> {
    file: SafeTensors<'a>,
    path: &'a Path,
}

impl<'a> Tensors<'a> {
    pub(crate) fn parse(bytes: &'a [u8], path: &'a Path) -> Result<Self, WeightsError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::new(path, e))?;
        Ok(Tensors { file, path })
    }

    /// Whether the file has tensor `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.file.tensor(name).is_ok()
    }

    /// The shape of tensor `name`.
    pub(crate) fn shape(&self, name: &str) -> Result<Vec<usize>, WeightsError> {
        let view = self
            .file
            .tensor(name)
            .map_err(|e| WeightsError::new(self.path, format!("{name}: {e}")))?;
        Ok(view.shape().to_vec())
    }

    /// Tensor `name` as f32 values (from F32 or BF16), checked to have `len` of them.
    pub(crate) fn f32(&self, name: &str, len: usize) -> Result<Vec<f32>, WeightsError> {
        let view = self
            .file
            .tensor(name)
            .map_err(|e| WeightsError::new(self.path, format!("{name}: {e}")))?;
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
            Dtype::BF16 => view
                .data()
                .chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
            other => {
                return Err(WeightsError::new(
                    self.path,
                    format!("{name}: {other:?} values; expected F32 or BF16"),
                ));
            }
        };
        if values.len() != len {
            return Err(WeightsError::new(
                self.path,
                format!("{name}: shape {:?}, expected {len} values", view.shape()),
            ));
        }
        Ok(values)
    }
}
