//! A linear head for the evaluation stage: `scores = x·Wᵀ + b` with W quantised to E4M3 in
//! 128×128 blocks and each row of x per token, multiplied by the FP8 GEMM ([`crate::fp8`]) on
//! the device in use. A quality classifier is a head of one row (one score per text); a topic
//! classifier has one row per topic.

use std::path::Path;

use crate::device::{Device, DeviceError};
use crate::fp8::{Fp8Matrix, Grouping, quantize};
use crate::weights::{self, Tensors, WeightsError};

/// A head's weights, read from a safetensors file.
#[derive(Debug, Clone)]
pub struct LinearHead {
    /// `weight` (`[classes, dim]`) quantised per 128×128 block.
    weight: Fp8Matrix,
    /// `bias` (`[classes]`), zeros when the file has none.
    bias: Vec<f32>,
    pub classes: usize,
    pub dim: usize,
}

impl LinearHead {
    /// Reads `weight` (`[classes, dim]`, F32 or BF16) and, if present, `bias` (`[classes]`).
    pub fn load(path: &Path) -> Result<LinearHead, WeightsError> {
        let bytes = weights::read(path)?;
        let tensors = Tensors::parse(&bytes, path)?;
        if !tensors.contains("weight") {
            return Err(WeightsError::new(
                path,
                "no head weight: expected a tensor 'weight' of shape [classes, dim]",
            ));
        }
        let [classes, dim] = tensors.shape("weight")?[..] else {
            return Err(WeightsError::new(
                path,
                "'weight' must have two dimensions, [classes, dim]",
            ));
        };
        if classes == 0 || dim == 0 {
            return Err(WeightsError::new(path, "'weight' is empty"));
        }
        let weight = tensors.f32("weight", classes * dim)?;
        let bias = if tensors.contains("bias") {
            tensors.f32("bias", classes)?
        } else {
            vec![0.0; classes]
        };
        Ok(LinearHead {
            weight: quantize(&weight, classes, dim, Grouping::PerBlock, false),
            bias,
            classes,
            dim,
        })
    }

    /// The scores of the rows of `x` (`[rows, dim]`), `[rows, classes]`, on `device`.
    pub fn scores(&self, x: &[f32], device: &Device) -> Result<Vec<f32>, DeviceError> {
        assert!(
            x.len().is_multiple_of(self.dim),
            "head of dim {}: {} input values",
            self.dim,
            x.len()
        );
        let rows = x.len() / self.dim;
        let activations = device.quantize(x, rows, self.dim, Grouping::PerToken, false)?;
        let mut scores = device.gemm_fp8_nt(&activations, &self.weight)?;
        for row in scores.chunks_exact_mut(self.classes) {
            row.iter_mut().zip(&self.bias).for_each(|(s, b)| *s += b);
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fp8::reference;

    /// Writes a head with `classes × dim` weights (and a bias when asked) to a fresh file.
    fn head_file(classes: usize, dim: usize, with_bias: bool) -> (tempfile::TempDir, Vec<f32>) {
        let weight: Vec<f32> = (0..classes * dim)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let bias: Vec<f32> = (0..classes).map(|c| c as f32 * 0.25).collect();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (w, b) = (bytes(&weight), bytes(&bias));
        let mut tensors = vec![(
            "weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![classes, dim], &w)
                .unwrap(),
        )];
        if with_bias {
            tensors.push((
                "bias",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![classes], &b)
                    .unwrap(),
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        safetensors::serialize_to_file(tensors, None, &dir.path().join("head.safetensors"))
            .unwrap();
        (dir, weight)
    }

    #[test]
    fn scores_are_the_fp8_product_plus_the_bias() {
        for (classes, dim, with_bias) in [(1, 384, true), (5, 200, false)] {
            let (dir, weight) = head_file(classes, dim, with_bias);
            let head = LinearHead::load(&dir.path().join("head.safetensors")).unwrap();
            assert_eq!((head.classes, head.dim), (classes, dim));
            let rows = 3;
            let x: Vec<f32> = (0..rows * dim)
                .map(|i| (i % 17) as f32 / 8.0 - 1.0)
                .collect();
            let got = head.scores(&x, &Device::Cpu).unwrap();
            let a = quantize(&x, rows, dim, Grouping::PerToken, false);
            let b = quantize(&weight, classes, dim, Grouping::PerBlock, false);
            let product = reference::gemm_fp8_nt(&a, &b);
            for (i, (g, p)) in got.iter().zip(&product).enumerate() {
                let bias = if with_bias {
                    (i % classes) as f32 * 0.25
                } else {
                    0.0
                };
                assert!((g - (p + bias)).abs() < 1e-4, "{i}: {g} vs {}", p + bias);
            }
        }
    }

    #[test]
    fn a_head_without_a_weight_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.safetensors");
        let data = [0u8; 4];
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data).unwrap();
        safetensors::serialize_to_file(vec![("other", view)], None, &path).unwrap();
        let error = LinearHead::load(&path).unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(error.contains("expected a tensor 'weight'"), "{error}");
    }
}
