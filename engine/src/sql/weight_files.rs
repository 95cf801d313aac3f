//! Model files that SQL functions name by path (`moe_route`'s router, `score`'s head): each is
//! read once per process and path, and shared by every query that names it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One function's files by path.
pub(super) type Cache<T> = Mutex<Option<HashMap<String, Arc<T>>>>;

/// The file at `path` from `cache`, read with `load` the first time; `load`'s error is returned
/// (and the next call tries again).
pub(super) fn cached<T, E>(
    cache: &Cache<T>,
    path: &str,
    load: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Arc<T>, E> {
    let mut files = cache.lock().expect("weight file cache lock");
    let files = files.get_or_insert_with(HashMap::new);
    if let Some(file) = files.get(path) {
        return Ok(file.clone());
    }
    let file = Arc::new(load(path)?);
    files.insert(path.to_string(), file.clone());
    Ok(file)
}
