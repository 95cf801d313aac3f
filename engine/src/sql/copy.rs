//! DuckDB's `COPY (query) TO 'path' (FORMAT parquet, PARTITION_BY (cols), COMPRESSION zstd,
//! ROW_GROUP_SIZE n, ROW_GROUPS_PER_FILE k, FILE_SIZE_BYTES '256MB', PER_THREAD_OUTPUT,
//! FILENAME_PATTERN 'shard_{i}', KV_METADATA {key: 'value'}, OVERWRITE)`. `ROW_GROUPS_PER_FILE`,
//! `FILE_SIZE_BYTES` and `PER_THREAD_OUTPUT` make the target a folder of files (shards of `k`
//! row groups or of about so many bytes, or one file per thread), as in DuckDB; a folder's files
//! are named as DuckDB names them ([`super::copy_files`]).
//!
//! Output appears whole or not at all: on a local disk or a 3FS mount everything is written
//! under a hidden staging name next to the target and renamed into place at the end; in an object
//! store (`s3://`, `memory://`) every file becomes one object, visible only once complete, and a
//! failed upload deletes the objects it wrote. A non-empty target is refused unless
//! `OVERWRITE` is given, so a rerun never adds a second set of files; `APPEND` adds the new
//! files to a folder's, each under a name with a UUID (moved in one by one, and taken out
//! again if one cannot be).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::config::ConfigNonZeroUsize;
use datafusion::common::parsers::CompressionTypeVariant;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::sql::sqlparser::tokenizer::Token;

use datafusion::logical_expr::{Expr, ScalarUDF, cast, lit, when};

use super::copy_files::{
    FilePattern, ShardLimits, add_files, name_files, name_partition_folders, write_parquet_shards,
    write_partitioned_parquet_shards,
};
use super::duckdb_text::{DuckDbText, respelled};
use super::files::{FileFormatKind, HIVE_DEFAULT_PARTITION};
use super::tokens::is_keyword;
use super::{SqlSession, batches_stream};
use crate::error::{Result, TarnError};

/// What a `COPY` does with a target that already holds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingFiles {
    /// Fails, so that a rerun never adds a second set of files.
    Refuse,
    /// Replaces them (`OVERWRITE`).
    Replace,
    /// Adds the new files beside them, under names no run repeats (`APPEND`).
    Add,
}

/// A parsed `COPY ... TO` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyStatement {
    /// The query whose rows are written (a table name becomes `SELECT * FROM name`).
    pub query: String,
    pub target: String,
    pub format: FileFormatKind,
    pub partition_by: Vec<String>,
    pub compression: Option<String>,
    pub compression_level: Option<u32>,
    pub row_group_size: Option<usize>,
    /// Shards: a new file after this many row groups (`ROW_GROUPS_PER_FILE`).
    pub row_groups_per_file: Option<usize>,
    /// Shards: a new file once one holds about this many bytes (`FILE_SIZE_BYTES`).
    pub file_size_bytes: Option<u64>,
    /// How a folder's files are named (`FILENAME_PATTERN`).
    pub file_pattern: FilePattern,
    /// A file per thread (`PER_THREAD_OUTPUT`).
    pub per_thread: bool,
    /// Key-value pairs for each Parquet file's footer (a pipeline's provenance, say), in the
    /// order written.
    pub kv_metadata: Vec<(String, String)>,
    /// What to do with a target that already holds files (`OVERWRITE`, `APPEND`).
    pub existing: ExistingFiles,
    pub header: bool,
    pub delimiter: u8,
    /// CSV's quote and escape characters (`QUOTE`, `ESCAPE`).
    pub quote: u8,
    pub escape: Option<u8>,
    /// CSV's text for NULL (`NULLSTR`; empty by default).
    pub null_text: Option<String>,
    /// CSV's formats for dates and timestamps (`DATEFORMAT`, `TIMESTAMPFORMAT`: DuckDB's `%`
    /// codes, which chrono reads alike); DuckDB's text without them.
    pub date_format: Option<String>,
    pub timestamp_format: Option<String>,
    /// JSON: one array of the records (`ARRAY true`) rather than a record per line.
    pub json_array: bool,
}

