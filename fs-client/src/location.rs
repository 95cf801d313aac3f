//! Storage URLs: what each form means and where it points.

use std::path::PathBuf;

use crate::error::{FsError, Result};
use crate::threefs;

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A POSIX path: a plain path, `file:///…`, or `3fs://…` resolved onto its mount.
    Posix(PathBuf),
    /// `s3://bucket/key`.
    S3 { bucket: String, key: String },
    /// `memory://name/key`: a store that lives as long as the process, shared by every user of
    /// the same name (for tests and scratch data).
    Memory { name: String, key: String },
}

impl Location {
    /// Parses a path or URL: a plain path, `file:///abs`, `3fs://path/under/mount` (the mount from
    /// `TARN_3FS_MOUNT`, else the only 3FS mount of this machine), `s3://bucket/key` or
    /// `memory://name/key`.
    pub fn parse(url: &str) -> Result<Location> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Ok(Location::Posix(PathBuf::from(url)));
        };
        match scheme {
            "file" => match rest.strip_prefix('/') {
                Some(_) => Ok(Location::Posix(PathBuf::from(rest))),
                None => Err(FsError::bad_url(
                    url,
                    "file:// URLs name an absolute path (file:///…)",
                )),
            },
            "3fs" => {
                let mount = threefs::default_mount().ok_or_else(|| {
                    FsError::bad_url(
                        url,
                        "TARN_3FS_MOUNT is not set and this machine has no single 3FS mount",
                    )
                })?;
                Ok(Location::Posix(
                    mount.root.join(rest.trim_start_matches('/')),
                ))
            }
            "s3" | "memory" => {
                let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
                if authority.is_empty() {
                    let what = if scheme == "s3" {
                        "a bucket"
                    } else {
                        "a store name"
                    };
                    return Err(FsError::bad_url(url, format!("{scheme}:// needs {what}")));
                }
                let (name, key) = (authority.to_string(), key.to_string());
                Ok(if scheme == "s3" {
                    Location::S3 { bucket: name, key }
                } else {
                    Location::Memory { name, key }
                })
            }
            other => Err(FsError::bad_url(
                url,
                format!(
                    "unsupported scheme '{other}://' (use a path, file://, 3fs://, s3:// or memory://)"
                ),
            )),
        }
    }

    /// The form DataFusion's listing understands: a path for POSIX locations, the URL otherwise.
    pub fn listing_url(&self) -> String {
        match self {
            Location::Posix(path) => path.display().to_string(),
            Location::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
            Location::Memory { name, key } => format!("memory://{name}/{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_parses() {
        assert_eq!(
            Location::parse("corpus/a.parquet").unwrap(),
            Location::Posix("corpus/a.parquet".into())
        );
        assert_eq!(
            Location::parse("file:///data/a.parquet").unwrap(),
            Location::Posix("/data/a.parquet".into())
        );
        assert_eq!(
            Location::parse("s3://bucket/corpus/*.parquet").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                key: "corpus/*.parquet".into()
            }
        );
        assert_eq!(
            Location::parse("memory://scratch").unwrap(),
            Location::Memory {
                name: "scratch".into(),
                key: String::new()
            }
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let err = |url| Location::parse(url).unwrap_err().to_string();
        assert_eq!(
            err("hdfs://nn/x"),
            "bad storage URL 'hdfs://nn/x': unsupported scheme 'hdfs://' (use a path, file://, 3fs://, s3:// or memory://)"
        );
        assert_eq!(
            err("s3:///key"),
            "bad storage URL 's3:///key': s3:// needs a bucket"
        );
        assert!(err("file://host/x").contains("absolute path"));
    }

    #[test]
    fn listing_urls_round_trip() {
        for url in ["s3://b/k/x.parquet", "memory://m/k", "/abs/path"] {
            assert_eq!(Location::parse(url).unwrap().listing_url(), url);
        }
    }
}
