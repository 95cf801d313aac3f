//! The engine's error type: one variant per kind of failure a user can cause or meet, each rendering
//! as a single line that names the thing at fault (a path, a setting, a statement position).

use std::str::FromStr;

use datafusion::arrow::datatypes::DataType;
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
    /// BEGIN, COMMIT or ROLLBACK out of turn, or a statement in a transaction a failed
    /// statement aborted.
    #[error("TransactionContext Error: {0}")]
    Transaction(String),
    /// A row broke a table's PRIMARY KEY, UNIQUE or NOT NULL constraint; nothing was written.
    #[error("Constraint Error: {0}")]
    Constraint(String),
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

impl From<datafusion::parquet::errors::ParquetError> for TarnError {
    fn from(err: datafusion::parquet::errors::ParquetError) -> Self {
        TarnError::DataFusion(err.into())
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
        DataFusionError::Plan(m) => (
            "Binder Error",
            refused_arguments(m)
                .or_else(|| no_matching_function(m))
                .or_else(|| uncoercible_arithmetic(m))
                .unwrap_or_else(|| m.clone()),
        ),
        DataFusionError::SchemaError(e, _) => ("Binder Error", e.to_string()),
        DataFusionError::NotImplemented(m) => (
            "Not implemented Error",
            unsupported_syntax(m)
                .or_else(|| lateral_reference(m))
                .or_else(|| grouped_window(m))
                .unwrap_or_else(|| m.clone()),
        ),
        DataFusionError::ResourcesExhausted(m) => ("Out of Memory Error", m.clone()),
        DataFusionError::IoError(e) => ("IO Error", e.to_string()),
        DataFusionError::ObjectStore(e) => ("IO Error", e.to_string()),
        DataFusionError::ParquetError(e) => ("Invalid Input Error", e.to_string()),
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            ArrowError::ArithmeticOverflow(m) => ("Out of Range Error", m.clone()),
            ArrowError::DivideByZero => ("Invalid Input Error", e.to_string()),
            ArrowError::CastError(m) => (
                "Conversion Error",
                unconvertible_text(m).unwrap_or_else(|| m.clone()),
            ),
            _ => ("Conversion Error", e.to_string()),
        },
        DataFusionError::Execution(m) => {
            failed_cluster_task(m).unwrap_or(("Invalid Input Error", m.clone()))
        }
        other => ("Error", other.message().to_string()),
    };
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{prefix}: {message}")
}

/// DataFusion words syntax it cannot plan with the parser's whole tree in debug form, often
/// thousands of characters (`Unsupported ast node MatchRecognize { table: Derived { ... } } in
/// create_relation`); users get the kind of node. `None` for any other message.
fn unsupported_syntax(message: &str) -> Option<String> {
    let tree = message.strip_prefix("Unsupported ast node ")?;
    let tree = tree.strip_prefix("in sqltorel: ").unwrap_or(tree);
    let kind: String = tree
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Some(match kind.as_str() {
        "" => return None,
        _ => format!("this SQL syntax ({kind}) is not supported"),
    })
}

/// DataFusion plans no table in FROM that reads the columns of the tables before it
/// (`FROM t, unnest(t.l)`, a LATERAL reference) and says so in the debug form of the column's
/// Arrow field. Users get what it was and what works instead. `None` for any other message.
fn lateral_reference(message: &str) -> Option<String> {
    let (_, reference) = message.split_once("OuterReferenceColumn(")?;
    let column = reference
        .split_once("Column { relation: Some(Bare { table: \"")
        .and_then(|(_, rest)| rest.split_once("\" }), name: \""))
        .and_then(|(table, rest)| Some(format!("{table}.{}", rest.split_once('"')?.0)))
        .unwrap_or_else(|| "a column of an earlier table".to_string());
    Some(format!(
        "a table in FROM cannot read {column} from a table before it (a LATERAL reference) \
         here: a LATERAL subquery with a LIMIT may read it only in equalities of its WHERE \
         clause (x.k = t.k); otherwise compute it in the SELECT list (for a list: \
         SELECT t.*, unnest(t.l) AS v FROM t)"
    ))
}

