//! DuckDB's `COPY table [(columns)] FROM 'path' [(FORMAT csv|parquet|json, HEADER [bool],
//! DELIMITER 'c')]`: appends a file's rows to a table, column by column in order, as
//! `INSERT INTO table [(columns)] SELECT * FROM read_csv('path', ...)` (or `read_parquet`,
//! `read_json`; the format from the option or the path's extension, CSV otherwise).

use datafusion::sql::sqlparser::tokenizer::Token;

use super::copy::{join_tokens, matching_paren, option_values, split_options};
use super::files::FileFormatKind;
use super::tokens::is_keyword;
use crate::error::{Result, TarnError};

/// A `COPY ... FROM` statement as the INSERT it stands for.
pub(super) struct CopyFrom {
    pub insert: String,
    table: String,
    path: String,
}

impl CopyFrom {
    /// The error of running the INSERT, with the file and the table named where the file's
    /// columns do not line up with the table's.
    pub fn explain(&self, err: TarnError) -> TarnError {
        match err
            .to_string()
            .contains("Column count doesn't match insert query")
        {
            true => TarnError::Invalid(format!(
                "COPY {} FROM '{}': the file's columns do not match the table's one for one, \
                 in order (name the table's columns: COPY {} (a, b) FROM ...)",
                self.table, self.path, self.table
            )),
            false => err,
        }
    }
}

/// The INSERT a `COPY ... FROM` statement stands for; `None` for a `COPY ... TO`.
pub(super) fn as_insert(statement: &str) -> Result<Option<CopyFrom>> {
    let tokens: Vec<Token> = super::tokenize(statement)?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let syntax = |what: &str| TarnError::Parse(format!("COPY FROM: {what}"));
    // COPY, then a table name: its parts up to the column list or FROM.
    let Some(from) = tokens.iter().position(|t| is_keyword(t, "FROM")) else {
        return Ok(None);
    };
    let end_of_name = tokens[..from]
        .iter()
        .position(|t| *t == Token::LParen)
        .unwrap_or(from);
    if end_of_name <= 1 || tokens[1] == Token::LParen {
        // `COPY (query) TO ...`, whose query holds the FROM.
        return Ok(None);
    }
    let table = join_tokens(&tokens[1..end_of_name]).replace(" . ", ".");
    let columns = match end_of_name < from {
        true => {
            let close = matching_paren(&tokens, end_of_name)
                .filter(|&close| close + 1 == from)
                .ok_or_else(|| syntax("expected FROM after the column list"))?;
            format!(" ({})", join_tokens(&tokens[end_of_name + 1..close]))
        }
        false => String::new(),
    };
    let path = match tokens.get(from + 1) {
        Some(Token::SingleQuotedString(path)) => path.clone(),
        _ => return Err(syntax("expected a quoted path after FROM")),
    };
    let mut pos = from + 2;
    if tokens.get(pos).is_some_and(|t| is_keyword(t, "WITH")) {
        pos += 1;
    }
    let mut options = Vec::new();
    if tokens.get(pos) == Some(&Token::LParen) {
        let close = matching_paren(&tokens, pos).ok_or_else(|| syntax("unbalanced option list"))?;
        options = split_options(&tokens[pos + 1..close]);
        pos = close + 1;
    }
    if let Some(extra) = tokens.get(pos) {
        return Err(syntax(&format!("unexpected '{extra}' after the options")));
    }
    let mut format = FileFormatKind::from_path(&path).unwrap_or(FileFormatKind::Csv);
    let mut csv_options = Vec::new();
    for option in options {
        let Some(Token::Word(name)) = option.first() else {
            return Err(syntax("each option starts with its name"));
        };
        let name = name.value.to_ascii_uppercase();
        let values = option_values(&option[1..]);
        match (name.as_str(), values.as_slice()) {
            ("FORMAT", [value]) => {
                format = match value.to_ascii_lowercase().as_str() {
                    "parquet" => FileFormatKind::Parquet,
                    "csv" => FileFormatKind::Csv,
                    "json" | "ndjson" => FileFormatKind::Json,
                    other => return Err(syntax(&format!("unknown FORMAT '{other}'"))),
                }
            }
            ("HEADER", []) => csv_options.push("header => true".to_string()),
            ("HEADER", [value]) => csv_options.push(format!("header => {value}")),
            ("DELIMITER" | "DELIM" | "SEP", [value]) => {
                csv_options.push(format!("delim => '{}'", value.replace('\'', "''")))
            }
            _ => return Err(syntax(&format!("unknown option {name}"))),
        }
    }
    let quoted = path.replace('\'', "''");
    let source = match format {
        FileFormatKind::Csv => {
            let args: Vec<String> = std::iter::once(format!("'{quoted}'"))
                .chain(csv_options)
                .collect();
            format!("read_csv({})", args.join(", "))
        }
        _ if !csv_options.is_empty() => {
            return Err(syntax("HEADER and DELIMITER are options of CSV files"));
        }
        FileFormatKind::Parquet => format!("read_parquet('{quoted}')"),
        FileFormatKind::Json => format!("read_json('{quoted}')"),
    };
    Ok(Some(CopyFrom {
        insert: format!("INSERT INTO {table}{columns} SELECT * FROM {source}"),
        table,
        path,
    }))
}
