//! The files of a `COPY ... TO` folder (`PARTITION_BY`, `PER_THREAD_OUTPUT`,
//! `ROW_GROUPS_PER_FILE`, `FILE_SIZE_BYTES`): named as DuckDB names them, `data_0.parquet`,
//! `data_1.parquet`, ... in the order their rows were written, or by `FILENAME_PATTERN`
//! (`shard_{i}`, `part_{uuid}`); and Parquet shards of about `FILE_SIZE_BYTES` each, which
//! DataFusion's writer (which splits files by rows only) cannot make.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};

use datafusion::common::config::TableParquetOptions;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use futures::StreamExt;

use super::files::percent_decode;
use crate::error::{Result, TarnError};

/// How the files of a folder are named (`FILENAME_PATTERN`): `{i}` is the file's number in
/// its folder, `{uuid}` (or `{uuidv4}`) a random UUID, `{uuidv7}` a time-ordered one. A
/// pattern with neither a number nor a UUID gets the number at its end, as in DuckDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern(String);

impl Default for FilePattern {
    /// DuckDB's `data_0`, `data_1`, ...
    fn default() -> Self {
        FilePattern("data_{i}".to_string())
    }
}

const UUID_V4: [&str; 2] = ["{uuid}", "{uuidv4}"];
const UUID_V7: &str = "{uuidv7}";

impl FilePattern {
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() || text.contains(['/', '\\']) || text.starts_with('.') {
            return Err(TarnError::Invalid(format!(
                "COPY: FILENAME_PATTERN '{text}' is not a file name"
            )));
        }
        let pattern = FilePattern(text.to_string());
        Ok(match text.contains("{i}") || pattern.is_unique() {
            true => pattern,
            false => FilePattern(format!("{text}{{i}}")),
        })
    }

    /// DuckDB's names for appended files: a UUID each.
    pub fn unique() -> Self {
        FilePattern(UUID_V4[0].to_string())
    }

    /// Whether every name holds a new UUID, so that no run repeats one.
    pub fn is_unique(&self) -> bool {
        UUID_V4.iter().any(|u| self.0.contains(u)) || self.0.contains(UUID_V7)
    }

    /// The name of file `index` of a folder, with its `extension` (`parquet`, `csv.gz`).
    fn name(&self, index: usize, extension: &str) -> String {
        let mut name = self.0.replace("{i}", &index.to_string());
        for uuid in UUID_V4 {
            while name.contains(uuid) {
                name = name.replacen(uuid, &uuid::Uuid::new_v4().to_string(), 1);
            }
        }
        while name.contains(UUID_V7) {
            name = name.replacen(UUID_V7, &uuid::Uuid::now_v7().to_string(), 1);
        }
        format!("{name}.{extension}")
    }
}

/// Renames the files DataFusion wrote under `folder` (in each folder, `<random>_<n>.<ext>`, or
/// `<random>.<ext>` for a folder's only file) by `pattern`, numbered in DataFusion's order,
/// which is the order of their rows.
pub fn name_files(folder: &Path, pattern: &FilePattern) -> std::io::Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            name_files(&entry.path(), pattern)?;
        } else {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((stem, extension)) = name.split_once('.') else {
                continue;
            };
            let number = stem
                .rsplit_once('_')
                .and_then(|(_, n)| n.parse::<usize>().ok())
                .unwrap_or(0);
            files.push((number, name.clone(), extension.to_string()));
        }
    }
    files.sort();
    for (index, (_, name, extension)) in files.iter().enumerate() {
        std::fs::rename(
            folder.join(name),
            folder.join(pattern.name(index, extension)),
        )?;
    }
    Ok(())
}

/// Renames the `key=value` partition folders DataFusion wrote under `folder` as DuckDB names
/// them: each byte of the value but letters, digits and `-._~` percent-encoded (`s=a%20b`,
/// `s=x%3Dy`). DataFusion leaves `=` and spaces as they are, and DuckDB's reader, finding a
/// second `=` in a folder's name, reads no partitions at all. NULL's folder
/// (`__HIVE_DEFAULT_PARTITION__`) stays as it is.
pub fn name_partition_folders(folder: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut path = entry.path();
        if let Some((key, value)) = name.split_once('=') {
            let renamed = format!("{key}={}", percent_encode(&percent_decode(value)));
            if renamed != name {
                let to = folder.join(&renamed);
                std::fs::rename(&path, &to)?;
                path = to;
            }
        }
        name_partition_folders(&path)?;
    }
    Ok(())
}

