//! Rendering result batches in the shell's output modes: `box` (DuckDB's default on a
//! terminal), `markdown`, `csv`, `json`, `jsonl` and `line`.

use std::io::Write;
use std::str::FromStr;

use std::sync::Arc;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use tarn_engine::sql::duckdb_text::respell_field;
use tarn_engine::sql::types::sql_type_name;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Box,
    Markdown,
    Csv,
    Json,
    Jsonl,
    Line,
}

impl FromStr for OutputMode {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "box" | "duckbox" | "table" => OutputMode::Box,
            "markdown" | "md" => OutputMode::Markdown,
            "csv" => OutputMode::Csv,
            "json" => OutputMode::Json,
            "jsonl" | "ndjson" => OutputMode::Jsonl,
            "line" => OutputMode::Line,
            other => {
                return Err(format!(
                    "unknown output mode '{other}': use box, markdown, csv, json, jsonl or line"
                ));
            }
        })
    }
}

/// Rendering settings that dot commands change.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub mode: OutputMode,
    /// Rows shown in box mode before the middle is elided.
    pub max_rows: usize,
    /// Terminal width to fit box tables to, if known.
    pub width: Option<u16>,
}

/// Writes one result in the chosen mode. A result with no columns (DDL) prints nothing.
pub fn render(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: &RenderOptions,
) -> anyhow::Result<()> {
    if schema.fields().is_empty() {
        return Ok(());
    }
    let text_batches;
    let batches = if matches!(options.mode, OutputMode::Json | OutputMode::Jsonl) {
        batches
    } else {
        text_batches = batches
            .iter()
            .map(with_duckdb_text)
            .collect::<anyhow::Result<Vec<_>>>()?;
        &text_batches
    };
    match options.mode {
        OutputMode::Box => render_box(out, schema, batches, options),
        OutputMode::Markdown => render_markdown(out, schema, batches),
        OutputMode::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                // The header alone, quoted as the writer quotes it (`"a,b"`); as text columns,
                // which the writer takes whatever the result's types.
                let names = header_names(schema)
                    .into_iter()
                    .map(|name| Field::new(name, DataType::Utf8, true));
                writer.write(&RecordBatch::new_empty(Arc::new(Schema::new(
                    names.collect::<Vec<_>>(),
                ))))?;
            }
            for batch in batches {
                writer.write(batch)?;
            }
            Ok(())
        }
        OutputMode::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(out)?;
            Ok(())
        }
        OutputMode::Jsonl => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            Ok(())
        }
        OutputMode::Line => render_line(out, schema, batches),
    }
}

/// `batch` with DuckDB's spelling where Arrow's text writers differ or fail, as the engine's
/// `duckdb_text` writes it (`nan`, `1e+20`, `2024-01-02 03:04:05.5`, `1 day 01:00:00`,
/// `[1, NULL]`, `{'a': 7}`, `ab\x0A`, a list of JSON `["x", {"b":1}]`). Such a column becomes
/// text.
fn with_duckdb_text(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    let mut changed = false;
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        match respell_field(field, column)? {
            Some(text) => {
                changed = true;
                fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
                columns.push(text);
            }
            None => {
                fields.push(Arc::clone(field));
                columns.push(Arc::clone(column));
            }
        }
    }
    if !changed {
        return Ok(batch.clone());
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

fn header_names(schema: &SchemaRef) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// Every row as strings, NULL shown as `NULL`.
fn rows_as_text(
    batches: &[RecordBatch],
    rows: impl Fn(usize) -> bool,
) -> anyhow::Result<Vec<Vec<String>>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    let mut index = 0;
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            if rows(index) {
                out.push(
                    formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect(),
                );
            }
            index += 1;
        }
    }
    Ok(out)
}