/// Runs a `COPY` statement and returns the number of rows written in a `Count` column.
pub async fn copy(session: &SqlSession, statement: &str) -> Result<SendableRecordBatchStream> {
    let copy = CopyStatement::parse(statement)?;
    let frame = session.dataframe(&copy.query).await?;
    let rows = match tarn_fs::Location::parse(&copy.target)? {
        tarn_fs::Location::Posix(target) => copy.to_path(session, frame, &target).await?,
        _ => copy.to_store(session, frame).await?,
    };
    let schema = Arc::new(Schema::new(vec![Field::new(
        "Count",
        DataType::UInt64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(UInt64Array::from(vec![rows]))],
    )
    .map_err(|e| TarnError::DataFusion(e.into()))?;
    Ok(batches_stream(schema, vec![batch]))
}

impl CopyStatement {
    /// Writes to a POSIX path (a local disk or a 3FS mount): into a hidden staging name beside
    /// the target, renamed into place when complete.
    async fn to_path(
        &self,
        session: &SqlSession,
        frame: datafusion::prelude::DataFrame,
        target: &Path,
    ) -> Result<u64> {
        let has_content = match std::fs::metadata(target) {
            Ok(meta) if meta.is_dir() => std::fs::read_dir(target)
                .map_err(|e| TarnError::io("read", &self.target, e))?
                .next()
                .is_some(),
            Ok(_) => true,
            Err(_) => false,
        };
        // One file replaces a file, as in DuckDB (still whole or not at all); a folder with
        // files in it is kept unless OVERWRITE is given.
        let replaces_file = target.is_file() && !self.writes_folder();
        match self.existing {
            ExistingFiles::Refuse if has_content && !replaces_file => {
                return Err(TarnError::TargetExists(self.target.clone()));
            }
            ExistingFiles::Add if target.is_file() => {
                return Err(TarnError::Invalid(format!(
                    "COPY: APPEND adds files to a folder, and '{}' is a file",
                    self.target
                )));
            }
            _ => {}
        }
        let staging = staging_beside(target)?;
        let rows = match self.write(session, frame, &staging).await {
            Ok(rows) => rows,
            Err(err) => {
                let _ = tarn_fs::remove_tree(&staging);
                return Err(err);
            }
        };
        let published = match self.existing {
            ExistingFiles::Add if has_content => {
                let added = add_files(&staging, target);
                let _ = tarn_fs::remove_tree(&staging);
                added
            }
            _ => publish_staged(&staging, target),
        };
        published.map_err(|e| TarnError::io("publish", &self.target, e))?;
        Ok(rows)
    }

    /// Writes to an object store (`s3://`, `memory://`): into a local staging folder first, then
    /// each file as one object (visible only once whole); `OVERWRITE` then deletes the objects
    /// under the target that the new output did not replace.
    async fn to_store(
        &self,
        session: &SqlSession,
        frame: datafusion::prelude::DataFrame,
    ) -> Result<u64> {
        if self.existing == ExistingFiles::Refuse {
            // One file replaces an object, as on a disk; objects under the target are kept.
            let taken = match self.writes_folder() {
                true => tarn_fs::upload::exists(&self.target).await?,
                false => tarn_fs::upload::has_objects_under(&self.target).await?,
            };
            if taken {
                return Err(TarnError::TargetExists(self.target.clone()));
            }
        }
        let temp = session
            .config()
            .temp_directory
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let staging_root = temp.join(format!(".tarn-copy-{}", uuid::Uuid::new_v4().simple()));
        let target = self.target.trim_end_matches('/');
        let name = target.rsplit('/').next().unwrap_or("output");
        let staging = staging_root.join(name);
        let result = async {
            std::fs::create_dir_all(&staging_root).map_err(|e| {
                TarnError::io("create folder", staging_root.display().to_string(), e)
            })?;
            let rows = self.write(session, frame, &staging).await?;
            let written = tarn_fs::upload::upload(&staging, target).await?;
            if self.existing == ExistingFiles::Replace {
                tarn_fs::upload::delete_others(target, &written).await?;
            }
            Ok(rows)
        }
        .await;
        let _ = tarn_fs::remove_tree(&staging_root);
        result
    }

    /// Parses DuckDB's COPY syntax.
    pub fn parse(statement: &str) -> Result<Self> {
        let tokens: Vec<Token> = super::tokenize(statement)?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        let syntax = |what: &str| TarnError::Parse(format!("COPY: {what}"));
        let mut pos = 0;
        if !tokens.first().is_some_and(|t| is_keyword(t, "COPY")) {
            return Err(syntax("expected COPY"));
        }
        pos += 1;
        let query = if tokens.get(pos) == Some(&Token::LParen) {
            let close =
                matching_paren(&tokens, pos).ok_or_else(|| syntax("unbalanced parentheses"))?;
            let query = join_tokens(&tokens[pos + 1..close]);
            pos = close + 1;
            query
        } else {
            let start = pos;
            while pos < tokens.len() && !tokens.get(pos).is_some_and(|t| is_keyword(t, "TO")) {
                pos += 1;
            }
            if start == pos {
                return Err(syntax("expected a table or a (query) after COPY"));
            }
            format!("SELECT * FROM {}", join_tokens(&tokens[start..pos]))
        };
        if !tokens.get(pos).is_some_and(|t| is_keyword(t, "TO")) {
            return Err(syntax("only COPY ... TO is supported; expected TO"));
        }
        pos += 1;
        let target = match tokens.get(pos) {
            Some(Token::SingleQuotedString(path)) => path.clone(),
            _ => return Err(syntax("expected a quoted path after TO")),
        };
        pos += 1;
        if tokens.get(pos).is_some_and(|t| is_keyword(t, "WITH")) {
            pos += 1;
        }
        let mut options = Vec::new();
        if tokens.get(pos) == Some(&Token::LParen) {
            let close =
                matching_paren(&tokens, pos).ok_or_else(|| syntax("unbalanced option list"))?;
            options = split_options(&tokens[pos + 1..close]);
            pos = close + 1;
        }
        if pos != tokens.len() {
            return Err(syntax(&format!(
                "unexpected '{}' after the options",
                tokens[pos]
            )));
        }

        let mut copy = CopyStatement {
            query,
            format: FileFormatKind::from_path(&target).unwrap_or(FileFormatKind::Csv),
            target,
            partition_by: vec![],
            compression: None,
            compression_level: None,
            row_group_size: None,
            row_groups_per_file: None,
            file_size_bytes: None,
            file_pattern: FilePattern::default(),
            per_thread: false,
            kv_metadata: vec![],
            existing: ExistingFiles::Refuse,
            header: true,
            delimiter: b',',
            quote: b'"',
            escape: None,
            null_text: None,
            date_format: None,
            timestamp_format: None,
            json_array: false,
        };
        let mut pattern = None;
        for option in options {
            let Some(Token::Word(name)) = option.first() else {
                return Err(syntax("each option starts with its name"));
            };
            let name = name.value.to_ascii_uppercase();
            let values = option_values(&option[1..]);
            let single = || -> Result<String> {
                match values.as_slice() {
                    [value] => Ok(value.clone()),
                    _ => Err(syntax(&format!("option {name} takes one value"))),
                }
            };
            match name.as_str() {
                "FORMAT" => {
                    copy.format = match single()?.to_ascii_lowercase().as_str() {
                        "parquet" => FileFormatKind::Parquet,
                        "csv" => FileFormatKind::Csv,
                        "json" | "ndjson" => FileFormatKind::Json,
                        other => {
                            return Err(TarnError::Invalid(format!(
                                "COPY: unknown FORMAT '{other}'"
                            )));
                        }
                    }
                }
                "PARTITION_BY" => copy.partition_by = values,
                "COMPRESSION" | "CODEC" => copy.compression = Some(single()?.to_ascii_lowercase()),
                "COMPRESSION_LEVEL" => {
                    copy.compression_level = Some(
                        single()?
                            .parse()
                            .map_err(|_| syntax("COMPRESSION_LEVEL takes a number"))?,
                    )
                }
                "ROW_GROUP_SIZE" => {
                    copy.row_group_size = Some(
                        single()?
                            .parse()
                            .map_err(|_| syntax("ROW_GROUP_SIZE takes a number"))?,
                    )
                }
                "ROW_GROUPS_PER_FILE" => {
                    copy.row_groups_per_file = Some(
                        single()?
                            .parse()
                            .ok()
                            .filter(|&n: &usize| n > 0)
                            .ok_or_else(|| syntax("ROW_GROUPS_PER_FILE takes a number from 1"))?,
                    )
                }
                "PER_THREAD_OUTPUT" => {
                    copy.per_thread = values.is_empty() || single()?.eq_ignore_ascii_case("true")
                }
                "FILE_SIZE_BYTES" => {
                    let size = crate::config::parse_size(&single()?)
                        .map_err(|reason| syntax(&format!("FILE_SIZE_BYTES: {reason}")))?;
                    copy.file_size_bytes = Some(
                        size.filter(|&bytes| bytes > 0)
                            .ok_or_else(|| syntax("FILE_SIZE_BYTES takes a size above 0"))?,
                    );
                }
                "FILENAME_PATTERN" => pattern = Some(FilePattern::parse(&single()?)?),
                "KV_METADATA" => copy.kv_metadata = key_value_pairs(&option[1..])?,
                "OVERWRITE" | "OVERWRITE_OR_IGNORE" | "APPEND" => {
                    let on = values.is_empty() || single()?.eq_ignore_ascii_case("true");
                    let wanted = match name.as_str() {
                        "APPEND" => ExistingFiles::Add,
                        _ => ExistingFiles::Replace,
                    };
                    if on && copy.existing != ExistingFiles::Refuse && copy.existing != wanted {
                        return Err(syntax("OVERWRITE and APPEND cannot both be given"));
                    }
                    if on {
                        copy.existing = wanted;
                    }
                }
                "HEADER" => {
                    copy.header = values.is_empty() || single()?.eq_ignore_ascii_case("true")
                }
                "DELIMITER" | "DELIM" | "SEP" => {
                    let value = single()?;
                    copy.delimiter = match value.as_bytes() {
                        [byte] => *byte,
                        _ if value == "\\t" => b'\t',
                        _ => return Err(syntax("DELIMITER takes one character")),
                    }
                }
                "QUOTE" => copy.quote = one_character("QUOTE", &single()?)?,
                "ESCAPE" => copy.escape = Some(one_character("ESCAPE", &single()?)?),
                "NULLSTR" | "NULL" => copy.null_text = Some(single()?),
                "DATEFORMAT" | "DATE_FORMAT" => copy.date_format = Some(single()?),
                "TIMESTAMPFORMAT" | "TIMESTAMP_FORMAT" => copy.timestamp_format = Some(single()?),
                "ARRAY" => {
                    copy.json_array = values.is_empty() || single()?.eq_ignore_ascii_case("true")
                }
                other => return Err(TarnError::Invalid(format!("COPY: unknown option {other}"))),
            }
        }
        let csv_only = copy.escape.is_some()
            || copy.null_text.is_some()
            || copy.date_format.is_some()
            || copy.timestamp_format.is_some()
            || copy.quote != b'"';
        if csv_only && copy.format != FileFormatKind::Csv {
            return Err(TarnError::Invalid(
                "COPY: QUOTE, ESCAPE, NULLSTR, DATEFORMAT and TIMESTAMPFORMAT are CSV options"
                    .into(),
            ));
        }
        if copy.json_array && copy.format != FileFormatKind::Json {
            return Err(TarnError::Invalid("COPY: ARRAY is a JSON option".into()));
        }
        if !copy.kv_metadata.is_empty() && copy.format != FileFormatKind::Parquet {
            return Err(TarnError::Invalid(
                "COPY: KV_METADATA is written into Parquet files only".into(),
            ));
        }
        // Appended files need names no earlier run gave: a UUID in each.
        copy.file_pattern = match (pattern, copy.existing) {
            (None, ExistingFiles::Add) => FilePattern::unique(),
            (Some(pattern), ExistingFiles::Add) if !pattern.is_unique() => {
                return Err(TarnError::Invalid(
                    "COPY: APPEND needs a {uuid} in FILENAME_PATTERN, so that no file is \
                     written over"
                        .into(),
                ));
            }
            (pattern, _) => pattern.unwrap_or_default(),
        };
        if copy.row_group_size == Some(0) {
            return Err(TarnError::Invalid(
                "COPY: ROW_GROUP_SIZE must be at least 1".into(),
            ));
        }
        if copy.file_size_bytes.is_some()
            && (copy.format != FileFormatKind::Parquet || copy.per_thread)
        {
            return Err(TarnError::Invalid(
                "COPY: FILE_SIZE_BYTES writes Parquet files one after another; it takes no \
                 PER_THREAD_OUTPUT, and other formats take ROW_GROUPS_PER_FILE"
                    .into(),
            ));
        }
        Ok(copy)
    }

    /// Whether the output is a folder of files (partitions, shards, a file per thread, files
    /// added to a folder) rather than one file.
    fn writes_folder(&self) -> bool {
        !self.partition_by.is_empty()
            || self.existing == ExistingFiles::Add
            || self.target.ends_with('/')
            || self.per_thread
            || self.row_groups_per_file.is_some()
            || self.file_size_bytes.is_some()
    }

    /// Writes the rows under `staging` and returns how many were written.
    async fn write(
        &self,
        session: &SqlSession,
        frame: datafusion::prelude::DataFrame,
        staging: &Path,
    ) -> Result<u64> {
        let directory = self.writes_folder();
        let mut path = staging.display().to_string();
        if directory {
            path.push('/');
        }
        let rows = self.write_files(session, frame, &path, directory).await?;
        // The shard writer names its files (and folders) itself; named again, a pattern with a
        // UUID lost the files' numbers (`part_10_<uuid>` sorts before `part_2_<uuid>`).
        let named_by_datafusion = self.file_size_bytes.is_none();
        if directory && named_by_datafusion && staging.exists() {
            name_files(staging, &self.file_pattern)
                .map_err(|e| TarnError::io("name the files of", &self.target, e))?;
            if !self.partition_by.is_empty() {
                name_partition_folders(staging)
                    .map_err(|e| TarnError::io("name the folders of", &self.target, e))?;
            }
        }
        Ok(rows)
    }

    /// Writes the rows as DataFusion names the files (a folder's by `<random>_<n>`), or, for
    /// `FILE_SIZE_BYTES`, as shards named by the pattern; returns how many were written.
    async fn write_files(
        &self,
        session: &SqlSession,
        frame: datafusion::prelude::DataFrame,
        path: &str,
        directory: bool,
    ) -> Result<u64> {
        let staging = Path::new(path);
        let frame = self.with_file_limits(frame)?;
        let frame = self.partition_folder_names(frame)?;
        let options = DataFrameWriteOptions::new()
            .with_single_file_output(!directory)
            .with_partition_by(self.partition_by.clone());
        let table_options = session.context().state().default_table_options();
        let written = match self.format {
            FileFormatKind::Parquet => {
                let mut parquet = table_options.parquet.clone();
                parquet.global.compression = Some(self.parquet_compression()?);
                if let Some(rows) = self.row_group_size {
                    parquet.global.max_row_group_size = rows;
                }
                for (key, value) in &self.kv_metadata {
                    parquet
                        .key_value_metadata
                        .insert(key.clone(), Some(value.clone()));
                }
                if let Some(bytes) = self.file_size_bytes {
                    let limits = ShardLimits {
                        bytes,
                        row_groups: self.row_groups_per_file,
                    };
                    let rows = frame.execute_stream().await?;
                    let pattern = &self.file_pattern;
                    return match self.partition_by.is_empty() {
                        true => {
                            write_parquet_shards(rows, staging, &parquet, limits, pattern).await
                        }
                        false => {
                            let by = &self.partition_by;
                            write_partitioned_parquet_shards(
                                rows, staging, &parquet, limits, pattern, by,
                            )
                            .await
                        }
                    };
                }
                frame.write_parquet(path, options, Some(parquet)).await?
            }
            FileFormatKind::Csv => {
                let mut csv = table_options.csv.clone();
                csv.has_header = Some(self.header);
                csv.delimiter = self.delimiter;
                csv.quote = self.quote;
                csv.escape = self.escape;
                csv.null_value = self.null_text.clone();
                csv.date_format = self.date_format.clone();
                csv.timestamp_format = self.timestamp_format.clone();
                csv.compression = self.text_compression()?;
                csv.compression_level = self.compression_level;
                // A TIMESTAMPFORMAT is Arrow's writer's to apply, to the timestamps as they are.
                let formatted = self.timestamp_format.is_some();
                let spelled = |t: &DataType| {
                    respelled(t) && !(formatted && matches!(t, DataType::Timestamp(..)))
                };
                let frame = self.as_duckdb_text(frame, spelled)?;
                frame.write_csv(path, options, Some(csv)).await?
            }
            FileFormatKind::Json => {
                // Numbers, lists and structs are JSON's own; times and bytes are text.
                let as_text = |t: &DataType| respelled(t) && !t.is_floating() && !t.is_nested();
                let frame = self.as_duckdb_text(frame, as_text)?;
                let mut json = table_options.json.clone();
                json.compression = self.text_compression()?;
                json.compression_level = self.compression_level;
                if self.json_array
                    && (directory || json.compression != CompressionTypeVariant::UNCOMPRESSED)
                {
                    return Err(TarnError::Invalid(
                        "COPY: ARRAY writes one uncompressed JSON file; leave out PARTITION_BY, \
                         PER_THREAD_OUTPUT, ROW_GROUPS_PER_FILE and COMPRESSION"
                            .into(),
                    ));
                }
                let written = frame.write_json(path, options, Some(json)).await?;
                if self.json_array {
                    records_as_array(staging)
                        .map_err(|e| TarnError::io("write", &self.target, e))?;
                }
                written
            }
        };
        Ok(written
            .iter()
            .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
            .flat_map(|a| a.iter().flatten())
            .sum())
    }

    /// `frame` under the session's settings with DataFusion's limits on output files set for
    /// `ROW_GROUPS_PER_FILE` (files filled one after another up to that many rows) or
    /// `PER_THREAD_OUTPUT` (as many files as threads).
    fn with_file_limits(
        &self,
        frame: datafusion::prelude::DataFrame,
    ) -> Result<datafusion::prelude::DataFrame> {
        if self.row_groups_per_file.is_none() && !self.per_thread {
            return Ok(frame);
        }
        let (state, plan) = frame.into_parts();
        // The catalogs are shared with the session's state: a fresh default one would replace
        // its own.
        let mut config = state
            .config()
            .clone()
            .with_create_default_catalog_and_schema(false);
        let execution = &mut config.options_mut().execution;
        if let Some(groups) = self.row_groups_per_file {
            let group_rows = self.row_group_size.unwrap_or(
                state
                    .default_table_options()
                    .parquet
                    .global
                    .max_row_group_size,
            );
            execution.soft_max_rows_per_output_file =
                ConfigNonZeroUsize::try_new(groups.saturating_mul(group_rows).max(1))?;
            execution.minimum_parallel_output_files = ConfigNonZeroUsize::try_new(1)?;
        }
        if self.per_thread {
            execution.minimum_parallel_output_files =
                ConfigNonZeroUsize::try_new(execution.target_partitions.max(1))?;
        }
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .build();
        Ok(datafusion::prelude::DataFrame::new(state, plan))
    }

    /// `frame` with each column of a type `spelled` picks (but the partition columns, whose
    /// values name folders) as DuckDB's text, as DuckDB's CSV and JSON writers write it
    /// (Arrow's wrote `2024-01-02T03:04:05.500` and refused lists in CSV).
    fn as_duckdb_text(
        &self,
        frame: datafusion::prelude::DataFrame,
        spelled: impl Fn(&DataType) -> bool,
    ) -> Result<datafusion::prelude::DataFrame> {
        let text = Arc::new(ScalarUDF::from(DuckDbText::new()));
        select_each(frame, |column, field| {
            let name = field.name().clone();
            let kept = self.partition_by.contains(&name) || !spelled(field.data_type());
            Ok(match kept {
                true => Expr::Column(column),
                false => text.call(vec![Expr::Column(column)]).alias(name),
            })
        })
    }

    /// `frame` with each `PARTITION_BY` column as the text its folders are named by, as
    /// DuckDB names them: the value's text, `__HIVE_DEFAULT_PARTITION__` for NULL (which readers
    /// read back as NULL). DataFusion's writer names a folder by a value's bits whatever its
    /// validity, so a NULL date's rows landed under `d=1970-01-01` and a NULL text's under
    /// `s=`, read back as that date and as ''.
    fn partition_folder_names(
        &self,
        frame: datafusion::prelude::DataFrame,
    ) -> Result<datafusion::prelude::DataFrame> {
        if self.partition_by.is_empty() {
            return Ok(frame);
        }
        let text = Arc::new(ScalarUDF::from(DuckDbText::new()));
        select_each(frame, |column, field| {
            if !self.partition_by.contains(&column.name) {
                return Ok(Expr::Column(column));
            }
            let name = column.name.clone();
            let column = Expr::Column(column);
            let value = match respelled(field.data_type()) {
                true => text.call(vec![column.clone()]),
                false => cast(column.clone(), DataType::Utf8),
            };
            let folder = when(column.is_null(), lit(HIVE_DEFAULT_PARTITION)).otherwise(value)?;
            Ok(folder.alias(name))
        })
    }

    /// DuckDB's codec names in DataFusion's spelling; DuckDB's default is snappy.
    /// The compression of a CSV or JSON file: `COMPRESSION`'s, or (without it, or with `auto`)
    /// the one the target's extension names (`.gz`, `.zst`, `.bz2`, `.xz`), as DuckDB picks it.
    fn text_compression(&self) -> Result<CompressionTypeVariant> {
        let named = match self.compression.as_deref() {
            None | Some("auto") => {
                let extension = self.target.rsplit('.').next().unwrap_or_default();
                match extension.to_ascii_lowercase().as_str() {
                    "gz" => "gzip",
                    "zst" => "zstd",
                    "bz2" => "bzip2",
                    "xz" => "xz",
                    _ => "uncompressed",
                }
            }
            Some(named) => named,
        };
        Ok(match named {
            "gzip" => CompressionTypeVariant::GZIP,
            "zstd" => CompressionTypeVariant::ZSTD,
            "bzip2" => CompressionTypeVariant::BZIP2,
            "xz" => CompressionTypeVariant::XZ,
            "uncompressed" | "none" => CompressionTypeVariant::UNCOMPRESSED,
            other => {
                return Err(TarnError::Invalid(format!(
                    "COPY: COMPRESSION '{other}' is not one for CSV or JSON files (gzip, zstd, \
                     bzip2, xz, none)"
                )));
            }
        })
    }

    fn parquet_compression(&self) -> Result<String> {
        let codec = self.compression.as_deref().unwrap_or("snappy");
        let level = self.compression_level;
        Ok(match codec {
            "snappy" => "snappy".into(),
            "zstd" => format!("zstd({})", level.unwrap_or(3)),
            "gzip" => format!("gzip({})", level.unwrap_or(6)),
            "brotli" => format!("brotli({})", level.unwrap_or(1)),
            "lz4" | "lz4_raw" => "lz4_raw".into(),
            "uncompressed" | "none" => "uncompressed".into(),
            other => {
                return Err(TarnError::Invalid(format!(
                    "COPY: unknown COMPRESSION '{other}'"
                )));
            }
        })
    }
}

/// Rewrites the file of one JSON record per line at `path` as one array of them, laid out as
/// DuckDB writes `ARRAY true`: `[`, a record per line after a tab, `]`. Streamed line by line.
fn records_as_array(path: &Path) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, BufWriter, Write};
    let lines = BufReader::new(std::fs::File::open(path)?).lines();
    let array_path = path.with_extension("array");
    let mut out = BufWriter::new(std::fs::File::create(&array_path)?);
    out.write_all(b"[\n\t")?;
    for (at, line) in lines.enumerate() {
        if at > 0 {
            out.write_all(b",\n\t")?;
        }
        out.write_all(line?.as_bytes())?;
    }
    out.write_all(b"\n]\n")?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(array_path, path)
}

