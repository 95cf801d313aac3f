//! Files as tables: `FROM 'path'`, `read_parquet(...)`, `read_csv(...)`, `read_json(...)`.
//!
//! A [`ScanSpec`] is what a query said about some files (paths or globs, the format, options);
//! [`ScanSpec::resolve`] lists the files, detects the format and hive partitions, infers the schema
//! and returns a DataFusion table provider. Resolution is async and happens before planning, so
//! errors here name the path at fault instead of surfacing from inside the planner.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::config::TableOptions;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::{ViewTable, file_format::options::ReadOptions};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::cache::cache_manager::FileStatisticsCache;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{LogicalPlanBuilder, lit};
use datafusion::object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use datafusion::prelude::{
    CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionConfig, col,
};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tarn_fs::FsError;

use super::checked_reads::read_or_fail;
use super::csv_formats::TextFormats;
use super::types::sql_type_name;
use crate::error::{Result, TarnError};

/// The file formats a scan can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileFormatKind {
    Parquet,
    Csv,
    Json,
}

impl FileFormatKind {
    /// The format a file name implies, looking through compression suffixes.
    pub fn from_path(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        let name = COMPRESSIONS
            .iter()
            .find_map(|(suffix, _)| name.strip_suffix(&format!(".{suffix}")))
            .unwrap_or(&name);
        match name.rsplit('.').next()? {
            "parquet" | "parq" => Some(Self::Parquet),
            "csv" | "tsv" | "txt" => Some(Self::Csv),
            "json" | "jsonl" | "ndjson" => Some(Self::Json),
            _ => None,
        }
    }

    /// The name users see in errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Parquet => "Parquet",
            Self::Csv => "CSV",
            Self::Json => "JSON",
        }
    }
}

/// The suffixes of compressed CSV and JSON files, and the compression each names.
const COMPRESSIONS: [(&str, FileCompressionType); 4] = [
    ("gz", FileCompressionType::GZIP),
    ("zst", FileCompressionType::ZSTD),
    ("bz2", FileCompressionType::BZIP2),
    ("xz", FileCompressionType::XZ),
];

/// The compression suffix of a file's name (`gz` for `part.csv.gz`), if it has one.
fn compression_suffix(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    COMPRESSIONS
        .iter()
        .map(|(suffix, _)| *suffix)
        .find(|suffix| name.ends_with(&format!(".{suffix}")))
}

/// Options of the `read_*` functions, with DuckDB's names and defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanOptions {
    /// `None` detects `key=value` folders automatically, as DuckDB does.
    pub hive_partitioning: Option<bool>,
    /// Types for some partition columns by name (`hive_types`), in place of the detected ones.
    pub hive_types: Vec<(String, DataType)>,
    /// The other partition columns as VARCHAR (`hive_types_autocast => false`), rather than
    /// the type their values fit.
    pub hive_values_as_text: bool,
    /// Columns are always matched by name across files; the flag is accepted for compatibility.
    pub union_by_name: bool,
    /// Adds a `filename` column holding each row's source file.
    pub filename: bool,
    /// Parquet: adds a `file_row_number` column holding each row's 0-based place in its file
    /// (`file_row_number`), which keeps rows aligned with their files however the scan is
    /// split across threads.
    pub file_row_number: bool,
    /// CSV: whether the first line is a header (default true).
    pub header: Option<bool>,
    /// CSV: the field delimiter (default `,`).
    pub delim: Option<u8>,
    /// CSV/JSON: explicit column names and SQL types, in order; skips inference.
    pub columns: Option<Vec<(String, DataType)>>,
    /// CSV: the text that stands for NULL (`nullstr`), in place of an empty field.
    pub null_string: Option<String>,
    /// CSV: the quote, escape and comment characters.
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    pub comment: Option<u8>,
    /// CSV: every column as VARCHAR (`all_varchar`).
    pub all_varchar: bool,
    /// CSV/JSON: how many rows of each file type inference reads (`sample_size`, -1 for all);
    /// DataFusion's 1000 when not given.
    pub sample_size: Option<usize>,
    /// CSV: a row with a field its column's type cannot read is left out (`ignore_errors`),
    /// as in DuckDB, rather than failing the query.
    pub ignore_errors: bool,
    /// CSV/JSON: types for some columns by name (`types`, `dtypes`), the rest inferred.
    pub types: Vec<(String, DataType)>,
    /// CSV: the columns' names in order (`names`), in place of the header's.
    pub names: Vec<String>,
    /// CSV: how dates and timestamps are written (`dateformat`, `timestampformat`).
    pub formats: TextFormats,
    /// JSON: one array of records (`format = 'array'`) or a record per line
    /// (`'newline_delimited'`); `None` tells from the file.
    pub json_array: Option<bool>,
}

