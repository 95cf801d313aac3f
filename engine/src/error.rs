//! The engine's error type: one variant per kind of failure a user can cause or meet, each rendering
//! as a single line that names the thing at fault (a path, a setting, a statement position).

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TarnError {
    /// The SQL text does not parse; the message carries line and column.
    #[error("Parser Error: {0}")]
    Parse(String),
    /// No file matches a path or glob named in a query.
    #[error("IO Error: no files found that match '{0}'")]
    NoFiles(String),
    /// A file exists but cannot be read as the format it claims to be.
    #[error("Invalid Input Error: '{path}' is not a valid {format} file: {reason}")]
    BadFile {
        path: String,
        format: &'static str,
        reason: String,
    },
    /// A filesystem operation failed on a named path.
    #[error("IO Error: {op} '{path}': {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    /// `COPY ... TO` aimed at a non-empty target without `OVERWRITE`.
    #[error("IO Error: target '{0}' already exists and is not empty (add OVERWRITE to replace it)")]
    TargetExists(String),
    /// A statement, option or argument the engine understood but cannot accept.
    #[error("Invalid Input Error: {0}")]
    Invalid(String),
    /// A setting got a value it cannot take.
    #[error("Invalid Input Error: setting {name}: {reason}")]
    Setting { name: String, reason: String },
    /// A DataFrame operation that cannot be planned (partition counts, placeholders).
    #[error("Invalid Input Error: {0}")]
    Plan(#[from] tarn_planner::PlanError),
    /// A `map_batches` function returned an error (kept whole, so that a caller such as the
    /// Python package can raise it again as it was).
    #[error("Invalid Input Error: map_batches function failed: {0}")]
    Function(Box<dyn std::error::Error + Send + Sync>),
    /// A `map_batches` function failed with an I/O error, which is worth retrying.
    #[error("IO Error: map_batches function failed: {0}")]
    FunctionIo(std::io::Error),
    /// A task of a partitioned job failed; `cause` says why.
    #[error(
        "task {task} of stage {stage} (partition {partition}) failed after {attempts} attempt(s): {cause}"
    )]
    Task {
        stage: String,
        task: usize,
        partition: usize,
        attempts: usize,
        cause: Box<TarnError>,
    },
    /// A storage operation failed (the message names the URL and the operation).
    #[error("IO Error: {0}")]
    Storage(#[from] tarn_fs::FsError),
    /// Planning or execution failed inside DataFusion.
    #[error("{}", one_line(.0))]
    DataFusion(#[from] DataFusionError),
}

/// The engine's result type.
pub type Result<T, E = TarnError> = std::result::Result<T, E>;

impl TarnError {
    /// Wraps an I/O error with the operation and the path it was about.
    pub fn io(op: &'static str, path: impl Into<String>, source: std::io::Error) -> Self {
        TarnError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// A Tarn error where DataFusion needs one (inside plan nodes, runtime producers): DataFusion's
/// own errors unwrapped, the others as their one line.
impl From<TarnError> for DataFusionError {
    fn from(err: TarnError) -> Self {
        match err {
            TarnError::DataFusion(err) => err,
            other => DataFusionError::Execution(other.to_string()),
        }
    }
}

impl From<ArrowError> for TarnError {
    fn from(err: ArrowError) -> Self {
        TarnError::DataFusion(DataFusionError::ArrowError(Box::new(err), None))
    }
}

impl TarnError {
    /// Whether trying again may succeed: the failure came from storage, not from the query,
    /// the data or user code.
    pub fn is_transient(&self) -> bool {
        match self {
            TarnError::Io { .. } | TarnError::FunctionIo(_) => true,
            TarnError::Storage(err) => !matches!(err, tarn_fs::FsError::BadUrl { .. }),
            TarnError::DataFusion(err) => matches!(
                err.find_root(),
                DataFusionError::IoError(_) | DataFusionError::ObjectStore(_)
            ),
            _ => false,
        }
    }
}

/// DataFusion errors nest context ("Error during planning: ...", "External error: ...") and
/// sometimes span lines; users get the innermost message on one line, with DuckDB-like prefixes.
fn one_line(err: &DataFusionError) -> String {
    let root = err.find_root();
    let (prefix, message) = match root {
        DataFusionError::SQL(e, _) => ("Parser Error", e.to_string()),
        DataFusionError::Plan(m) => ("Binder Error", m.clone()),
        DataFusionError::SchemaError(e, _) => ("Binder Error", e.to_string()),
        DataFusionError::NotImplemented(m) => ("Not implemented Error", m.clone()),
        DataFusionError::ResourcesExhausted(m) => ("Out of Memory Error", m.clone()),
        DataFusionError::IoError(e) => ("IO Error", e.to_string()),
        DataFusionError::ObjectStore(e) => ("IO Error", e.to_string()),
        DataFusionError::ParquetError(e) => ("Invalid Input Error", e.to_string()),
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            ArrowError::ArithmeticOverflow(m) => ("Out of Range Error", m.clone()),
            ArrowError::DivideByZero => ("Invalid Input Error", e.to_string()),
            _ => ("Conversion Error", e.to_string()),
        },
        DataFusionError::Execution(m) => ("Invalid Input Error", m.clone()),
        other => ("Error", other.message().to_string()),
    };
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{prefix}: {message}")
}