fn render_box(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    options: &RenderOptions,
) -> anyhow::Result<()> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let limit = options.max_rows.max(2);
    let (head, tail) = if total > limit {
        (limit / 2, limit - limit / 2)
    } else {
        (total, 0)
    };
    let rows = rows_as_text(batches, |i| i < head || i >= total - tail)?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = options.width {
        table.set_width(width);
    }
    table.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    table.add_row(
        schema
            .fields()
            .iter()
            .map(|f| Cell::new(sql_type_name(f.data_type()).to_lowercase())),
    );
    let add = |table: &mut Table, row: &[String]| {
        table.add_row(row.iter().zip(&numeric).map(|(value, &is_number)| {
            let cell = Cell::new(value);
            if is_number {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    };
    for row in &rows[..head] {
        add(&mut table, row);
    }
    if tail > 0 {
        table.add_row(
            schema
                .fields()
                .iter()
                .map(|_| Cell::new("·").set_alignment(CellAlignment::Center)),
        );
        for row in &rows[head..] {
            add(&mut table, row);
        }
    }
    writeln!(out, "{table}")?;
    if tail > 0 {
        writeln!(out, "{total} rows ({} shown)", head + tail)?;
    }
    Ok(())
}

fn render_markdown(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> anyhow::Result<()> {
    let escape = |s: &str| s.replace('|', "\\|");
    let names = header_names(schema);
    writeln!(
        out,
        "| {} |",
        names
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join(" | ")
    )?;
    let rule: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type().is_numeric() {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    writeln!(out, "|{}|", rule.join("|"))?;
    for row in rows_as_text(batches, |_| true)? {
        writeln!(
            out,
            "| {} |",
            row.iter()
                .map(|v| escape(v))
                .collect::<Vec<_>>()
                .join(" | ")
        )?;
    }
    Ok(())
}

fn render_line(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> anyhow::Result<()> {
    let names = header_names(schema);
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (i, row) in rows_as_text(batches, |_| true)?.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        for (name, value) in names.iter().zip(row) {
            writeln!(out, "{name:>width$} = {value}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        ArrayRef, Float64Array, Int64Array, StringArray, StringBuilder,
    };

    fn sample(n: i64) -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let ids: Vec<i64> = (0..n).collect();
        let names: Vec<Option<String>> = ids
            .iter()
            .map(|i| (i % 2 == 0).then(|| format!("n|{i}")))
            .collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap();
        (schema, vec![batch])
    }

    fn text(mode: OutputMode, n: i64, max_rows: usize) -> String {
        let (schema, batches) = sample(n);
        let mut out = Vec::new();
        render(
            &mut out,
            &schema,
            &batches,
            &RenderOptions {
                mode,
                max_rows,
                width: Some(80),
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn box_shows_types_and_elides_long_results() {
        let out = text(OutputMode::Box, 100, 10);
        assert!(out.contains("bigint") && out.contains("varchar"), "{out}");
        assert!(out.contains("100 rows (10 shown)"), "{out}");
        assert!(
            out.contains(" 99 ") && out.contains(" 4 ") && !out.contains(" 50 "),
            "{out}"
        );
        assert!(out.contains("NULL"));
    }

    #[test]
    fn nan_is_spelled_as_duckdb_spells_it() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
        let values = Float64Array::from(vec![
            Some(f64::NAN),
            Some(-f64::NAN),
            Some(f64::INFINITY),
            Some(1.5),
            None,
        ]);
        let batches = vec![RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()];
        let rendered = |mode| {
            let mut out = Vec::new();
            let options = RenderOptions {
                mode,
                max_rows: 40,
                width: Some(80),
            };
            render(&mut out, &schema, &batches, &options).unwrap();
            String::from_utf8(out).unwrap()
        };
        // (A record of one empty field is quoted, so that it is not an empty line.)
        assert_eq!(rendered(OutputMode::Csv), "x\nnan\n-nan\ninf\n1.5\n\"\"\n");
        let shown = rendered(OutputMode::Box);
        assert!(
            shown.contains("double"),
            "the type row keeps the column's type:\n{shown}"
        );
        assert!(
            shown.contains(" -nan ") && !shown.contains("NaN"),
            "{shown}"
        );
    }

    /// `batch` in CSV mode.
    fn csv(batch: RecordBatch) -> String {
        let options = RenderOptions {
            mode: OutputMode::Csv,
            max_rows: 40,
            width: None,
        };
        let mut out = Vec::new();
        render(&mut out, &batch.schema(), &[batch], &options).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_empty_result_is_its_header_quoted_as_rows_would_be() {
        use datafusion::arrow::array::ListArray;
        use datafusion::arrow::datatypes::Int32Type;
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(Vec::<Option<Vec<_>>>::new());
        let batch = RecordBatch::try_from_iter([
            (
                "a,b",
                Arc::new(StringArray::from(Vec::<&str>::new())) as ArrayRef,
            ),
            ("l", Arc::new(lists) as ArrayRef),
        ])
        .unwrap();
        let options = RenderOptions {
            mode: OutputMode::Csv,
            max_rows: 40,
            width: None,
        };
        let mut out = Vec::new();
        render(&mut out, &batch.schema(), &[], &options).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\"a,b\",l\n");
    }

    #[test]
    fn blobs_are_written_as_duckdb_writes_them() {
        use datafusion::arrow::array::BinaryArray;
        let bytes: Vec<Option<&[u8]>> = vec![Some(b"ab"), Some(b"\xaaA\n\\'~\x7f"), None];
        let batch =
            RecordBatch::try_from_iter([("b", Arc::new(BinaryArray::from(bytes)) as ArrayRef)])
                .unwrap();
        assert_eq!(csv(batch), "b\nab\n\\xAAA\\x0A\\x5C\\x27~\\x7F\n\"\"\n");
    }

    #[test]
    fn nested_values_are_written_as_text() {
        use datafusion::arrow::array::{Int32Array, ListArray, StructArray};
        use datafusion::arrow::datatypes::Int32Type;
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2), None]),
            None,
        ]);
        let structs = StructArray::from(vec![(
            Arc::new(Field::new("a", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![7, 8])) as ArrayRef,
        )]);
        let batch = RecordBatch::try_from_iter([
            ("l", Arc::new(lists) as ArrayRef),
            ("s", Arc::new(structs) as ArrayRef),
        ])
        .unwrap();
        assert_eq!(csv(batch), "l,s\n\"[1, 2, NULL]\",{'a': 7}\n,{'a': 8}\n");
    }

    #[test]
    fn timestamps_and_maps_are_written_as_duckdb_writes_them() {
        use datafusion::arrow::array::{Int32Builder, MapBuilder, TimestampMicrosecondArray};
        // 2024-01-02 03:04:05.5 and 03:04:05 UTC.
        let plain = TimestampMicrosecondArray::from(vec![
            Some(1_704_164_645_500_000),
            Some(1_704_164_645_000_000),
            None,
        ]);
        let zoned = plain.clone().with_timezone("+05:30");
        let mut maps = MapBuilder::new(None, Int32Builder::new(), StringBuilder::new());
        maps.keys().append_value(1);
        maps.values().append_value("a");
        maps.keys().append_value(2);
        maps.values().append_null();
        maps.append(true).unwrap();
        maps.append(true).unwrap();
        maps.append(false).unwrap();
        let batch = RecordBatch::try_from_iter([
            ("t", Arc::new(plain) as ArrayRef),
            ("z", Arc::new(zoned) as ArrayRef),
            ("m", Arc::new(maps.finish()) as ArrayRef),
        ])
        .unwrap();
        assert_eq!(
            csv(batch),
            "t,z,m\n2024-01-02 03:04:05.5,2024-01-02 08:34:05.5+05:30,\"{1=a, 2=NULL}\"\n\
             2024-01-02 03:04:05,2024-01-02 08:34:05+05:30,{}\n,,\n"
        );
    }

    #[test]
    fn csv_json_markdown_and_line() {
        assert_eq!(text(OutputMode::Csv, 2, 40), "id,name\n0,n|0\n1,\n");
        assert_eq!(
            text(OutputMode::Jsonl, 2, 40),
            "{\"id\":0,\"name\":\"n|0\"}\n{\"id\":1}\n"
        );
        assert_eq!(
            text(OutputMode::Json, 1, 40),
            "[{\"id\":0,\"name\":\"n|0\"}]\n"
        );
        assert_eq!(
            text(OutputMode::Markdown, 2, 40),
            "| id | name |\n|---:|---|\n| 0 | n\\|0 |\n| 1 | NULL |\n"
        );
        assert_eq!(
            text(OutputMode::Line, 2, 40),
            "  id = 0\nname = n|0\n\n  id = 1\nname = NULL\n"
        );
    }
}