/// A window function left where only grouped values may be (a GROUP BY key, as GROUP BY ALL
/// makes every SELECT item without an aggregate), which DataFusion reports with the function's
/// debug form. Users get DuckDB's sentence. `None` for any other message.
fn grouped_window(message: &str) -> Option<String> {
    message
        .starts_with("Physical plan does not support logical expression WindowFunction(")
        .then(|| {
            "Cannot group on a window clause (GROUP BY ALL groups by each SELECT item without \
             an aggregate)"
                .to_string()
        })
}

/// A function that checks its own argument types says what it takes (`bit_count takes an
/// integer, not VARCHAR`); DataFusion wraps that in two error prefixes and a list of candidate
/// signatures that only say `UserDefined`. Users get the function's own sentence. `None` for
/// any other message.
fn refused_arguments(message: &str) -> Option<String> {
    let (_, reason) = message.split_once("user-defined coercion failed with: ")?;
    let reason = reason
        .strip_prefix("Error during planning: ")
        .unwrap_or(reason);
    let reason = reason
        .split_once(" No function matches the given name")
        .map_or(reason, |(reason, _)| reason);
    Some(reason.to_string())
}

/// A call no signature of the function takes: DataFusion lists every signature it tried, in
/// Arrow's type names, and calls it a bug in DataFusion (`sum(text)` gives some 900
/// characters). Users get DuckDB's sentence, in SQL's type names: `No function matches the
/// given name and argument types 'sum(VARCHAR)'. You might need to add explicit type casts.`
/// `None` for any other message.
fn no_matching_function(message: &str) -> Option<String> {
    const NO_MATCH: &str = "No function matches the given name and argument types '";
    let (_, call) = message.split_once(NO_MATCH)?;
    let (call, _) = call.split_once("'. ")?;
    let (name, arguments) = call.split_once('(')?;
    let arguments = arguments.strip_suffix(')')?;
    let types: Vec<String> = top_level_parts(arguments)
        .into_iter()
        .map(|arrow| match DataType::from_str(arrow) {
            Ok(data_type) => crate::sql::types::sql_type_name(&data_type),
            Err(_) => arrow.to_string(),
        })
        .collect();
    Some(format!(
        "No function matches the given name and argument types '{name}({})'. You might need to \
         add explicit type casts.",
        types.join(", ")
    ))
}

/// Arithmetic on types no operator takes (`'a' + 1`): DataFusion words it `Cannot coerce
/// arithmetic expression Utf8 + Int64 to valid types`; users get DuckDB's sentence in SQL's
/// type names, `No function matches the given name and argument types '+(VARCHAR, BIGINT)'`.
/// `None` for any other message.
fn uncoercible_arithmetic(message: &str) -> Option<String> {
    let operation = message
        .strip_prefix("Cannot coerce arithmetic expression ")?
        .strip_suffix(" to valid types")?;
    let mut depth = 0usize;
    let split = operation.char_indices().find_map(|(at, c)| {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 => {
                let (operator, right) = operation[at + 1..].split_once(' ')?;
                return Some((&operation[..at], operator, right));
            }
            _ => {}
        }
        None
    });
    let (left, operator, right) = split?;
    let sql_type = |arrow: &str| match DataType::from_str(arrow) {
        Ok(data_type) => crate::sql::types::sql_type_name(&data_type),
        Err(_) => arrow.to_string(),
    };
    Some(format!(
        "No function matches the given name and argument types '{operator}({}, {})'. You \
         might need to add explicit type casts.",
        sql_type(left),
        sql_type(right)
    ))
}

/// Text a cast cannot read as its type: Arrow words it `Cannot cast string 'abc' to value of
/// Int32 type` (or `value` for a BOOLEAN); users get DuckDB's sentence in SQL's type names,
/// `Could not convert string 'abc' to INTEGER`. `None` for any other message.
fn unconvertible_text(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("Cannot cast string ")
        .or_else(|| message.strip_prefix("Cannot cast value "))?;
    let (text, arrow) = rest.rsplit_once(" to value of ")?;
    let data_type = DataType::from_str(arrow.strip_suffix(" type")?).ok()?;
    Some(format!(
        "Could not convert string {text} to {}",
        crate::sql::types::sql_type_name(&data_type)
    ))
}