impl ScanOptions {
    /// The detected partition columns typed: as `hive_types` gives (each value checked to be
    /// one of the type), as VARCHAR without `hive_types_autocast`, else by their values. A type
    /// for a column that is not a partition is refused, as in DuckDB.
    fn typed_partitions(
        &self,
        detected: Vec<(String, Vec<String>)>,
    ) -> Result<Vec<(String, DataType)>> {
        if let Some((unknown, _)) = self
            .hive_types
            .iter()
            .find(|(name, _)| !detected.iter().any(|(column, _)| column == name))
        {
            let partitions: Vec<&str> = detected.iter().map(|(c, _)| c.as_str()).collect();
            return Err(TarnError::Invalid(format!(
                "hive_types: '{unknown}' is not a partition of the files (their folders name: {})",
                partitions.join(", ")
            )));
        }
        detected
            .into_iter()
            .map(|(name, values)| {
                let given = self.hive_types.iter().find(|(column, _)| *column == name);
                let data_type = match given {
                    Some((_, given)) => {
                        for value in values.iter().filter(|v| *v != HIVE_DEFAULT_PARTITION) {
                            datafusion::common::ScalarValue::try_from_string(value.clone(), given)
                                .map_err(|_| {
                                    TarnError::Invalid(format!(
                                        "Unable to cast '{value}' (from hive partition column \
                                     '{name}') to {}",
                                        super::types::sql_type_name(given)
                                    ))
                                })?;
                        }
                        given.clone()
                    }
                    None if self.hive_values_as_text => DataType::Utf8,
                    None => infer_partition_type(&values),
                };
                Ok((name, data_type))
            })
            .collect()
    }

    /// The columns whose type the options give (`types`, `columns`), which no format retypes.
    fn typed_columns(&self) -> Vec<String> {
        let explicit = self.columns.iter().flatten().map(|(name, _)| name.clone());
        let typed = self.types.iter().map(|(name, _)| name.clone());
        explicit.chain(typed).collect()
    }

    /// An inferred schema with the names and types the options give: DuckDB's `column0`,
    /// `column1`, ... for a CSV file without a header (`header`, as given or sniffed;
    /// DataFusion's are `column_1`, ...), then `names` in order, `types` by name, and VARCHAR
    /// for all with `all_varchar`. The CSV reader takes a file's columns by position, so a new
    /// name or type is read as such.
    fn adjusted(
        &self,
        schema: SchemaRef,
        format: FileFormatKind,
        header: Option<bool>,
    ) -> Result<SchemaRef> {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let csv = format == FileFormatKind::Csv;
        // Text read as a time is a TIMESTAMP (microseconds), as DuckDB's sniffer types it; the
        // CSV reader's inference picks seconds or milliseconds by the digits it saw.
        if matches!(format, FileFormatKind::Csv | FileFormatKind::Json) {
            for field in &mut fields {
                if let DataType::Timestamp(TimeUnit::Second | TimeUnit::Millisecond, zone) =
                    field.data_type()
                {
                    let micros = DataType::Timestamp(TimeUnit::Microsecond, zone.clone());
                    *field = field.clone().with_data_type(micros);
                }
            }
        }
        if csv && header == Some(false) {
            for (i, field) in fields.iter_mut().enumerate() {
                *field = field.clone().with_name(format!("column{i}"));
            }
        }
        if self.names.len() > fields.len() {
            return Err(TarnError::Invalid(format!(
                "read_csv(): {} names for {} columns",
                self.names.len(),
                fields.len()
            )));
        }
        for (field, name) in fields.iter_mut().zip(&self.names) {
            *field = field.clone().with_name(name);
        }
        for (name, data_type) in &self.types {
            let field = fields
                .iter_mut()
                .find(|f| f.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    TarnError::Invalid(format!("types: the files have no column {name}"))
                })?;
            *field = field.clone().with_data_type(data_type.clone());
        }
        if csv && self.all_varchar {
            for field in &mut fields {
                *field = field.clone().with_data_type(DataType::Utf8);
            }
        }
        Ok(Arc::new(Schema::new_with_metadata(
            fields,
            schema.metadata().clone(),
        )))
    }
}

