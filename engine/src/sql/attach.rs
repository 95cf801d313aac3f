//! `ATTACH 'dir/' AS s`: each Parquet file or folder of Parquet files in `dir` becomes a table
//! `s.name` (the file stem or the folder name).

use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::execution::SendableRecordBatchStream;

use super::files::{FileFormatKind, ScanOptions, ScanSpec};
use super::{DEFAULT_CATALOG, SqlSession, empty_stream};
use crate::error::{Result, TarnError};

pub async fn attach(
    session: &SqlSession,
    dir: &str,
    alias: Option<&str>,
) -> Result<SendableRecordBatchStream> {
    let entries = std::fs::read_dir(dir).map_err(|e| TarnError::io("attach", dir, e))?;
    let alias = match alias {
        Some(alias) => alias.to_string(),
        None => std::path::Path::new(dir.trim_end_matches('/'))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| TarnError::Invalid(format!("ATTACH '{dir}' needs AS name")))?,
    };
    let state = session.context().state();
    let schema = Arc::new(MemorySchemaProvider::new());
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with(['.', '_']))
        })
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .expect("listed entries have names")
            .to_string_lossy();
        let (table_name, scan_path) = if path.is_dir() {
            (name.to_string(), format!("{}/", path.display()))
        } else if FileFormatKind::from_path(&name) == Some(FileFormatKind::Parquet) {
            let stem = name.split('.').next().unwrap_or(&name).to_string();
            (stem, path.display().to_string())
        } else {
            continue;
        };
        let spec = ScanSpec {
            paths: vec![scan_path],
            format: Some(FileFormatKind::Parquet),
            options: ScanOptions::default(),
        };
        match spec.resolve(&state).await {
            Ok(table) => {
                schema.register_table(table_name, table)?;
            }
            // A folder without Parquet files is not a table; anything else is an error.
            Err(TarnError::NoFiles(_)) if path.is_dir() => {}
            Err(err) => return Err(err),
        }
    }
    let catalog = session
        .context()
        .catalog(DEFAULT_CATALOG)
        .expect("the default catalog exists");
    if catalog.schema(&alias).is_some() {
        return Err(TarnError::Invalid(format!(
            "a database named '{alias}' is already attached"
        )));
    }
    catalog.register_schema(&alias, schema)?;
    Ok(empty_stream())
}
