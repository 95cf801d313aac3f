//! `TarnConfig`: the settings a session starts from. Defaults come first, `TARN_*` environment
//! variables override them, and callers (CLI flags, `SET` statements) override those.

use std::path::PathBuf;

use crate::error::{Result, TarnError};

/// Settings for a session's execution resources and its partitioned jobs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TarnConfig {
    /// Worker threads and target partitions per query (DuckDB's `threads`).
    pub threads: usize,
    /// Bytes that operators may hold before they spill (DuckDB's `memory_limit`); `None` means
    /// unbounded.
    pub memory_limit: Option<u64>,
    /// Where spill files go (DuckDB's `temp_directory`); `None` uses the OS temporary folder.
    pub temp_directory: Option<PathBuf>,
    /// Where partitioned jobs keep their files, `<data_root>/<job_id>/...`: a folder (a path, or
    /// a `3fs://` URL resolved onto its mount) or an object-store URL (`s3://bucket/prefix`,
    /// `memory://name/prefix`).
    pub data_root: String,
    /// The job a session's DataFrames run as; `None` gives each session a new id. Running a
    /// job again with the same id skips the tasks that finished.
    pub job_id: Option<String>,
    /// Tasks a job runs at once.
    pub concurrency: usize,
    /// Attempts a task gets when it fails for an I/O reason.
    pub max_attempts: usize,
    /// A Ballista cluster (`df://host:port`) that runs the session's queries and jobs; `None`
    /// runs them in this process.
    pub cluster: Option<String>,
    /// Whether query results keep the order of the rows in the files they come from (DuckDB's
    /// `preserve_insertion_order`); off, partitions merge as their rows arrive.
    #[serde(default = "keeps_insertion_order")]
    pub preserve_insertion_order: bool,
}

/// The default of [`TarnConfig::preserve_insertion_order`], for settings saved without it.
fn keeps_insertion_order() -> bool {
    true
}

impl Default for TarnConfig {
    /// Every core, and like DuckDB 80% of physical memory before spilling.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        TarnConfig {
            threads: cores,
            memory_limit: physical_memory().map(|bytes| bytes / 10 * 8),
            temp_directory: None,
            data_root: home().join(".tarn").join("data").display().to_string(),
            job_id: None,
            concurrency: cores,
            max_attempts: 3,
            cluster: None,
            preserve_insertion_order: keeps_insertion_order(),
        }
    }
}

impl TarnConfig {
    /// Defaults overridden by the `TARN_*` environment variables (see [`Self::apply_env`]).
    pub fn from_env() -> Result<Self> {
        let mut config = TarnConfig::default();
        config.apply_env()?;
        Ok(config)
    }

    /// Applies `TARN_THREADS`, `TARN_MEMORY_LIMIT`, `TARN_TEMP_DIRECTORY`, `TARN_DATA_ROOT`,
    /// `TARN_JOB_ID`, `TARN_CONCURRENCY`, `TARN_MAX_ATTEMPTS`, `TARN_PRESERVE_INSERTION_ORDER` and
    /// `TARN_CLUSTER` where they are set.
    pub fn apply_env(&mut self) -> Result<()> {
        if let Ok(url) = std::env::var("TARN_CLUSTER") {
            self.set_cluster(&url)?;
        }
        for (setting, var) in [
            ("threads", "TARN_THREADS"),
            ("memory_limit", "TARN_MEMORY_LIMIT"),
            ("temp_directory", "TARN_TEMP_DIRECTORY"),
            ("data_root", "TARN_DATA_ROOT"),
            ("job_id", "TARN_JOB_ID"),
            ("concurrency", "TARN_CONCURRENCY"),
            ("max_attempts", "TARN_MAX_ATTEMPTS"),
            ("preserve_insertion_order", "TARN_PRESERVE_INSERTION_ORDER"),
        ] {
            if let Ok(value) = std::env::var(var) {
                self.set(setting, &value).map_err(|e| match e {
                    TarnError::Setting { reason, .. } => TarnError::Setting {
                        name: var.to_string(),
                        reason,
                    },
                    other => other,
                })?;
            }
        }
        Ok(())
    }

    /// Runs the session's queries and jobs on the cluster at `url` (`df://host:port`). Not a
    /// `SET` setting: a session connects once, when it starts.
    pub fn set_cluster(&mut self, url: &str) -> Result<()> {
        self.cluster = Some(crate::cluster::ClusterUrl::parse(url)?.to_string());
        Ok(())
    }

    /// These settings for work done in this process: a job plans, and each task runs, locally
    /// even when the job's stages go to a cluster.
    pub fn local(&self) -> TarnConfig {
        TarnConfig {
            cluster: None,
            ..self.clone()
        }
    }