/// `value` with each byte but an ASCII letter, digit or `-._~` written `%XX`, as DuckDB
/// writes a partition folder's value (NULL's `__HIVE_DEFAULT_PARTITION__` stays as it is).
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// Moves the files written under `staging` into the folder `target`, at the same places
/// (partition folders made as needed). Should one not move, those moved are taken out again, so
/// the folder holds all the new files or none.
pub fn add_files(staging: &Path, target: &Path) -> std::io::Result<()> {
    let mut files = Vec::new();
    files_under(staging, Path::new(""), &mut files)?;
    let mut moved = Vec::with_capacity(files.len());
    for relative in files {
        let to = target.join(&relative);
        let outcome = match to.parent() {
            Some(folder) => std::fs::create_dir_all(folder),
            None => Ok(()),
        }
        .and_then(|()| match to.try_exists()? {
            // Names hold UUIDs, so this is a repeat of a UUID: never write over a file.
            true => Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists)),
            false => std::fs::rename(staging.join(&relative), &to),
        });
        if let Err(err) = outcome {
            for done in moved {
                let _ = std::fs::remove_file(done);
            }
            return Err(err);
        }
        moved.push(to);
    }
    Ok(())
}

/// The files under `folder`, by their paths relative to `staging`'s root (`relative`).
fn files_under(
    folder: &Path,
    relative: &Path,
    files: &mut Vec<std::path::PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            files_under(&entry.path(), &path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Where a Parquet shard ends: at about this many bytes, or at this many row groups, whichever
/// comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    pub bytes: u64,
    pub row_groups: Option<usize>,
}

/// Writes `rows` into `folder` as Parquet files one after another, each closed once its
/// encoded size (written row groups and the one being built) reaches `limits.bytes`, or once it
/// holds `limits.row_groups` whole row groups. A file so ends at most one batch past the size,
/// and exactly at its row groups. Returns the rows written.
pub async fn write_parquet_shards(
    mut rows: SendableRecordBatchStream,
    folder: &Path,
    options: &TableParquetOptions,
    limits: ShardLimits,
    pattern: &FilePattern,
) -> Result<u64> {
    create_folder(folder)?;
    let shape = ShardShape::new(rows.schema(), options, limits, pattern)?;
    let mut shards = Shards::new(folder.to_path_buf());
    let mut written = 0;
    while let Some(batch) = rows.next().await {
        written += shards.write(batch?, &shape)?;
    }
    shards.finish()?;
    Ok(written)
}

/// [`write_parquet_shards`] into a folder per value of the `partition_by` columns (`k=v/`, as
/// DuckDB names them, NULL's `k=__HIVE_DEFAULT_PARTITION__`), each with its own shards. The
/// partition columns hold their folders' text already, and are left out of the files.
pub async fn write_partitioned_parquet_shards(
    mut rows: SendableRecordBatchStream,
    folder: &Path,
    options: &TableParquetOptions,
    limits: ShardLimits,
    pattern: &FilePattern,
    partition_by: &[String],
) -> Result<u64> {
    create_folder(folder)?;
    let schema = rows.schema();
    let keys: Vec<usize> = partition_by
        .iter()
        .map(|name| schema.index_of(name))
        .collect::<std::result::Result<_, _>>()?;
    let kept: Vec<usize> = (0..schema.fields().len())
        .filter(|c| !keys.contains(c))
        .collect();
    let shape = ShardShape::new(Arc::new(schema.project(&kept)?), options, limits, pattern)?;
    let mut partitions: HashMap<String, Shards> = HashMap::new();
    let mut written = 0;
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        let texts: Vec<ArrayRef> = keys
            .iter()
            .map(|&c| cast(batch.column(c), &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()?;
        let texts: Vec<&StringArray> = texts.iter().map(|text| text.as_string::<i32>()).collect();
        // The rows of each partition's values, in their order; a folder is named once per batch.
        let mut rows_of: HashMap<Vec<&str>, Vec<u32>> = HashMap::new();
        for row in 0..batch.num_rows() {
            let values = texts.iter().map(|text| text.value(row)).collect();
            rows_of.entry(values).or_default().push(row as u32);
        }
        let data = batch.project(&kept)?;
        for (values, rows) in rows_of {
            let path: Vec<String> = partition_by
                .iter()
                .zip(values)
                .map(|(name, value)| format!("{name}={}", percent_encode(value)))
                .collect();
            let path = path.join("/");
            let part = take_record_batch(&data, &UInt32Array::from(rows))?;
            let shards = partitions
                .entry(path)
                .or_insert_with_key(|path| Shards::new(folder.join(path)));
            written += shards.write(part, &shape)?;
        }
    }
    for shards in partitions.into_values() {
        shards.finish()?;
    }
    Ok(written)
}

fn create_folder(folder: &Path) -> Result<()> {
    std::fs::create_dir_all(folder)
        .map_err(|e| TarnError::io("create folder", folder.display().to_string(), e))
}

/// What every shard of a COPY shares: its columns, writer properties, limits and names.
struct ShardShape<'a> {
    schema: SchemaRef,
    properties: WriterProperties,
    bytes: u64,
    /// A file ends at this many rows (`ROW_GROUPS_PER_FILE` whole row groups), if given.
    rows_per_file: Option<usize>,
    pattern: &'a FilePattern,
}

impl<'a> ShardShape<'a> {
    fn new(
        schema: SchemaRef,
        options: &TableParquetOptions,
        limits: ShardLimits,
        pattern: &'a FilePattern,
    ) -> Result<Self> {
        let properties = writer_properties(options)?;
        // A row group ends at the writer's row count (DataFusion always sets one); without one,
        // the size alone ends a file.
        let rows_per_file = limits.row_groups.and_then(|groups| {
            let rows = properties.max_row_group_row_count()?;
            Some(groups.saturating_mul(rows))
        });
        Ok(ShardShape {
            schema,
            properties,
            bytes: limits.bytes,
            rows_per_file,
            pattern,
        })
    }
}

/// The shards of one folder: how many were begun, and the one being written with its rows.
struct Shards {
    folder: PathBuf,
    files: usize,
    open: Option<(ArrowWriter<std::fs::File>, usize)>,
}

impl Shards {
    fn new(folder: PathBuf) -> Self {
        Shards {
            folder,
            files: 0,
            open: None,
        }
    }

    /// Writes `batch` across as many shards as it fills; returns its rows.
    fn write(&mut self, mut batch: RecordBatch, shape: &ShardShape) -> Result<u64> {
        let rows = batch.num_rows() as u64;
        while batch.num_rows() > 0 {
            let (writer, rows_in_file) = match &mut self.open {
                Some(open) => open,
                None => {
                    create_folder(&self.folder)?;
                    let path = self.folder.join(shape.pattern.name(self.files, "parquet"));
                    let out = std::fs::File::create(&path)
                        .map_err(|e| TarnError::io("create", path.display().to_string(), e))?;
                    self.files += 1;
                    let properties = Some(shape.properties.clone());
                    let writer = ArrowWriter::try_new(out, shape.schema.clone(), properties)?;
                    self.open.insert((writer, 0))
                }
            };
            let room = shape
                .rows_per_file
                .map_or(usize::MAX, |rows| rows - *rows_in_file);
            let take = batch.num_rows().min(room);
            writer.write(&batch.slice(0, take))?;
            *rows_in_file += take;
            batch = batch.slice(take, batch.num_rows() - take);
            let size = (writer.bytes_written() + writer.in_progress_size()) as u64;
            if size >= shape.bytes || shape.rows_per_file == Some(*rows_in_file) {
                let (writer, _) = self.open.take().expect("a file is open");
                writer.close()?;
            }
        }
        Ok(rows)
    }

    fn finish(self) -> Result<()> {
        if let Some((writer, _)) = self.open {
            writer.close()?;
        }
        Ok(())
    }
}

/// The Parquet writer's properties for the session's options with the statement's (row group
/// size, compression, key-value metadata); the writer adds the Arrow schema itself.
fn writer_properties(options: &TableParquetOptions) -> Result<WriterProperties> {
    let mut options = options.clone();
    options.global.skip_arrow_metadata = true;
    Ok(WriterPropertiesBuilder::try_from(&options)?.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_encoded_as_duckdb_encodes_them() {
        assert_eq!(percent_encode("2024-01-02"), "2024-01-02");
        assert_eq!(percent_encode("a b=c/d"), "a%20b%3Dc%2Fd");
        assert_eq!(percent_encode("x_y.z~é%"), "x_y.z~%C3%A9%25");
        assert_eq!(percent_decode(&percent_encode("é=% /")), "é=% /");
    }

    #[test]
    fn patterns_number_or_name_files_uniquely() {
        let name = |pattern: &str, i| FilePattern::parse(pattern).unwrap().name(i, "parquet");
        assert_eq!(FilePattern::default().name(3, "csv.gz"), "data_3.csv.gz");
        assert_eq!(name("shard_{i}", 0), "shard_0.parquet");
        assert_eq!(name("shard", 2), "shard2.parquet");
        let random = name("p_{uuid}", 0);
        assert_eq!(random.len(), "p_.parquet".len() + 36, "{random}");
        assert_ne!(random, name("p_{uuid}", 0));
        assert_eq!(
            name("{uuidv7}", 0).chars().nth(14),
            Some('7'),
            "a version 7 UUID"
        );
        for bad in ["", "a/b", ".hidden"] {
            assert!(FilePattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