/// `schema` with every column as text.
fn as_text(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(DataType::Utf8))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `table` with a `file_row_number` column after its first `file_columns` (the file's own), as
/// DuckDB places it: before `filename` and the partition columns. DataFusion's
/// `file_row_index()` is answered by the Parquet scan itself, from the row group offsets.
fn with_file_row_numbers(
    table: Arc<dyn TableProvider>,
    file_columns: usize,
) -> Result<Arc<dyn TableProvider>> {
    let column = |field: &Arc<Field>| col(format!("\"{}\"", field.name().replace('"', "\"\"")));
    let fields = table.schema().fields().clone();
    let mut projection: Vec<_> = fields[..file_columns].iter().map(column).collect();
    projection.push(
        datafusion::functions::core::file_row_index()
            .call(vec![])
            .alias("file_row_number"),
    );
    projection.extend(fields[file_columns..].iter().map(column));
    let plan = LogicalPlanBuilder::scan("file", provider_as_source(table), None)?
        .project(projection)?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// A view over `table` (its file columns read as text) in which each file column of `typed`
/// is NULL where it holds `null_text` and of its type elsewhere, read in its format where
/// `formats` has one for the type; other columns (partitions, `filename`) as they are. With
/// `skip_unreadable`, a row with a field its type cannot read is left out.
fn typed_over(
    table: Arc<dyn TableProvider>,
    typed: &SchemaRef,
    null_text: Option<&str>,
    skip_unreadable: bool,
    formats: Option<&TextFormats>,
    files: &str,
) -> Result<Arc<dyn TableProvider>> {
    use datafusion::logical_expr::{Expr, try_cast, when};
    let mut projection = Vec::with_capacity(table.schema().fields().len());
    let mut readable: Option<Expr> = None;
    for field in table.schema().fields() {
        let column = col(format!("\"{}\"", field.name().replace('"', "\"\"")));
        let Ok(target) = typed.field_with_name(field.name()) else {
            projection.push(column);
            continue;
        };
        let target = target.data_type().clone();
        let format = formats.and_then(|f| f.format_of(&target));
        let lenient = formats
            .and_then(|f| f.read(column.clone(), &target))
            .unwrap_or_else(|| try_cast(column.clone(), target.clone()));
        let mut value = match skip_unreadable || target == DataType::Utf8 {
            true => lenient,
            false => {
                let reading = match format {
                    Some(format) => format!("{} in the format '{format}'", sql_type_name(&target)),
                    None => sql_type_name(&target),
                };
                let place = format!("column {} of {files}", field.name());
                read_or_fail(column.clone(), lenient, place, reading)
            }
        };
        let mut read = column.clone().is_null().or(value.clone().is_not_null());
        if let Some(text) = null_text {
            let null = datafusion::common::ScalarValue::try_from(&target)?;
            value = when(column.clone().eq(lit(text)), lit(null)).otherwise(value)?;
            read = read.or(column.eq(lit(text)));
        }
        if skip_unreadable && target != DataType::Utf8 {
            readable = Some(match readable {
                Some(earlier) => earlier.and(read),
                None => read,
            });
        }
        projection.push(value.alias(field.name()));
    }
    let mut plan = LogicalPlanBuilder::scan("file", provider_as_source(table), None)?;
    if let Some(readable) = readable {
        plan = plan.filter(readable)?;
    }
    let plan = plan.project(projection)?.build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// The first bytes of the first file listed, for telling its dialect (see `sniff`), and
/// whether they are the whole file.
async fn first_bytes(state: &SessionState, files: &[ListedPath]) -> Result<(bytes::Bytes, bool)> {
    const SAMPLE: u64 = 64 * 1024;
    let ListedPath {
        url, files: listed, ..
    } = &files[0];
    let Some(meta) = listed.iter().find(|meta| meta.size > 0) else {
        return Ok((bytes::Bytes::new(), true));
    };
    let store = state.runtime_env().object_store(url)?;
    let end = meta.size.min(SAMPLE);
    let bytes = store
        .get_range(&meta.location, 0..end)
        .await
        .map_err(|e| TarnError::DataFusion(e.into()))?;
    Ok((bytes, end == meta.size))
}

/// A file format and the options that make it, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormatOptions {
    pub kind: FileFormatKind,
    /// CSV: whether the first line is a header (default true).
    pub header: Option<bool>,
    /// CSV: the field delimiter (default `,`).
    pub delim: Option<u8>,
    #[serde(default)]
    pub quote: Option<u8>,
    #[serde(default)]
    pub escape: Option<u8>,
    #[serde(default)]
    pub comment: Option<u8>,
    /// JSON: one array of records rather than a record per line.
    #[serde(default)]
    pub json_array: bool,
    /// CSV: the text that stands for NULL while inferring types (reading takes the columns as
    /// text, see [`ScanSpec::resolve`]).
    #[serde(default)]
    pub null_string: Option<String>,
    /// CSV and JSON: the compression suffix of the files (`gz`, `zst`, `bz2`, `xz`), which
    /// they are read through, as DuckDB reads `corpus.jsonl.gz`.
    #[serde(default)]
    pub compression: Option<String>,
    /// CSV and JSON: how many rows of each file type inference reads ([`ScanOptions`]).
    #[serde(default)]
    pub sample_size: Option<usize>,
}

impl FormatOptions {
    /// How a listing reads files of this format, with the session's defaults for the rest.
    pub fn listing_options(
        &self,
        config: &SessionConfig,
        table_options: &TableOptions,
    ) -> ListingOptions {
        match self.kind {
            FileFormatKind::Parquet => {
                ParquetReadOptions::default().to_listing_options(config, table_options.clone())
            }
            FileFormatKind::Csv => {
                let mut read = CsvReadOptions::new()
                    .has_header(self.header.unwrap_or(true))
                    .delimiter(self.delim.unwrap_or(b','))
                    .quote(self.quote.unwrap_or(b'"'));
                read.escape = self.escape;
                read.comment = self.comment;
                read.file_compression_type = self.file_compression();
                read.file_extension = "";
                if let Some(rows) = self.sample_size {
                    read.schema_infer_max_records = rows;
                }
                read.null_regex = self
                    .null_string
                    .as_ref()
                    .map(|text| format!("^{}$", regex::escape(text)));
                read.to_listing_options(config, table_options.clone())
            }
            FileFormatKind::Json => {
                let defaults = JsonReadOptions::default();
                let read = JsonReadOptions {
                    file_extension: "",
                    newline_delimited: !self.json_array,
                    file_compression_type: self.file_compression(),
                    schema_infer_max_records: self
                        .sample_size
                        .unwrap_or(defaults.schema_infer_max_records),
                    ..defaults
                };
                read.to_listing_options(config, table_options.clone())
            }
        }
    }

    /// The compression [`Self::compression`] names.
    fn file_compression(&self) -> FileCompressionType {
        COMPRESSIONS
            .iter()
            .find(|(suffix, _)| self.compression.as_deref() == Some(*suffix))
            .map_or(FileCompressionType::UNCOMPRESSED, |(_, compression)| {
                *compression
            })
    }

    /// The format itself, under a session's settings.
    pub fn file_format(&self, config: &SessionConfig) -> Result<Arc<dyn FileFormat>> {
        let table_options = TableOptions::default_from_session_config(config.options());
        Ok(self.listing_options(config, &table_options).format)
    }
}

/// The files a scan names, grouped by the path that listed them, with how to read them.
pub struct ResolvedFiles {
    pub files: Vec<ListedPath>,
    /// Whether a glob matched fewer files than DataFusion's listing of its URL finds (see
    /// [`Listed::narrowed`]): a table over the URLs would read too many.
    pub narrowed: bool,
    /// The format and its options, the partition columns and the file extension.
    pub options: ListingOptions,
    /// How the format was chosen, to make it again elsewhere (a cluster's executor).
    pub reading: FormatOptions,
    pub schema: SchemaRef,
    /// The partition columns with a NULL folder (`__HIVE_DEFAULT_PARTITION__`), and their
    /// types: the listing reads them as text, which a view over it types.
    pub null_partitions: Vec<(String, DataType)>,
}

/// One scan of files named in a query.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSpec {
    /// Paths, globs or folders; local or URLs of registered object stores.
    pub paths: Vec<String>,
    /// `None` detects the format from the file names.
    pub format: Option<FileFormatKind>,
    pub options: ScanOptions,
}

impl ScanSpec {
    /// Lists the files, works out format, partitions and schema, and builds the table.
    pub async fn resolve(&self, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
        let ResolvedFiles {
            files,
            narrowed,
            options,
            reading,
            schema,
            null_partitions,
        } = self.resolve_files(state).await?;
        // DataFusion's CSV reader does not take a NULL text (it infers with it), nor skip a
        // row it cannot read, nor read a list, struct or map (`types => {'tags': 'VARCHAR[]'}`),
        // so for those the columns are read as text and typed over the scan.
        let csv = reading.kind == FileFormatKind::Csv;
        let null_string = self.options.null_string.as_deref().filter(|_| csv);
        let ignore_errors = csv && self.options.ignore_errors;
        let formats = Some(&self.options.formats).filter(|f| csv && !f.is_empty());
        let nested = csv && schema.fields().iter().any(|f| f.data_type().is_nested());
        let retyped = null_string.is_some() || ignore_errors || formats.is_some() || nested;
        let scanned = match retyped {
            true => as_text(&schema),
            false => schema.clone(),
        };
        // DataFusion reads a listing's files in name order, and a file two paths name once;
        // files named out of that order (`read_parquet(['b.parquet', 'a.parquet'])`) or more
        // than once (`['a.parquet', 'a.parquet']`) are read one by one, in the order given, as
        // DuckDB reads them.
        let locations: Vec<_> = files
            .iter()
            .flat_map(|path| path.files.iter().map(|meta| &meta.location))
            .collect();
        let out_of_name_order = !locations.is_sorted_by(|a, b| a < b);
        // The statistics cache lets the join-order rule's row counts and physical planning
        // share one read of each file's footer.
        let statistics = state.runtime_env().cache_manager.get_file_statistic_cache();
        let keyed_urls = files.iter().any(|path| {
            let own = url_pairs(&path.url);
            let partitions = &options.table_partition_cols;
            partitions
                .iter()
                .any(|(name, _)| own.iter().any(|(key, _)| key == name))
        });
        let table: Arc<dyn TableProvider> =
            if self.options.filename || narrowed || out_of_name_order {
                self.file_by_file(&options, scanned, &files, self.options.filename)?
            } else if keyed_urls {
                url_by_url(&options, scanned, &files, statistics)?
            } else {
                let urls = files.iter().map(|path| path.url.clone()).collect();
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(options)
                    .with_schema(scanned);
                Arc::new(ListingTable::try_new(config)?.with_cache(statistics))
            };
        let table = match self.options.file_row_number {
            true => with_file_row_numbers(table, schema.fields().len())?,
            false => table,
        };
        let named: Vec<String> = self.paths.iter().map(|p| format!("'{p}'")).collect();
        let named = named.join(", ");
        let table = match retyped {
            true => {
                let schema = match formats {
                    Some(formats) => {
                        formats
                            .typed_schema(&schema, &table, &self.options.typed_columns(), state)
                            .await?
                    }
                    None => schema,
                };
                typed_over(table, &schema, null_string, ignore_errors, formats, &named)?
            }
            false => table,
        };
        match null_partitions.is_empty() {
            true => Ok(table),
            false => {
                let typed = Arc::new(Schema::new(
                    null_partitions
                        .into_iter()
                        .map(|(name, data_type)| Field::new(name, data_type, true))
                        .collect::<Vec<_>>(),
                ));
                let null = Some(HIVE_DEFAULT_PARTITION);
                typed_over(table, &typed, null, false, None, &named)
            }
        }
    }

    /// Lists the files and works out their format, partition columns and schema.
    pub async fn resolve_files(&self, state: &SessionState) -> Result<ResolvedFiles> {
        let Listed { files, narrowed } = list_paths(state, &self.paths).await?;
        let first_file = files[0].files[0].location.to_string();
        let format = match self.format {
            Some(format) => format,
            None => FileFormatKind::from_path(&first_file).ok_or_else(|| {
                TarnError::Invalid(format!(
                    "cannot tell the format of '{first_file}' from its name; use read_parquet, read_csv or read_json"
                ))
            })?,
        };
        let extension = file_extension(&first_file, &self.paths[0]);
        let detected = match self.options.hive_partitioning {
            Some(false) => vec![],
            _ => hive_partitions(&files),
        };
        let with_null: Vec<String> = detected
            .iter()
            .filter(|(_, values)| values.iter().any(|v| v == HIVE_DEFAULT_PARTITION))
            .map(|(name, _)| name.clone())
            .collect();
        let typed = self.options.typed_partitions(detected)?;
        // DataFusion parses a folder's value as the column's type, and the NULL folder is no
        // value of it: such a column is listed as text.
        let partition_cols: Vec<(String, DataType)> = typed
            .iter()
            .map(|(name, data_type)| match with_null.contains(name) {
                true => (name.clone(), DataType::Utf8),
                false => (name.clone(), data_type.clone()),
            })
            .collect();
        let null_partitions = typed
            .into_iter()
            .filter(|(name, _)| with_null.contains(name))
            .collect();
        // A compressed file is not sniffed: its first bytes are the compressor's. It is read as
        // comma-separated, or as a record per line.
        let compression =
            compression_suffix(&first_file).filter(|_| format != FileFormatKind::Parquet);
        let sniffs_header = self.options.header.is_none() && self.options.columns.is_none();
        let sample = match (format, self.options.delim, self.options.json_array) {
            _ if compression.is_some() => None,
            (FileFormatKind::Csv, None, _) | (FileFormatKind::Json, _, None) => {
                Some(first_bytes(state, &files).await?)
            }
            (FileFormatKind::Csv, Some(_), _) if sniffs_header => {
                Some(first_bytes(state, &files).await?)
            }
            _ => None,
        };
        let sampled = sample
            .as_ref()
            .map(|(bytes, whole)| (bytes.as_ref(), *whole));
        let delim = match (format, sampled) {
            (FileFormatKind::Csv, Some((bytes, whole))) if self.options.delim.is_none() => {
                Some(super::sniff::delimiter(bytes, whole, self.options.comment))
            }
            _ => self.options.delim,
        };
        let header = match (format, sampled) {
            (FileFormatKind::Csv, Some((bytes, whole))) if sniffs_header => {
                let delimiter = delim.unwrap_or(b',');
                let header =
                    super::sniff::has_header(bytes, whole, delimiter, self.options.comment);
                Some(header)
            }
            _ => self.options.header,
        };
        let reading = FormatOptions {
            kind: format,
            header,
            delim,
            quote: self.options.quote,
            escape: self.options.escape,
            comment: self.options.comment,
            null_string: self.options.null_string.clone(),
            sample_size: self.options.sample_size,
            json_array: match (self.options.json_array, sampled) {
                (Some(array), _) => array,
                (None, Some((bytes, _))) => {
                    format == FileFormatKind::Json && super::sniff::is_json_array(bytes)
                }
                (None, None) => false,
            },
            compression: compression.map(str::to_string),
        };
        let options = reading
            .listing_options(state.config(), &state.default_table_options())
            .with_file_extension(extension)
            .with_table_partition_cols(partition_cols.clone());

        let schema = match &self.options.columns {
            Some(columns) => Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|(name, ty)| Field::new(name, ty.clone(), true))
                    .collect::<Vec<_>>(),
            )),
            None => {
                let inferred = self.infer_schema(state, &options, &files, format).await?;
                self.options.adjusted(inferred, format, reading.header)?
            }
        };

        Ok(ResolvedFiles {
            files,
            narrowed,
            options,
            reading,
            schema,
            null_partitions,
        })
    }

    /// Infers and merges the schema of the files each path listed (those with the format's
    /// extension, empty ones left out as DataFusion leaves them out); when that fails, finds the
    /// file at fault so the error can name it.
    async fn infer_schema(
        &self,
        state: &SessionState,
        options: &ListingOptions,
        files: &[ListedPath],
        format: FileFormatKind,
    ) -> Result<SchemaRef> {
        let mut schemas = Vec::with_capacity(files.len());
        for ListedPath {
            url, files: listed, ..
        } in files
        {
            let store = state.runtime_env().object_store(url)?;
            let readable: Vec<ObjectMeta> = listed
                .iter()
                .filter(|meta| {
                    meta.size > 0 && meta.location.as_ref().ends_with(&options.file_extension)
                })
                .cloned()
                .collect();
            if readable.is_empty() {
                return Err(TarnError::NoFiles(url.to_string()));
            }
            match options.format.infer_schema(state, &store, &readable).await {
                Ok(schema) => schemas.push(schema.as_ref().clone()),
                // DataFusion's merge refuses columns that differ in width; each file's schema
                // is read alone and widened below.
                Err(err) => match each_files_schema(state, options, &store, &readable).await {
                    Ok(each) => schemas.extend(each),
                    Err(_) => {
                        return Err(find_bad_file(state, options, files, format)
                            .await
                            .unwrap_or(TarnError::DataFusion(err)));
                    }
                },
            }
        }
        let merged = super::file_schemas::widened(schemas).map_err(|e| {
            TarnError::Invalid(format!(
                "files under '{}' have conflicting column types: {e}",
                self.paths.join("', '")
            ))
        })?;
        // A column can be missing from some files (it reads as NULL there), so every column
        // read from files is nullable, as in DuckDB.
        let fields: Vec<Field> = merged
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        Ok(Arc::new(Schema::new_with_metadata(
            fields,
            merged.metadata().clone(),
        )))
    }

    /// A union of one scan per file, with, when `filename`, its path in a `filename` column, and
    /// the file's hive partition values.
    fn file_by_file(
        &self,
        options: &ListingOptions,
        schema: SchemaRef,
        files: &[ListedPath],
        filename: bool,
    ) -> Result<Arc<dyn TableProvider>> {
        let mut scans = Vec::new();
        for path in files {
            let url = &path.url;
            for meta in &path.files {
                let file_url = ListingTableUrl::parse(format!(
                    "{}{}",
                    url.object_store().as_str(),
                    meta.location
                ))?;
                // Partition values come from the folder the user named, not the single file.
                let table = ListingTable::try_new(
                    ListingTableConfig::new(file_url)
                        .with_listing_options(options.clone().with_table_partition_cols(vec![]))
                        .with_schema(schema.clone()),
                )?;
                let mut projection: Vec<_> =
                    schema.fields().iter().map(|f| col(f.name())).collect();
                if filename {
                    projection.push(lit(path.display(meta)).alias("filename"));
                }
                projection.extend(partition_columns(
                    &partition_pairs(meta),
                    &options.table_partition_cols,
                ));
                scans.push(projected_scan(LISTED_ONCE, table, projection)?);
            }
        }
        view_of_union(scans)
    }
}

