//! The store for each URL: one local store and one in-memory store per name, made on first use
//! and shared by the whole process, and a new S3 client per request for one. S3 clients are not
//! kept: their pooled connections belong to the tokio runtime that opened them and die with it,
//! and a process may run several runtimes one after another (tests, the Python package).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::error::{FsError, Result};
use crate::local::LocalStore;
use crate::location::Location;

/// The process's stores.
#[derive(Debug, Default)]
pub struct Stores {
    local: OnceLock<Arc<LocalStore>>,
    memory: Mutex<HashMap<String, Arc<InMemory>>>,
}

impl Stores {
    /// The stores every part of Tarn shares.
    pub fn global() -> &'static Stores {
        static STORES: OnceLock<Stores> = OnceLock::new();
        STORES.get_or_init(Stores::default)
    }

    /// The store for local paths and 3FS mounts.
    pub fn local(&self) -> Arc<LocalStore> {
        Arc::clone(self.local.get_or_init(|| Arc::new(LocalStore::new())))
    }

    /// The store for a URL's scheme and authority (`file`, `s3` + bucket, `memory` + name).
    pub fn for_scheme(&self, scheme: &str, authority: &str) -> Result<Arc<dyn ObjectStore>> {
        match scheme {
            "file" => Ok(self.local()),
            "memory" => {
                let mut memory = self.memory.lock().expect("memory stores");
                let store = memory.entry(authority.to_string()).or_default();
                Ok(Arc::clone(store) as Arc<dyn ObjectStore>)
            }
            "s3" => s3_client(authority),
            other => Err(FsError::BadUrl {
                url: format!("{other}://{authority}"),
                reason: format!("unsupported scheme '{other}://'"),
            }),
        }
    }

    /// The store a URL lives in and the object path inside it.
    pub fn resolve(&self, url: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
        match Location::parse(url)? {
            Location::Posix(path) => {
                let absolute =
                    std::path::absolute(&path).map_err(|e| FsError::io("resolve", url, e))?;
                let object = Path::from_absolute_path(&absolute)
                    .map_err(|e| FsError::bad_url(url, e.to_string()))?;
                Ok((self.local(), object))
            }
            Location::S3 { bucket, key } => {
                Ok((self.for_scheme("s3", &bucket)?, object_path(url, &key)?))
            }
            Location::Memory { name, key } => {
                Ok((self.for_scheme("memory", &name)?, object_path(url, &key)?))
            }
        }
    }
}

fn object_path(url: &str, key: &str) -> Result<Path> {
    Path::parse(key).map_err(|e| FsError::bad_url(url, e.to_string()))
}

/// An S3 client for `bucket`, configured from the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …). Plain-HTTP endpoints (an
/// S3-compatible server on a private network) are allowed when the endpoint says `http://`.
fn s3_client(bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT"))
        .ok();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
        builder = builder.with_region("us-east-1");
    }
    let store = builder
        .build()
        .map_err(|e| FsError::store("connect to", format!("s3://{bucket}"), e))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[tokio::test]
    async fn memory_stores_are_shared_by_name() {
        let stores = Stores::default();
        let (store, path) = stores.resolve("memory://shared/a/b.txt").unwrap();
        store
            .put(&path, PutPayload::from_static(b"hello"))
            .await
            .unwrap();
        let (again, path) = stores.resolve("memory://shared/a/b.txt").unwrap();
        let bytes = again.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&bytes[..], b"hello");
        let (other, path) = stores.resolve("memory://other/a/b.txt").unwrap();
        assert!(other.get(&path).await.is_err());
    }

    #[tokio::test]
    async fn local_paths_resolve_to_the_local_store() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.bin");
        let stores = Stores::default();
        let (store, path) = stores
            .resolve(&format!("file://{}", file.display()))
            .unwrap();
        store
            .put(&path, PutPayload::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"abc");
    }
}
