//! The storage layer's error: every variant names the URL and the operation, so a caller can print
//! it as the one line a user sees.

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// A URL this layer cannot map to a store.
    #[error("bad storage URL '{url}': {reason}")]
    BadUrl { url: String, reason: String },
    /// A POSIX call on a local or 3FS path failed.
    #[error("{op} '{url}': {source}")]
    Io {
        op: &'static str,
        url: String,
        source: std::io::Error,
    },
    /// An object store (S3, memory) refused or failed a request.
    #[error("{op} '{url}': {source}")]
    Store {
        op: &'static str,
        url: String,
        source: Box<object_store::Error>,
    },
}

impl FsError {
    /// Wraps a POSIX error with the operation and the URL it was about.
    pub fn io(op: &'static str, url: impl Into<String>, source: std::io::Error) -> Self {
        FsError::Io {
            op,
            url: url.into(),
            source,
        }
    }

    /// Wraps an object store error with the operation and the URL it was about.
    pub fn store(op: &'static str, url: impl Into<String>, source: object_store::Error) -> Self {
        FsError::Store {
            op,
            url: url.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn bad_url(url: &str, reason: impl Into<String>) -> Self {
        FsError::BadUrl {
            url: url.to_string(),
            reason: reason.into(),
        }
    }
}

/// The storage layer's result type.
pub type Result<T, E = FsError> = std::result::Result<T, E>;