/// A union of one scan per listing URL, for URLs whose own path has `key=value` folders:
/// DataFusion reads the partitions below a URL, and those in it are given as the URL's values.
fn url_by_url(
    options: &ListingOptions,
    schema: SchemaRef,
    files: &[ListedPath],
    statistics: Option<Arc<FileStatisticsCache>>,
) -> Result<Arc<dyn TableProvider>> {
    let mut scans = Vec::new();
    for ListedPath { url, .. } in files {
        let own = url_pairs(url);
        let below = options
            .table_partition_cols
            .iter()
            .filter(|(name, _)| !own.iter().any(|(key, _)| key == name))
            .cloned()
            .collect();
        let config = ListingTableConfig::new(url.clone())
            .with_listing_options(options.clone().with_table_partition_cols(below))
            .with_schema(schema.clone());
        let table = ListingTable::try_new(config)?.with_cache(statistics.clone());
        let mut projection: Vec<_> = schema.fields().iter().map(|f| col(f.name())).collect();
        projection.extend(partition_columns(&own, &options.table_partition_cols));
        scans.push(projected_scan("file", table, projection)?);
    }
    view_of_union(scans)
}

/// The name of the scans of one file each that [`ScanSpec::resolve`] makes of files listed once,
/// when it was called (`filename = true`, files named out of order): a view over them is planned
/// again, which lists them again, by each statement that reads it (`super::views::relist`).
pub(super) const LISTED_ONCE: &str = "listed_once";