    /// `data_root` as a folder; `None` when it is an object store.
    pub fn data_folder(&self) -> Option<PathBuf> {
        match tarn_fs::Location::parse(&self.data_root) {
            Ok(tarn_fs::Location::Posix(path)) => Some(path),
            _ => None,
        }
    }

    /// Applies one named setting given as text, as `SET name = value` does. Returns `false` when
    /// the name is not one of Tarn's own settings (the caller may pass it on to DataFusion).
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        let invalid = |reason: String| TarnError::Setting {
            name: name.to_string(),
            reason,
        };
        let count = || -> Result<usize> {
            match value.trim().parse() {
                Ok(0) => Err(invalid("must be at least 1".into())),
                Ok(n) => Ok(n),
                Err(_) => Err(invalid(format!("'{value}' is not a whole number"))),
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "threads" | "worker_threads" => self.threads = count()?,
            "concurrency" => self.concurrency = count()?,
            "max_attempts" => self.max_attempts = count()?,
            "data_root" => {
                let value = value.trim();
                if value.is_empty() {
                    return Err(invalid("must name a folder".into()));
                }
                self.data_root = match tarn_fs::Location::parse(value) {
                    Ok(tarn_fs::Location::Posix(path)) => path.display().to_string(),
                    Ok(_) => value.trim_end_matches('/').to_string(),
                    Err(err) => return Err(invalid(err.to_string())),
                };
            }
            "job_id" => {
                let value = value.trim();
                let safe = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
                if value.is_empty() || value.starts_with('.') || !value.chars().all(safe) {
                    return Err(invalid(format!(
                        "'{value}' is not a job id (letters, digits, '-', '_', '.')"
                    )));
                }
                self.job_id = Some(value.to_string());
            }
            "preserve_insertion_order" => {
                self.preserve_insertion_order = match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "on" | "1" => true,
                    "false" | "off" | "0" => false,
                    other => return Err(invalid(format!("'{other}' is not true or false"))),
                }
            }
            "memory_limit" | "max_memory" => {
                self.memory_limit = parse_size(value).map_err(invalid)?;
            }
            "temp_directory" => {
                let value = value.trim();
                self.temp_directory = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Parses a DuckDB-style size: `4GB`, `512 MiB`, `1.5GB`, a plain byte count, or `-1`/`none`
/// for no limit.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text == "-1" || text.eq_ignore_ascii_case("none") || text.is_empty() {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size such as '4GB'"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => 1,
        "kb" | "k" => 1000,
        "mb" | "m" => 1000_u64.pow(2),
        "gb" | "g" => 1000_u64.pow(3),
        "tb" | "t" => 1000_u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(format!("unknown unit '{other}' in '{text}'")),
    };
    Ok(Some((number * multiplier as f64) as u64))
}

/// The user's home folder (`$HOME`), or the current folder when there is none.
fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Physical memory in bytes, read from `/proc/meminfo` where there is one.
fn physical_memory() -> Option<u64> {
    meminfo("MemTotal")
}

/// Memory the kernel could give a new allocation without swapping (free plus reclaimable
/// page cache), in bytes, where `/proc/meminfo` says.
pub fn available_memory() -> Option<u64> {
    meminfo("MemAvailable")
}

/// A `/proc/meminfo` figure, in bytes.
fn meminfo(field: &str) -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_root_is_a_folder_or_an_object_store_url() {
        let mut config = TarnConfig::default();
        config.set("data_root", "file:///srv/tarn").unwrap();
        assert_eq!(config.data_root, "/srv/tarn");
        config.set("data_root", "s3://bucket/jobs/").unwrap();
        assert_eq!(config.data_root, "s3://bucket/jobs");
        let err = config
            .set("data_root", "hdfs://nn/jobs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme 'hdfs://'"), "{err}");
    }

    #[test]
    fn sizes_parse_like_duckdb() {
        assert_eq!(parse_size("4GB"), Ok(Some(4_000_000_000)));
        assert_eq!(parse_size("512 MiB"), Ok(Some(512 << 20)));
        assert_eq!(parse_size("1.5gb"), Ok(Some(1_500_000_000)));
        assert_eq!(parse_size("-1"), Ok(None));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4 parsecs").is_err());
    }

    #[test]
    fn set_rejects_bad_values_and_passes_unknown_names() {
        let mut config = TarnConfig::default();
        assert!(config.set("threads", "3").unwrap());
        assert_eq!(config.threads, 3);
        assert!(config.set("threads", "0").is_err());
        assert!(config.set("memory_limit", "2GB").unwrap());
        assert_eq!(config.memory_limit, Some(2_000_000_000));
        assert!(config.set("preserve_insertion_order", "false").unwrap());
        assert!(!config.preserve_insertion_order);
        assert!(config.set("preserve_insertion_order", "maybe").is_err());
        assert!(
            !config
                .set("datafusion.execution.batch_size", "1024")
                .unwrap()
        );
    }
}
