//! DuckDB's `EXPORT DATABASE 'folder' [(FORMAT parquet|csv)]` and `IMPORT DATABASE 'folder'`:
//! a session's tables live in memory and end with it, so this is how they are kept. The export
//! writes, as DuckDB's does, `schema.sql` (the session's schemas, sequences, tables with their
//! keys, defaults and checks, macros and views, in that order), `load.sql` (a `COPY table FROM
//! 'file'` per table) and a data file per table; the import runs the two scripts.
//!
//! Files are Parquet unless `FORMAT csv` is given (DuckDB's default is CSV): Parquet keeps every
//! type as it was, where CSV cannot carry lists, structs or maps back (such a table is
//! refused). The export appears whole or not at all (written under a staging name beside the
//! folder, then renamed), and refuses a folder that holds files. The import runs in a
//! transaction of its own, so a failing statement leaves the session's tables, views, macros
//! and sequences as they were, and names the file and statement.

use std::path::Path;

use datafusion::sql::sqlparser::tokenizer::Token;

use super::catalog_functions::{Definition, session_definitions, written_identifier};
use super::copy::{matching_paren, option_values, split_options};
use super::files::FileFormatKind;
use super::tokens::is_keyword;
use super::{SqlSession, collect, split_statements};
use crate::error::{Result, TarnError};

/// An `EXPORT DATABASE` or `IMPORT DATABASE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DatabaseStatement {
    Export {
        folder: String,
        format: FileFormatKind,
    },
    Import {
        folder: String,
    },
}

impl DatabaseStatement {
    /// The statement `statement` is, if it is one of these.
    pub fn of(statement: &str) -> Result<Option<Self>> {
        let tokens: Vec<Token> = super::tokenize(statement)?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
            .collect();
        let export = match tokens.first() {
            Some(t) if is_keyword(t, "EXPORT") => true,
            Some(t) if is_keyword(t, "IMPORT") => false,
            _ => return Ok(None),
        };
        if !tokens.get(1).is_some_and(|t| is_keyword(t, "DATABASE")) {
            return Ok(None);
        }
        let verb = if export { "EXPORT" } else { "IMPORT" };
        let syntax = |what: &str| TarnError::Parse(format!("{verb} DATABASE: {what}"));
        let Some(Token::SingleQuotedString(folder)) = tokens.get(2) else {
            return Err(syntax("expected a quoted folder after DATABASE"));
        };
        let folder = folder.clone();
        let mut format = FileFormatKind::Parquet;
        let mut end = 3;
        if export && tokens.get(3) == Some(&Token::LParen) {
            let close = matching_paren(&tokens, 3).ok_or_else(|| syntax("unbalanced options"))?;
            for option in split_options(&tokens[4..close]) {
                let name = option.first().map(|t| t.to_string().to_uppercase());
                match (name.as_deref(), option_values(&option[1..]).as_slice()) {
                    (Some("FORMAT"), [value]) => {
                        format = match value.to_ascii_lowercase().as_str() {
                            "parquet" => FileFormatKind::Parquet,
                            "csv" => FileFormatKind::Csv,
                            other => return Err(syntax(&format!("unknown FORMAT '{other}'"))),
                        }
                    }
                    _ => return Err(syntax("the only option is FORMAT parquet or csv")),
                }
            }
            end = close + 1;
        }
        if let Some(extra) = tokens.get(end) {
            return Err(syntax(&format!("unexpected '{extra}'")));
        }
        Ok(Some(match export {
            true => DatabaseStatement::Export { folder, format },
            false => DatabaseStatement::Import { folder },
        }))
    }
}

/// Writes the session's schemas, sequences, tables, macros and views into `folder`.
pub(super) async fn export(
    session: &SqlSession,
    folder: &str,
    format: FileFormatKind,
) -> Result<()> {
    let target = Path::new(folder);
    let holds_files = std::fs::read_dir(target).is_ok_and(|mut entries| entries.next().is_some());
    if holds_files || target.is_file() {
        return Err(TarnError::TargetExists(folder.to_string()));
    }
    let definitions = session_definitions(&session.context().state()).await?;
    let mut schema = Vec::new();
    schema.extend(
        definitions
            .schemas
            .iter()
            .map(|s| format!("CREATE SCHEMA {};", written_identifier(s))),
    );
    schema.extend(session.sequences.definitions());
    schema.extend(definitions.tables.iter().map(|t| t.statement.clone()));
    schema.extend(session.macros.definitions());
    schema.extend(in_dependency_order(&definitions.views));

    let (extension, format_name) = match format {
        FileFormatKind::Parquet => ("parquet", "parquet"),
        _ => ("csv", "csv"),
    };
    let staging = super::copy::staging_beside(target)?;
    let written = async {
        std::fs::create_dir_all(&staging)
            .map_err(|e| TarnError::io("create folder", staging.display().to_string(), e))?;
        let mut load = Vec::new();
        let mut files: Vec<String> = Vec::new();
        for table in &definitions.tables {
            let file = data_file_name(&table.schema, &table.name, &files);
            files.push(file.clone());
            let staged = staging.join(format!("{file}.{extension}"));
            let copy = format!(
                "COPY {} TO '{}' (FORMAT {format_name})",
                table.written_name,
                staged.display().to_string().replace('\'', "''")
            );
            collect(super::copy::copy(session, &copy).await?).await?;
            let loaded = format!("{}/{file}.{extension}", folder.trim_end_matches('/'));
            load.push(format!(
                "COPY {} FROM '{}' (FORMAT {format_name});",
                table.written_name,
                loaded.replace('\'', "''")
            ));
        }
        for (name, lines) in [("schema.sql", &schema), ("load.sql", &load)] {
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            std::fs::write(staging.join(name), text)
                .map_err(|e| TarnError::io("write", format!("{folder}/{name}"), e))?;
        }
        super::copy::publish_staged(&staging, target)
            .map_err(|e| TarnError::io("publish", folder, e))
    }
    .await;
    if written.is_err() {
        let _ = tarn_fs::remove_tree(&staging);
    }
    written
}