/// A scan of `table`, named `name`, that gives `projection`.
fn projected_scan(
    name: &str,
    table: ListingTable,
    projection: Vec<datafusion::prelude::Expr>,
) -> Result<LogicalPlanBuilder> {
    let source = provider_as_source(Arc::new(table));
    Ok(LogicalPlanBuilder::scan(name, source, None)?.project(projection)?)
}

/// A view of the union of `scans`, of which there is at least one.
fn view_of_union(scans: Vec<LogicalPlanBuilder>) -> Result<Arc<dyn TableProvider>> {
    let mut scans = scans.into_iter();
    let first = scans.next().expect("at least one file was listed");
    let union = scans.try_fold(first, |union, scan| union.union(scan.build()?))?;
    Ok(Arc::new(ViewTable::new(union.build()?, None)))
}

/// The files some paths name.
pub(crate) struct Listed {
    /// Each path's listing, in the order the paths were given.
    pub files: Vec<ListedPath>,
    /// Whether a glob matched fewer files than DataFusion's listing of its URL finds: listing
    /// subfolders, DataFusion lets `*` cross `/`, which DuckDB's globs never do.
    pub narrowed: bool,
}

/// The files each path or glob names; a path that matches nothing is an error.
pub(crate) async fn list_paths(state: &SessionState, paths: &[String]) -> Result<Listed> {
    let mut files = Vec::with_capacity(paths.len());
    let mut narrowed = false;
    for path in paths {
        let listing_path = crate::stores::listing_path(path)?;
        let url = listing_table_url(&hive_friendly_glob(&listing_path))?;
        let mut listed = list_files(state, &url).await?;
        let found = listed.len();
        if let Some(pattern) = folder_glob(&listing_path)? {
            listed.retain(|meta| {
                let relative = meta.location.prefix_match(url.prefix()).map(|parts| {
                    parts
                        .map(|part| part.as_ref().to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                });
                relative.is_some_and(|relative| pattern.matches_with(&relative, SEGMENT_GLOB))
            });
        }
        narrowed |= listed.len() < found;
        if listed.is_empty() {
            return Err(TarnError::NoFiles(path.clone()));
        }
        files.push(ListedPath {
            url,
            files: listed,
            relative: is_relative_local(&listing_path),
        });
    }
    Ok(Listed { files, narrowed })
}

/// The listing for a path or URL. DataFusion's `ListingTableUrl::parse` splits a glob off local
/// paths only; for store URLs (`s3://bucket/corpus/*.parquet`) the glob is split off here the same
/// way: the folder up to the last `/` before the first glob character, then the pattern.
fn listing_table_url(path: &str) -> Result<ListingTableUrl> {
    let (Some((folder, pattern)), true) = (split_glob(path), path.contains("://")) else {
        return Ok(ListingTableUrl::parse(path)?);
    };
    let invalid = |reason: String| TarnError::Invalid(format!("'{path}': {reason}"));
    let url = url::Url::parse(folder).map_err(|e| invalid(e.to_string()))?;
    let pattern = glob::Pattern::new(pattern).map_err(|e| invalid(e.to_string()))?;
    Ok(ListingTableUrl::try_new(url, Some(pattern))?)
}

/// `path` split after the `/` that ends the folder its first glob character is in; `None`
/// when it has no glob.
fn split_glob(path: &str) -> Option<(&str, &str)> {
    let at = path.find(['*', '?', '['])?;
    Some(path.split_at(path[..at].rfind('/').map_or(0, |slash| slash + 1)))
}

/// How DuckDB matches a glob: `*`, `?` and `[…]` stay inside one path segment; only `**`
/// crosses folders.
const SEGMENT_GLOB: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// The glob part of `path` (what follows the folder the first glob character is in), which
/// the files listed under that folder must match segment by segment; `None` without a glob.
/// DataFusion's listing matches more loosely (a `*` also crosses `/` when subfolders are
/// listed), so its files are filtered again with this.
fn folder_glob(path: &str) -> Result<Option<glob::Pattern>> {
    let Some((_, pattern)) = split_glob(path) else {
        return Ok(None);
    };
    glob::Pattern::new(pattern)
        .map(Some)
        .map_err(|e| TarnError::Invalid(format!("'{path}': {e}")))
}

/// DataFusion matches a glob against the path with its `key=value` folders removed, so
/// `hive/*/*.parquet` or `hive/d=*/*.parquet` would match nothing in a hive layout. The glob it
/// is given keeps only the file name's pattern, under a `**` for the folder levels: that lists
/// every file the glob can mean, and [`folder_glob`] then keeps those it does mean.
fn hive_friendly_glob(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let Some(first_glob) = segments.iter().position(|s| s.contains(['*', '?', '['])) else {
        return path.to_string();
    };
    if first_glob + 1 >= segments.len() {
        return path.to_string();
    }
    let mut rewritten: Vec<&str> = segments[..first_glob].to_vec();
    rewritten.push("**");
    rewritten.push(segments[segments.len() - 1]);
    rewritten.join("/")
}

/// Every file under a listing URL, hidden files (`.name`, `_name`) left out.
async fn list_files(state: &SessionState, url: &ListingTableUrl) -> Result<Vec<ObjectMeta>> {
    let store = state.runtime_env().object_store(url)?;
    let listing = match url.list_all_files(state, store.as_ref(), "").await {
        Ok(stream) => stream.try_collect().await,
        Err(err) => Err(err),
    };
    let listed: Vec<ObjectMeta> = match listing {
        Ok(files) => files,
        Err(DataFusionError::ObjectStore(err)) if !is_not_found(&err) => {
            return Err(FsError::store("list", url.as_str(), *err).into());
        }
        Err(_) => return Ok(vec![]),
    };
    let mut files: Vec<_> = listed
        .into_iter()
        .filter(|meta| {
            meta.location
                .filename()
                .is_some_and(|name| !name.starts_with('.') && !name.starts_with('_'))
        })
        .collect();
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(files)
}

fn is_not_found(err: &datafusion::object_store::Error) -> bool {
    matches!(err, datafusion::object_store::Error::NotFound { .. })
}

/// The extension every listed file must end with: the single file's own suffix when one file was
/// named, else the first file's (so `.MANIFEST` and `_SUCCESS` markers are not read as data).
fn file_extension(first_file: &str, named_path: &str) -> String {
    let name = first_file.rsplit('/').next().unwrap_or(first_file);
    if named_path.ends_with(name) {
        return String::new();
    }
    match name.find('.') {
        Some(dot) => name[dot..].to_string(),
        None => String::new(),
    }
}

/// Detects hive partition columns (`key=value` folders present in every file's path), each with
/// the values its folders hold.
fn hive_partitions(files: &[ListedPath]) -> Vec<(String, Vec<String>)> {
    let mut columns: Option<Vec<String>> = None;
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ListedPath { files: listed, .. } in files {
        for meta in listed {
            let pairs = partition_pairs(meta);
            let names: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            match &columns {
                None => columns = Some(names),
                Some(existing) if *existing != names => return vec![],
                Some(_) => {}
            }
            for (key, value) in pairs {
                values.entry(key).or_default().push(value);
            }
        }
    }
    columns
        .unwrap_or_default()
        .into_iter()
        .map(|name| {
            let seen = values.remove(&name).unwrap_or_default();
            (name, seen)
        })
        .collect()
}

/// The folder value that stands for NULL (`d=__HIVE_DEFAULT_PARTITION__`), as Hive, Spark and
/// DuckDB write and read it.
pub(crate) const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The narrowest type that holds every value of a partition column but NULL's: BIGINT, DOUBLE,
/// DATE, else VARCHAR.
fn infer_partition_type(values: &[String]) -> DataType {
    let values: Vec<&String> = values
        .iter()
        .filter(|value| *value != HIVE_DEFAULT_PARTITION)
        .collect();
    let is_date = |v: &str| {
        v.len() == 10
            && v.as_bytes()[4] == b'-'
            && v.as_bytes()[7] == b'-'
            && v.chars().filter(|c| c.is_ascii_digit()).count() == 8
    };
    if values.is_empty() {
        DataType::Utf8
    } else if values.iter().all(|v| v.parse::<i64>().is_ok()) {
        DataType::Int64
    } else if values.iter().all(|v| v.parse::<f64>().is_ok()) {
        DataType::Float64
    } else if values.iter().all(|v| is_date(v)) {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

/// The `key=value` folders a file is in, its listing URL's own included: DuckDB reads
/// `corpus/lang=en/*.parquet` with a `lang` column.
fn partition_pairs(meta: &ObjectMeta) -> Vec<(String, String)> {
    let mut folders: Vec<&str> = meta.location.as_ref().split('/').collect();
    folders.pop();
    key_values(folders)
}

/// The `key=value` folders of a listing URL's own path, which DataFusion's listing does not
/// read as partitions (it reads those below the URL).
fn url_pairs(url: &ListingTableUrl) -> Vec<(String, String)> {
    key_values(url.prefix().as_ref().split('/'))
}

fn key_values<'a>(folders: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    folders
        .into_iter()
        .filter_map(|folder| {
            let (key, value) = folder.split_once('=')?;
            Some((key.to_string(), percent_decode(value)))
        })
        .collect()
}

/// The partition columns of a scan whose listing does not read `known` ones, which are given
/// as literals of their values: the per-file scans behind `filename => true` know them all,
/// and a listing URL knows the keys in its own path.
fn partition_columns(
    known: &[(String, String)],
    partition_cols: &[(String, DataType)],
) -> Vec<datafusion::prelude::Expr> {
    let known: BTreeMap<_, _> = known.iter().cloned().collect();
    partition_cols
        .iter()
        .map(|(name, ty)| match known.get(name) {
            Some(value) => datafusion::prelude::cast(lit(value.clone()), ty.clone()).alias(name),
            None => col(name),
        })
        .collect()
}

/// `value` with each `%XX` read as the byte it writes.
pub(crate) fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&value[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path or glob a query named, and the files it names.
pub(crate) struct ListedPath {
    /// The URL DataFusion lists it by.
    pub url: ListingTableUrl,
    /// The files it names, in name order.
    pub files: Vec<ObjectMeta>,
    /// Whether it was written as a local path relative to the working directory.
    relative: bool,
}

impl ListedPath {
    /// The path of one of its files as the query wrote it, as DuckDB shows it (a `filename`
    /// column, an error): relative to the working directory where the path was, else whole.
    /// The files' paths are the same wherever a job with absolute paths runs from.
    pub fn display(&self, meta: &ObjectMeta) -> String {
        let store = self.url.object_store();
        if store.as_str() != ObjectStoreUrl::local_filesystem().as_str() {
            return format!("{}{}", store.as_str(), meta.location);
        }
        let absolute = format!("/{}", meta.location);
        let relative = std::env::current_dir()
            .ok()
            .filter(|_| self.relative)
            .and_then(|cwd| {
                let relative = std::path::Path::new(&absolute).strip_prefix(cwd).ok()?;
                Some(relative.display().to_string())
            });
        relative.unwrap_or(absolute)
    }
}

/// Whether `path` (as [`crate::stores::listing_path`] gives it) is a local path relative to
/// the working directory.
fn is_relative_local(path: &str) -> bool {
    !path.contains("://") && !path.starts_with('/')
}

/// The schema of each of `files`, read a few at a time.
async fn each_files_schema(
    state: &SessionState,
    options: &ListingOptions,
    store: &Arc<dyn ObjectStore>,
    files: &[ObjectMeta],
) -> std::result::Result<Vec<Schema>, DataFusionError> {
    let at_once: usize = state
        .config_options()
        .execution
        .meta_fetch_concurrency
        .into();
    let mut schemas = Vec::with_capacity(files.len());
    for some in files.chunks(at_once.max(1)) {
        let read = some.iter().map(|meta| {
            options
                .format
                .infer_schema(state, store, std::slice::from_ref(meta))
        });
        for schema in futures::future::try_join_all(read).await? {
            schemas.push(schema.as_ref().clone());
        }
    }
    Ok(schemas)
}

/// After a failed schema inference, reads each file alone to name the one that is broken.
async fn find_bad_file(
    state: &SessionState,
    options: &ListingOptions,
    files: &[ListedPath],
    format: FileFormatKind,
) -> Option<TarnError> {
    for path in files {
        let store = state.runtime_env().object_store(&path.url).ok()?;
        for meta in &path.files {
            if let Err(err) = options
                .format
                .infer_schema(state, &store, std::slice::from_ref(meta))
                .await
            {
                return Some(TarnError::BadFile {
                    path: path.display(meta),
                    format: format.name(),
                    reason: err.find_root().message().to_string(),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_path_is_shown_as_its_path_was_written() {
        let cwd = std::env::current_dir().unwrap();
        let file = cwd.join("corpus/a.parquet");
        let meta = ObjectMeta {
            location: object_store::path::Path::from_absolute_path(&file).unwrap(),
            last_modified: Default::default(),
            size: 1,
            e_tag: None,
            version: None,
        };
        let listed = |written: &str| ListedPath {
            url: ListingTableUrl::parse(written).unwrap(),
            files: vec![meta.clone()],
            relative: is_relative_local(written),
        };
        assert_eq!(
            listed("corpus/*.parquet").display(&meta),
            "corpus/a.parquet"
        );
        let absolute = format!("{}/corpus/*.parquet", cwd.display());
        assert_eq!(listed(&absolute).display(&meta), file.display().to_string());
        let stored = ListedPath {
            url: ListingTableUrl::parse("s3://bucket/corpus/").unwrap(),
            files: vec![],
            relative: false,
        };
        let in_store = ObjectMeta {
            location: "corpus/a.parquet".into(),
            ..meta
        };
        assert_eq!(stored.display(&in_store), "s3://bucket/corpus/a.parquet");
    }
}
