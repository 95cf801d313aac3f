//! DataFusion's object-store registry, answered by Tarn's storage layer: every URL a query or a
//! job names (`file://`, a path on a 3FS mount, `s3://bucket`, `memory://name`) gets its store
//! from `tarn_fs`, made on first use, instead of needing registration up front.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::object_store::ObjectStore;
use tarn_fs::{Location, Stores};
use url::Url;

use crate::error::{Result, TarnError};

/// Stores registered by hand (DataFusion's API allows it) come first; every other URL is
/// resolved by [`tarn_fs::Stores`].
#[derive(Debug, Default)]
pub struct TarnStoreRegistry {
    registered: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

/// The registry key of a URL: its scheme and authority, as DataFusion keys stores.
fn key(url: &Url) -> String {
    format!(
        "{}://{}",
        url.scheme(),
        &url[url::Position::BeforeHost..url::Position::AfterPort]
    )
}

impl ObjectStoreRegistry for TarnStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.registered
            .write()
            .expect("store registry")
            .insert(key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.registered
            .write()
            .expect("store registry")
            .remove(&key(url))
            .ok_or_else(|| {
                DataFusionError::Execution(format!("no object store registered for {url}"))
            })
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if let Some(store) = self
            .registered
            .read()
            .expect("store registry")
            .get(&key(url))
        {
            return Ok(Arc::clone(store));
        }
        Stores::global()
            .for_scheme(url.scheme(), url.host_str().unwrap_or_default())
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}

/// A user's path or URL in the form DataFusion's listing parses: `3fs://…` becomes the path on
/// its mount (DataFusion cannot parse a scheme that starts with a digit), `file://…` a path, and
/// `s3://` and `memory://` URLs stay as they are.
pub fn listing_path(path: &str) -> Result<String> {
    Ok(Location::parse(path)
        .map_err(TarnError::Storage)?
        .listing_url())
}