/// `text` split at the commas outside parentheses: `Int64, List(Int64, x)` is two parts.
fn top_level_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        parts.push(last);
    }
    parts
}

/// A cluster task's error as the embedded engine words it. Ballista reports a failed task as
/// text, the error in Rust's debug form: `Job 038H8 failed: Job failed due to stage 1 failed:
/// Task failed due to runtime execution error: DataFusionError(Shared(External(ArrowError(
/// ArithmeticOverflow("Overflow in ...")))))`. The innermost variant gives the prefix, its text
/// the message, and the job and stage follow in parentheses. `None` for any other message.
fn failed_cluster_task(message: &str) -> Option<(&'static str, String)> {
    const TASK_FAILED: &str = "Task failed due to runtime execution error: ";
    let (head, debug) = message.split_once(TASK_FAILED)?;
    let start = debug.find("(\"")?;
    let variant = debug[..start]
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default();
    let mut text = String::new();
    let mut chars = debug[start + 2..].chars();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => match chars.next()? {
                'n' => text.push(' '),
                'u' => return None, // an escaped non-printing character: keep Ballista's text
                escaped => text.push(escaped),
            },
            c => text.push(c),
        }
    }
    let prefix = match variant {
        "ArithmeticOverflow" => "Out of Range Error",
        "Plan" => "Binder Error",
        "ResourcesExhausted" => "Out of Memory Error",
        "CastError" | "ComputeError" | "ParseError" => "Conversion Error",
        _ => "Invalid Input Error",
    };
    let job = head
        .strip_prefix("Job ")
        .and_then(|rest| rest.split_once(' '))
        .map(|(id, _)| id)
        .unwrap_or("?");
    let stage = head
        .split_once("stage ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(n, _)| n)
        .unwrap_or("?");
    Some((prefix, format!("{text} (cluster job {job}, stage {stage})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_refusing_its_arguments_is_heard_in_its_own_words() {
        let planner = "Execution error: Function 'bit_count' user-defined coercion failed with: \
            Error during planning: bit_count takes an integer, not VARCHAR. No function matches \
            the given name and argument types 'bit_count(Utf8)'. You might need to add explicit \
            type casts. Candidate functions: bit_count(UserDefined)";
        let err = TarnError::DataFusion(DataFusionError::Plan(planner.into()));
        assert_eq!(
            err.to_string(),
            "Binder Error: bit_count takes an integer, not VARCHAR."
        );
        assert_eq!(refused_arguments("column x not found"), None);
    }

    #[test]
    fn a_call_no_signature_takes_is_named_in_sql_types() {
        let planner = "Internal error: Function 'sum' failed to match any signature, errors: \
            Error during planning: Function 'sum' requires Decimal, but received String \
            (DataType: Utf8View).. This issue was likely caused by a bug in DataFusion's code. \
            No function matches the given name and argument types 'sum(Utf8View)'. You might \
            need to add explicit type casts. Candidate functions: sum(Decimal) sum(UInt64)";
        let err = TarnError::DataFusion(DataFusionError::Plan(planner.into()));
        assert_eq!(
            err.to_string(),
            "Binder Error: No function matches the given name and argument types \
             'sum(VARCHAR)'. You might need to add explicit type casts."
        );
        assert_eq!(
            no_matching_function(
                "No function matches the given name and argument types \
                 'f(Int64, List(Int64), Weird<T>)'. You might need to add explicit type casts."
            )
            .as_deref(),
            Some(
                "No function matches the given name and argument types \
                 'f(BIGINT, BIGINT[], Weird<T>)'. You might need to add explicit type casts."
            )
        );
    }

    #[test]
    fn a_lateral_reference_names_the_column_and_the_way_that_works() {
        let planner = "Physical plan does not support logical expression \
            OuterReferenceColumn(Field { name: \"l\", data_type: List(Field { data_type: Int64, \
            nullable: true }), nullable: true }, Column { relation: Some(Bare { table: \"s\" }), \
            name: \"l\" })";
        let err = TarnError::DataFusion(DataFusionError::NotImplemented(planner.into()));
        assert_eq!(
            err.to_string(),
            "Not implemented Error: a table in FROM cannot read s.l from a table before it (a \
             LATERAL reference) here: a LATERAL subquery with a LIMIT may read it only in \
             equalities of its WHERE clause (x.k = t.k); otherwise compute it in the SELECT \
             list (for a list: SELECT t.*, unnest(t.l) AS v FROM t)"
        );
    }

    #[test]
    fn arithmetic_no_operator_takes_names_its_sql_types() {
        for (planner, types) in [
            ("Utf8 + Int64", "+(VARCHAR, BIGINT)"),
            (
                "Decimal128(10, 2) * List(Int32)",
                "*(DECIMAL(10,2), INTEGER[])",
            ),
        ] {
            let planner = format!("Cannot coerce arithmetic expression {planner} to valid types");
            let err = TarnError::DataFusion(DataFusionError::Plan(planner));
            assert_eq!(
                err.to_string(),
                format!(
                    "Binder Error: No function matches the given name and argument types \
                     '{types}'. You might need to add explicit type casts."
                )
            );
        }
    }

    #[test]
    fn text_a_cast_cannot_read_is_named_with_its_sql_type() {
        for (arrow, message) in [
            (
                "Cannot cast string 'abc' to value of Int32 type",
                "Conversion Error: Could not convert string 'abc' to INTEGER",
            ),
            (
                "Cannot cast value 'maybe' to value of Boolean type",
                "Conversion Error: Could not convert string 'maybe' to BOOLEAN",
            ),
            (
                "Cannot cast string 'a to value of b' to value of Decimal128(38, 10) type",
                "Conversion Error: Could not convert string 'a to value of b' to DECIMAL(38,10)",
            ),
        ] {
            let err = TarnError::from(ArrowError::CastError(arrow.into()));
            assert_eq!(err.to_string(), message);
        }
        assert_eq!(unconvertible_text("Cannot cast to Utf8"), None);
    }

    #[test]
    fn syntax_datafusion_cannot_plan_is_named_by_its_kind() {
        let planner = "Unsupported ast node MatchRecognize { table: Table { name: ObjectName([\
            Identifier(Ident { value: \"t\" })]) }, partition_by: [] } in create_relation";
        let err = TarnError::DataFusion(DataFusionError::NotImplemented(planner.into()));
        assert_eq!(
            err.to_string(),
            "Not implemented Error: this SQL syntax (MatchRecognize) is not supported"
        );
        assert_eq!(unsupported_syntax("Unsupported ast node { }"), None);
    }

    #[test]
    fn a_grouped_window_reads_as_duckdbs_sentence() {
        let planner = "Physical plan does not support logical expression WindowFunction(\
            WindowFunction { fun: WindowUDF(WindowUDF { inner: RowNumber { signature: \
            Signature { type_signature: Nullary } } }), params: WindowFunctionParams {} })";
        let err = TarnError::DataFusion(DataFusionError::NotImplemented(planner.into()));
        assert!(
            err.to_string()
                .starts_with("Not implemented Error: Cannot group on a window clause"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_cluster_task_reads_as_the_embedded_error() {
        let ballista = "Job 038H8GW9M8000 failed: Job failed due to stage 1 failed: Task failed \
            due to runtime execution error: DataFusionError(Shared(External(ArrowError(\
            ArithmeticOverflow(\"Overflow in multiplication of BIGINT (2 * 9)\")))))";
        let err = TarnError::DataFusion(DataFusionError::Execution(ballista.into()));
        assert_eq!(
            err.to_string(),
            "Out of Range Error: Overflow in multiplication of BIGINT (2 * 9) \
             (cluster job 038H8GW9M8000, stage 1)"
        );
        let quoted = "Job 1 failed: Job failed due to stage 2 failed: Task failed due to runtime \
            execution error: DataFusionError(Execution(\"no file \\\"a b\\\" here\"))";
        assert_eq!(
            failed_cluster_task(quoted),
            Some((
                "Invalid Input Error",
                "no file \"a b\" here (cluster job 1, stage 2)".to_string()
            ))
        );
        assert_eq!(failed_cluster_task("Division by zero"), None);
    }
}