/// The views' statements, each after those of the views it names (a name read as a whole
/// word, in any case); views that name each other in a circle keep their order.
fn in_dependency_order(views: &[Definition]) -> Vec<String> {
    let names = |statement: &str, view: &Definition| {
        statement
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word.eq_ignore_ascii_case(&view.name))
    };
    let mut pending: Vec<&Definition> = views.iter().collect();
    let mut ordered = Vec::with_capacity(views.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|view| {
            let body = view
                .statement
                .split_once(" AS ")
                .map_or("", |(_, body)| body);
            !pending
                .iter()
                .any(|other| !std::ptr::eq(*other, *view) && names(body, other))
        });
        let view = pending.remove(ready.unwrap_or(0));
        ordered.push(view.statement.clone());
    }
    ordered
}

/// A table's data file name without its extension: the table's name, after its schema's outside
/// the default one (`s_t`), in letters, digits and `_` only, and unlike the names before it.
fn data_file_name(schema: &str, table: &str, taken: &[String]) -> String {
    let name = match schema == super::DEFAULT_SCHEMA {
        true => table.to_string(),
        false => format!("{schema}_{table}"),
    };
    let plain: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut unique = plain.clone();
    let mut n = 1;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&unique)) {
        n += 1;
        unique = format!("{plain}_{n}");
    }
    unique
}

/// Runs `folder`'s `schema.sql` then its `load.sql`, in a transaction of their own unless one
/// is open (then the open one holds them).
pub(super) async fn import(session: &mut SqlSession, folder: &str) -> Result<()> {
    let mut statements = Vec::new();
    for name in ["schema.sql", "load.sql"] {
        let path = Path::new(folder).join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| TarnError::io("read", path.display().to_string(), e))?;
        for statement in split_statements(&text)? {
            statements.push((name, statement));
        }
    }
    let own_transaction = !session.in_transaction();
    // A transaction puts back tables, views and macros, not sequences: those the import made
    // are dropped by hand should it fail.
    let sequences_before = session.sequences.names();
    if own_transaction {
        collect(session.execute("BEGIN").await?).await?;
    }
    for (file, statement) in &statements {
        let ran = match session.execute(statement).await {
            Ok(stream) => collect(stream).await.map(|_| ()),
            Err(err) => Err(err),
        };
        if let Err(err) = ran {
            if own_transaction {
                collect(session.execute("ROLLBACK").await?).await?;
                session.sequences.retain(&sequences_before);
            }
            return Err(TarnError::Invalid(format!(
                "IMPORT DATABASE: {folder}/{file}: `{}` failed: {err}",
                statement.trim()
            )));
        }
    }
    if own_transaction {
        collect(session.execute("COMMIT").await?).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_read_with_their_format() {
        let read = |sql: &str| DatabaseStatement::of(sql).unwrap();
        assert_eq!(
            read("EXPORT DATABASE 'out'"),
            Some(DatabaseStatement::Export {
                folder: "out".into(),
                format: FileFormatKind::Parquet
            })
        );
        assert_eq!(
            read("export database 'out' (FORMAT csv);"),
            Some(DatabaseStatement::Export {
                folder: "out".into(),
                format: FileFormatKind::Csv
            })
        );
        assert_eq!(
            read("IMPORT DATABASE 'out'"),
            Some(DatabaseStatement::Import {
                folder: "out".into()
            })
        );
        assert_eq!(read("EXPORT DATA OPTIONS (x = 1) AS SELECT 1"), None);
        for bad in [
            "EXPORT DATABASE out",
            "EXPORT DATABASE 'out' (FORMAT avro)",
            "EXPORT DATABASE 'out' (COMPRESSION zstd)",
            "IMPORT DATABASE 'out' (FORMAT csv)",
        ] {
            assert!(DatabaseStatement::of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_files_are_named_after_their_tables() {
        assert_eq!(data_file_name("main", "docs", &[]), "docs");
        assert_eq!(data_file_name("raw", "my docs", &[]), "raw_my_docs");
        assert_eq!(data_file_name("main", "a_b", &["a_b".into()]), "a_b_2");
    }
}
