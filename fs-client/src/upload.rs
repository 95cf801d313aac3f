//! Putting local files into an object store, as whole objects.
//!
//! Writers that can only write to a local folder (DataFusion's file sinks writing a staging
//! folder, for one) hand their output to [`upload`]. Each object goes up as a multipart upload,
//! which the store makes visible only when it completes, so no reader ever sees part of an
//! object; a failed upload deletes the objects it had already written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::error::{FsError, Result};
use crate::ring::SCAN_BLOCK;
use crate::stores::Stores;

/// Uploads the file or folder at `local` to the object-store URL `url`: a file becomes the object
/// at `url`, a folder's files the objects under it by relative path. Returns the objects written.
pub async fn upload(local: &Path, url: &str) -> Result<Vec<ObjectPath>> {
    let (store, base) = Stores::global().resolve(url)?;
    let files = if local.is_dir() {
        files_under(local)
            .map_err(|e| FsError::io("read folder", local.display().to_string(), e))?
    } else {
        vec![PathBuf::new()]
    };
    let mut written = Vec::with_capacity(files.len());
    for relative in files {
        let file = if relative.as_os_str().is_empty() {
            local.to_path_buf()
        } else {
            local.join(&relative)
        };
        let object = relative.iter().fold(base.clone(), |path, part| {
            path.clone().join(part.to_string_lossy().as_ref())
        });
        if let Err(err) = put_file(&store, &file, &object).await {
            for done in &written {
                let _ = store.delete(done).await;
            }
            return Err(err.into_fs(url));
        }
        written.push(object);
    }
    Ok(written)
}

/// Uploads the local file `file` as the object `object` of `store`; `url` names the object in
/// errors. The object appears whole or not at all.
pub async fn upload_file(
    store: &Arc<dyn ObjectStore>,
    file: &Path,
    object: &ObjectPath,
    url: &str,
) -> Result<()> {
    put_file(store, file, object)
        .await
        .map_err(|err| err.into_fs(url))
}

/// Whether an object exists at `url` or under it.
pub async fn exists(url: &str) -> Result<bool> {
    let (store, path) = Stores::global().resolve(url)?;
    match store.head(&path).await {
        Ok(_) => return Ok(true),
        Err(object_store::Error::NotFound { .. }) => {}
        Err(err) => return Err(FsError::store("look up", url, err)),
    }
    has_objects_under(url).await
}

/// Whether any object lies under the folder `url` (`url/…`).
pub async fn has_objects_under(url: &str) -> Result<bool> {
    let (store, path) = Stores::global().resolve(url)?;
    match store.list(Some(&path)).next().await {
        None => Ok(false),
        Some(Ok(_)) => Ok(true),
        Some(Err(err)) => Err(FsError::store("list", url, err)),
    }
}

/// Deletes the objects under `url` that are not in `keep` (what an overwrite replaces).
pub async fn delete_others(url: &str, keep: &[ObjectPath]) -> Result<()> {
    let (store, path) = Stores::global().resolve(url)?;
    let keep: HashSet<&ObjectPath> = keep.iter().collect();
    let listed: Vec<_> = store.list(Some(&path)).collect().await;
    for meta in listed {
        let meta = meta.map_err(|e| FsError::store("list", url, e))?;
        if !keep.contains(&meta.location) {
            store
                .delete(&meta.location)
                .await
                .map_err(|e| FsError::store("delete", url, e))?;
        }
    }
    Ok(())
}

/// Every file under `dir`, as paths relative to it, in name order.
fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(dir.join(&folder))? {
            let entry = entry?;
            let relative = folder.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                folders.push(relative);
            } else {
                files.push(relative);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Why one file did not go up.
enum PutError {
    Read(PathBuf, std::io::Error),
    Store(object_store::Error),
}

impl PutError {
    fn into_fs(self, url: &str) -> FsError {
        match self {
            PutError::Read(path, err) => FsError::io("read", path.display().to_string(), err),
            PutError::Store(err) => FsError::store("upload to", url, err),
        }
    }
}

/// Puts one file into one object: with a single request when it fits in one part of
/// [`SCAN_BLOCK`] bytes (a shuffle's many small files), else as a multipart upload.
async fn put_file(
    store: &Arc<dyn ObjectStore>,
    file: &Path,
    object: &ObjectPath,
) -> Result<(), PutError> {
    let read_err = |e| PutError::Read(file.to_path_buf(), e);
    let mut reader = tokio::fs::File::open(file).await.map_err(read_err)?;
    let size = reader.metadata().await.map_err(read_err)?.len();
    if size <= SCAN_BLOCK as u64 {
        let mut bytes = Vec::with_capacity(size as usize);
        reader.read_to_end(&mut bytes).await.map_err(read_err)?;
        store
            .put(object, PutPayload::from(bytes))
            .await
            .map_err(PutError::Store)?;
        return Ok(());
    }
    let upload = store.put_multipart(object).await.map_err(PutError::Store)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, SCAN_BLOCK);
    let mut buffer = vec![0; SCAN_BLOCK];
    loop {
        let n = match reader.read(&mut buffer).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                let _ = writer.abort().await;
                return Err(read_err(err));
            }
        };
        // At most four parts in flight: memory stays bounded whatever the file's size.
        writer.wait_for_capacity(4).await.map_err(PutError::Store)?;
        writer.write(&buffer[..n]);
    }
    writer.finish().await.map(|_| ()).map_err(PutError::Store)
}
