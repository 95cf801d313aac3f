//! The interactive shell: multi-line statements ending in `;`, history in `~/.tarn_history`,
//! completion of keywords, tables, columns, functions and quoted file paths, and syntax
//! highlighting. Ctrl-C clears the line (or cancels the running query); Ctrl-D leaves.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper, history::FileHistory};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::keywords::ALL_KEYWORDS;
use sqlparser::tokenizer::{Token, Tokenizer};
use tarn_engine::sql::{TABLE_FUNCTIONS, is_complete};

use crate::console::Console;

/// Names the completer offers besides keywords, refreshed before each prompt.
#[derive(Default)]
struct SqlHelper {
    names: BTreeSet<String>,
}

pub fn run(runtime: &tokio::runtime::Runtime, console: &mut Console) -> anyhow::Result<()> {
    let mut editor: Editor<SqlHelper, FileHistory> = Editor::new()?;
    editor.set_helper(Some(SqlHelper::default()));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "Tarn {} SQL shell. Enter \".help\" for usage hints.",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        let names = runtime.block_on(completion_names(console));
        if let Some(helper) = editor.helper_mut() {
            helper.names = names;
        }
        match editor.readline("tarn> ") {
            Ok(text) => {
                if text.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(text.as_str());
                if let Some(path) = &history {
                    let _ = editor.append_history(path);
                }
                runtime.block_on(console.run_script(&text));
                if console.should_quit() {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".tarn_history"))
}

/// Tables, their columns, and every function the session knows.
async fn completion_names(console: &Console) -> BTreeSet<String> {
    let session = console.session();
    let mut names = BTreeSet::new();
    for table in session.table_names() {
        if let Ok(provider) = session.context().table_provider(table.as_str()).await {
            names.extend(provider.schema().fields().iter().map(|f| f.name().clone()));
        }
        names.insert(table);
    }
    let state = session.context().state();
    names.extend(state.scalar_functions().keys().cloned());
    names.extend(state.aggregate_functions().keys().cloned());
    names.extend(state.window_functions().keys().cloned());
    names.extend(TABLE_FUNCTIONS.iter().map(|f| f.to_string()));
    names
}

impl Helper for SqlHelper {}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with('.') || input.trim().is_empty() || is_complete(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if let Some(quote) = open_quote(before) {
            return Ok(complete_path(before, quote + 1));
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, vec![]));
        }
        let lower = word.to_ascii_lowercase();
        let upper_case = word.chars().all(|c| !c.is_lowercase());
        let keywords = ALL_KEYWORDS
            .iter()
            .filter(|k| k.to_ascii_lowercase().starts_with(&lower))
            .map(|k| {
                if upper_case {
                    k.to_string()
                } else {
                    k.to_ascii_lowercase()
                }
            });
        let names = self
            .names
            .iter()
            .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
            .cloned();
        let mut candidates: Vec<String> = names.chain(keywords).collect();
        candidates.dedup();
        Ok((
            start,
            candidates
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

/// The byte index of an unclosed single quote before the cursor.
fn open_quote(before: &str) -> Option<usize> {
    let mut open = None;
    for (i, c) in before.char_indices() {
        if c == '\'' {
            open = match open {
                Some(_) => None,
                None => Some(i),
            };
        }
    }
    open
}

/// File and folder names that complete the path typed after a quote.
fn complete_path(before: &str, start: usize) -> (usize, Vec<Pair>) {
    let typed = &before[start..];
    let (dir, prefix) = match typed.rfind('/') {
        Some(i) => (&typed[..=i], &typed[i + 1..]),
        None => ("", typed),
    };
    let listing = if dir.is_empty() { "." } else { dir };
    let mut candidates: Vec<Pair> = std::fs::read_dir(listing)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            let slash = if entry.path().is_dir() { "/" } else { "" };
            Some(Pair {
                display: format!("{name}{slash}"),
                replacement: format!("{dir}{name}{slash}"),
            })
        })
        .collect();
    candidates.sort_by(|a, b| a.display.cmp(&b.display));
    (start, candidates)
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if line.trim_start().starts_with('.') {
            return Cow::Borrowed(line);
        }
        let Ok(tokens) = Tokenizer::new(&DuckDbDialect {}, line).tokenize() else {
            return Cow::Borrowed(line);
        };
        let mut out = String::with_capacity(line.len() + 32);
        for token in tokens {
            let text = token.to_string();
            let color = match &token {
                Token::Word(w)
                    if w.quote_style.is_none()
                        && w.keyword != sqlparser::keywords::Keyword::NoKeyword =>
                {
                    Some("1;34")
                }
                Token::SingleQuotedString(_) => Some("32"),
                Token::Number(..) => Some("33"),
                Token::Whitespace(sqlparser::tokenizer::Whitespace::SingleLineComment {
                    ..
                })
                | Token::Whitespace(sqlparser::tokenizer::Whitespace::MultiLineComment(_)) => {
                    Some("2")
                }
                _ => None,
            };
            match color {
                Some(code) => out.push_str(&format!("\x1b[{code}m{text}\x1b[0m")),
                None => out.push_str(&text),
            }
        }
        // Re-serialising tokens must give back the same text, or the cursor would drift.
        if strip_ansi(&out) == line {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_keywords_names_and_paths() {
        let mut helper = SqlHelper::default();
        helper.names.insert("lineitem".into());
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let (start, found) = helper.complete("SELECT * FROM line", 18, &ctx).unwrap();
        assert_eq!(start, 14);
        assert!(found.iter().any(|p| p.replacement == "lineitem"));
        let (_, found) = helper.complete("SEL", 3, &ctx).unwrap();
        assert!(found.iter().any(|p| p.replacement == "SELECT"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("corpus.parquet"), b"").unwrap();
        let line = format!("FROM '{}/cor", dir.path().display());
        let (_, found) = helper.complete(&line, line.len(), &ctx).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].replacement.ends_with("/corpus.parquet"));
    }

    #[test]
    fn highlighting_keeps_the_text() {
        let helper = SqlHelper::default();
        let line = "SELECT 'a', 42 FROM t -- note";
        let highlighted = helper.highlight(line, 0);
        assert!(highlighted.contains("\x1b[1;34mSELECT"));
        assert_eq!(strip_ansi(&highlighted), line);
    }
}