/// The one byte a CSV character option (`QUOTE`, `ESCAPE`) takes.
fn one_character(option: &str, value: &str) -> Result<u8> {
    match value.as_bytes() {
        [byte] => Ok(*byte),
        _ => Err(TarnError::Parse(format!(
            "COPY: {option} takes one character, not '{value}'"
        ))),
    }
}

/// Moves the finished staging output to the target; an old target is moved aside first and
/// deleted only once the new one is in place (and put back if that move fails).
/// A hidden path beside `target` to write its new content under (its folder made if need be),
/// unique to this write.
pub(super) fn staging_beside(target: &Path) -> Result<PathBuf> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent)
        .map_err(|e| TarnError::io("create folder", parent.display().to_string(), e))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            TarnError::Invalid(format!(
                "'{}' is not a file or folder name",
                target.display()
            ))
        })?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    Ok(parent.join(format!(".{name}.tarn-staging-{token}")))
}

/// Renames the complete `staging` (from [`staging_beside`]) into place as `target`; what
/// `target` held is set aside first and removed once the new content is in place, or put back
/// if it cannot be.
pub(super) fn publish_staged(staging: &Path, target: &Path) -> std::io::Result<()> {
    let mut aside = staging.as_os_str().to_owned();
    aside.push("-old");
    let aside = Path::new(&aside);
    let had_old = target.exists();
    if had_old {
        std::fs::rename(target, aside)?;
    }
    if let Err(err) = std::fs::rename(staging, target) {
        if had_old {
            let _ = std::fs::rename(aside, target);
        }
        let _ = tarn_fs::remove_tree(staging);
        return Err(err);
    }
    if had_old {
        let _ = tarn_fs::remove_tree(aside);
    }
    Ok(())
}

pub(super) fn matching_paren(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

pub(super) fn join_tokens(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(super::tokens::token_text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits an option list at top-level commas.
pub(super) fn split_options(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut options = vec![];
    let mut current = vec![];
    let mut depth = 0usize;
    for token in tokens {
        match token {
            Token::Comma if depth == 0 => options.push(std::mem::take(&mut current)),
            Token::LParen | Token::LBrace => {
                depth += 1;
                current.push(token.clone());
            }
            Token::RParen | Token::RBrace => {
                depth = depth.saturating_sub(1);
                current.push(token.clone());
            }
            _ => current.push(token.clone()),
        }
    }
    if !current.is_empty() {
        options.push(current);
    }
    options
}

/// `{key: value, ...}`, DuckDB's struct literal for KV_METADATA: each key a name or a string,
/// each value a constant, kept as its text.
fn key_value_pairs(tokens: &[Token]) -> Result<Vec<(String, String)>> {
    let malformed = || TarnError::Parse("COPY: KV_METADATA takes {key: 'value', ...}".into());
    let [Token::LBrace, entries @ .., Token::RBrace] = tokens else {
        return Err(malformed());
    };
    let text = |token: &Token| match token {
        Token::Word(w) => Some(w.value.clone()),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.clone()),
        Token::Number(n, _) => Some(n.clone()),
        _ => None,
    };
    entries
        .split(|t| *t == Token::Comma)
        .map(|entry| match entry {
            [key, Token::Colon, value] => text(key).zip(text(value)).ok_or_else(malformed),
            _ => Err(malformed()),
        })
        .collect()
}

/// An option's values: words, strings and numbers, with parentheses and commas dropped.
pub(super) fn option_values(tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.value.clone()),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.clone()),
            Token::Number(n, _) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// `frame` with each column as what `each` makes of it and its field.
fn select_each(
    frame: datafusion::prelude::DataFrame,
    each: impl Fn(datafusion::common::Column, &Field) -> Result<Expr>,
) -> Result<datafusion::prelude::DataFrame> {
    let columns = frame
        .schema()
        .columns()
        .into_iter()
        .zip(frame.schema().fields())
        .map(|(column, field)| each(column, field))
        .collect::<Result<Vec<_>>>()?;
    Ok(frame.select(columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_duckdb_options() {
        let copy = CopyStatement::parse(
            "COPY (SELECT a, b FROM t WHERE x = ')') TO 'out' (FORMAT parquet, PARTITION_BY (a, b), COMPRESSION zstd, ROW_GROUP_SIZE 1000, OVERWRITE)",
        )
        .unwrap();
        assert_eq!(copy.query, "SELECT a , b FROM t WHERE x = ')'");
        assert_eq!(copy.target, "out");
        assert_eq!(copy.format, FileFormatKind::Parquet);
        assert_eq!(copy.partition_by, vec!["a", "b"]);
        assert_eq!(copy.parquet_compression().unwrap(), "zstd(3)");
        assert_eq!(copy.row_group_size, Some(1000));
        assert_eq!(copy.existing, ExistingFiles::Replace);
    }

    #[test]
    fn key_value_metadata_is_a_struct_of_constants() {
        let copy = CopyStatement::parse(
            "COPY t TO 'x.parquet' (KV_METADATA {origin: 'crawl-7', \"rows kept\": 0.5}, \
             ROW_GROUP_SIZE 10)",
        )
        .unwrap();
        assert_eq!(
            copy.kv_metadata,
            [
                ("origin".to_string(), "crawl-7".to_string()),
                ("rows kept".to_string(), "0.5".to_string())
            ]
        );
        assert_eq!(copy.row_group_size, Some(10));
        for bad in [
            "COPY t TO 'x.parquet' (KV_METADATA 'a')",
            "COPY t TO 'x.parquet' (KV_METADATA {a 'b'})",
            "COPY t TO 'x.csv' (KV_METADATA {a: 'b'})",
        ] {
            assert!(CopyStatement::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_source_and_format_from_extension() {
        let copy = CopyStatement::parse("COPY t TO 'x.csv' (HEADER false, DELIMITER '|')").unwrap();
        assert_eq!(copy.query, "SELECT * FROM t");
        assert_eq!(copy.format, FileFormatKind::Csv);
        assert!(!copy.header);
        assert_eq!(copy.delimiter, b'|');
        assert_eq!(copy.existing, ExistingFiles::Refuse);
    }

    #[test]
    fn errors_name_the_problem() {
        let err = CopyStatement::parse("COPY t TO 'x' (FORMAT avro)")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown FORMAT 'avro'"), "{err}");
        let err = CopyStatement::parse("COPY t FROM 'x'")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected TO"), "{err}");
    }
}
