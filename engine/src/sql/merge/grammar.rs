//! DuckDB's MERGE grammar, read at the token level into the statement's parts as SQL text.
//!
//! sqlparser reads only the standard forms (`UPDATE SET a = ..`, `INSERT (..) VALUES (..)`,
//! `DELETE`), not DuckDB's `USING (cols)`, `UPDATE [SET *]`, `INSERT [*]`, `BY NAME`,
//! `DEFAULT VALUES`, `DO NOTHING` or `ERROR`. Each part is kept as the text the user wrote,
//! so that the query MERGE runs as passes through every rewrite a query does.

use datafusion::sql::sqlparser::tokenizer::{Token, Word};
use sqlparser::ast::Ident;

use super::super::tokens::{is_keyword, nesting, written};
use crate::error::{Result, TarnError};

/// A MERGE statement's parts.
pub(super) struct MergeStatement {
    /// A leading `WITH ...` clause, with a trailing space, or empty.
    pub with: String,
    /// The target table and its alias: `people AS p`.
    pub target: String,
    /// The source relation and its alias: `(SELECT ..) AS u`, `updates`.
    pub source: String,
    pub matching: Matching,
    pub clauses: Vec<Clause>,
    /// The select list of a RETURNING clause.
    pub returning: Option<String>,
}

/// How target rows match source rows.
pub(super) enum Matching {
    /// `ON condition`.
    On(String),
    /// `USING (a, b)`: the columns of these names are equal.
    Using(Vec<Ident>),
}

/// A `WHEN ... THEN action` clause.
pub(super) struct Clause {
    pub kind: ClauseKind,
    /// The clause's `AND condition`.
    pub condition: Option<String>,
    pub action: Action,
}

/// Which rows a clause is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ClauseKind {
    /// A target row and a source row the condition matches.
    Matched,
    /// A source row no target row matches.
    NotMatchedByTarget,
    /// A target row no source row matches.
    NotMatchedBySource,
}

impl ClauseKind {
    /// The clause's opening words, as DuckDB's messages name it.
    pub fn label(self) -> &'static str {
        match self {
            ClauseKind::Matched => "WHEN MATCHED",
            ClauseKind::NotMatchedByTarget => "WHEN NOT MATCHED",
            ClauseKind::NotMatchedBySource => "WHEN NOT MATCHED BY SOURCE",
        }
    }
}

/// What a clause does with its rows.
pub(super) enum Action {
    Update(Values),
    Insert(Values),
    Delete,
    Nothing,
    /// `ERROR [message]`: the statement fails.
    Error(Option<String>),
}

/// The values an UPDATE or INSERT writes.
pub(super) enum Values {
    /// The source's columns, the first to the table's first column and so on (`SET *`,
    /// `INSERT *`, `BY POSITION`, or no values at all).
    ByPosition,
    /// The source's columns to the table's columns of the same names (`BY NAME`).
    ByName,
    /// `SET a = x, b = y`, or `INSERT [(a, b)] VALUES (x, y)` (no columns: the table's, in
    /// order). A value written `DEFAULT` is the column's default.
    Listed(Vec<(Option<Ident>, String)>),
    /// `INSERT DEFAULT VALUES`.
    Defaults,
}

/// Whether `statement` is a MERGE, with or without a leading WITH clause.
pub(in crate::sql) fn is_merge(statement: &str) -> bool {
    crate::sql::tokenize(statement)
        .is_ok_and(|tokens| merge_keyword(&tokens, &nesting(&tokens)).is_some())
}

/// The index of the statement's MERGE keyword: its first word, or the word after a WITH
/// list, which follows the last query's closing parenthesis (a CTE may be named `merge`).
fn merge_keyword(tokens: &[Token], depths: &[usize]) -> Option<usize> {
    let words: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let first = *words.first()?;
    if is_keyword(&tokens[first], "MERGE") {
        return Some(first);
    }
    if !is_keyword(&tokens[first], "WITH") {
        return None;
    }
    words.windows(2).find_map(|pair| {
        let after_query = tokens[pair[0]] == Token::RParen;
        (after_query && depths[pair[1]] == 0 && is_keyword(&tokens[pair[1]], "MERGE"))
            .then_some(pair[1])
    })
}

/// Reads a MERGE statement (see the module documentation).
pub(super) fn parse(statement: &str) -> Result<MergeStatement> {
    let tokens = crate::sql::tokenize(statement)?;
    let depths = nesting(&tokens);
    let mut cursor = Cursor::new(&tokens, &depths);
    let merge = merge_keyword(&tokens, &depths)
        .ok_or_else(|| TarnError::Parse("not a MERGE statement".to_string()))?;
    let with = match written(&tokens[..merge]).trim() {
        "" => String::new(),
        with => format!("{with} "),
    };
    cursor.at = merge + 1;
    cursor.keyword("INTO");
    let target = cursor.required_text(&["USING"], "the target table")?;
    cursor.expect("USING")?;
    let source = cursor.required_text(&["ON", "USING"], "the source")?;
    let matching = if cursor.keyword("ON") {
        Matching::On(cursor.required_text(&["WHEN"], "the ON condition")?)
    } else {
        cursor.expect("USING")?;
        let (start, end) = cursor.span_until(&["WHEN"]);
        Matching::Using(column_list(&tokens[start..end])?)
    };
    let mut clauses = Vec::new();
    while cursor.keyword("WHEN") {
        clauses.push(clause(&mut cursor)?);
    }
    let returning = match cursor.keyword("RETURNING") {
        true => Some(cursor.required_text(&[], "the RETURNING list")?),
        false => None,
    };
    cursor.finish()?;
    if clauses.is_empty() {
        return Err(TarnError::Parse(
            "MERGE needs at least one WHEN ... THEN clause".to_string(),
        ));
    }
    refuse_unreachable(&clauses)?;
    Ok(MergeStatement {
        with,
        target,
        source,
        matching,
        clauses,
        returning,
    })
}

/// One clause, after its `WHEN`.
fn clause(cursor: &mut Cursor) -> Result<Clause> {
    let kind = match cursor.keyword("NOT") {
        false => ClauseKind::Matched,
        true => {
            cursor.expect("MATCHED")?;
            if cursor.keyword("BY") {
                match (cursor.keyword("SOURCE"), cursor.keyword("TARGET")) {
                    (true, _) => ClauseKind::NotMatchedBySource,
                    (_, true) => ClauseKind::NotMatchedByTarget,
                    _ => return Err(cursor.unexpected("SOURCE or TARGET")),
                }
            } else {
                ClauseKind::NotMatchedByTarget
            }
        }
    };
    if kind == ClauseKind::Matched {
        cursor.expect("MATCHED")?;
    }
    let condition = match cursor.keyword("AND") {
        true => Some(cursor.required_text(&["THEN"], "the clause's condition")?),
        false => None,
    };
    cursor.expect("THEN")?;
    let (start, end) = cursor.span_until(&["WHEN", "RETURNING"]);
    let mut action = Cursor {
        tokens: cursor.tokens,
        depths: cursor.depths,
        at: start,
        end,
    };
    let parsed = parse_action(&mut action, kind)?;
    action.finish()?;
    Ok(Clause {
        kind,
        condition,
        action: parsed,
    })
}

/// A clause's action, after its `THEN`.
fn parse_action(cursor: &mut Cursor, kind: ClauseKind) -> Result<Action> {
    let for_target_rows = kind != ClauseKind::NotMatchedByTarget;
    let refused = |action: &str| {
        Err(TarnError::Parse(format!(
            "{action} is not allowed in a {} clause",
            kind.label()
        )))
    };
    if cursor.keyword("UPDATE") {
        if !for_target_rows {
            return refused("UPDATE");
        }
        if cursor.keyword("SET") {
            if cursor.star() {
                return Ok(Action::Update(Values::ByPosition));
            }
            return Ok(Action::Update(Values::Listed(assignments(cursor)?)));
        }
        return Ok(Action::Update(by_name_or_position(cursor)?));
    }
    if cursor.keyword("INSERT") {
        if for_target_rows {
            return refused("INSERT");
        }
        if cursor.keyword("DEFAULT") {
            cursor.expect("VALUES")?;
            return Ok(Action::Insert(Values::Defaults));
        }
        if cursor.star() {
            return Ok(Action::Insert(Values::ByPosition));
        }
        let columns = match cursor.peek_token() == Some(&Token::LParen) {
            true => {
                let (start, end) = cursor.span_until(&["VALUES"]);
                Some(column_list(&cursor.tokens[start..end])?)
            }
            false => None,
        };
        if !cursor.keyword("VALUES") {
            return match columns {
                None => Ok(Action::Insert(by_name_or_position(cursor)?)),
                Some(_) => Err(cursor.unexpected("VALUES")),
            };
        }
        let (start, end) = cursor.span_until(&[]);
        let values = parenthesized_list(cursor, start, end)?;
        let listed = match columns {
            Some(columns) if columns.len() != values.len() => {
                return Err(TarnError::Invalid(format!(
                    "Column name/value mismatch for insert: expected {} columns but {} values \
                     were supplied",
                    columns.len(),
                    values.len()
                )));
            }
            Some(columns) => columns.into_iter().map(Some).zip(values).collect(),
            None => values.into_iter().map(|value| (None, value)).collect(),
        };
        return Ok(Action::Insert(Values::Listed(listed)));
    }
    if cursor.keyword("DELETE") {
        if !for_target_rows {
            return refused("DELETE");
        }
        return Ok(Action::Delete);
    }
    if cursor.keyword("DO") {
        cursor.expect("NOTHING")?;
        return Ok(Action::Nothing);
    }
    if cursor.keyword("ERROR") {
        let (start, end) = cursor.span_until(&[]);
        let message = written(&cursor.tokens[start..end]).trim().to_string();
        return Ok(Action::Error((!message.is_empty()).then_some(message)));
    }
    Err(cursor.unexpected("UPDATE, INSERT, DELETE, DO NOTHING or ERROR"))
}

/// `BY NAME`, `BY POSITION`, or nothing (by position).
fn by_name_or_position(cursor: &mut Cursor) -> Result<Values> {
    if !cursor.keyword("BY") {
        return Ok(Values::ByPosition);
    }
    match (cursor.keyword("NAME"), cursor.keyword("POSITION")) {
        (true, _) => Ok(Values::ByName),
        (_, true) => Ok(Values::ByPosition),
        _ => Err(cursor.unexpected("NAME or POSITION")),
    }
}

/// `a = x, b = y` to the end of the action.
fn assignments(cursor: &mut Cursor) -> Result<Vec<(Option<Ident>, String)>> {
    let (start, end) = cursor.span_until(&[]);
    let mut listed = Vec::new();
    for (start, end) in cursor.split_commas(start, end, 0) {
        let significant: Vec<usize> = (start..end)
            .filter(|&i| !matches!(cursor.tokens[i], Token::Whitespace(_)))
            .collect();
        let token = |k: usize| significant.get(k).map(|&i| &cursor.tokens[i]);
        if token(1) == Some(&Token::Period) {
            return Err(TarnError::Parse(
                "Qualified column names in UPDATE .. SET not supported".to_string(),
            ));
        }
        if token(1) != Some(&Token::Eq) || significant.len() < 3 {
            return Err(TarnError::Parse(format!(
                "UPDATE SET {}: expected column = value",
                written(&cursor.tokens[start..end]).trim()
            )));
        }
        let (column, value) = (significant[0], significant[2]);
        let Token::Word(word) = &cursor.tokens[column] else {
            return Err(TarnError::Parse(format!(
                "UPDATE SET {}: expected a column name",
                cursor.tokens[column]
            )));
        };
        listed.push((
            Some(word_ident(word)),
            written(&cursor.tokens[value..end]).trim().to_string(),
        ));
    }
    Ok(listed)
}

/// The texts of a parenthesized, comma-separated list spanning `start..end`.
fn parenthesized_list(cursor: &Cursor, start: usize, end: usize) -> Result<Vec<String>> {
    let significant: Vec<usize> = (start..end)
        .filter(|&i| !matches!(cursor.tokens[i], Token::Whitespace(_)))
        .collect();
    let enclosed = |open: usize, close: usize| {
        let inner = cursor.depths[open];
        cursor.tokens[open] == Token::LParen
            && cursor.tokens[close] == Token::RParen
            && (open + 1..close).all(|i| cursor.depths[i] >= inner)
    };
    match significant.as_slice() {
        [open, .., close] if enclosed(*open, *close) => {
            let inner = cursor.depths[*open];
            Ok(cursor
                .split_commas(open + 1, *close, inner)
                .into_iter()
                .map(|(a, b)| written(&cursor.tokens[a..b]).trim().to_string())
                .collect())
        }
        _ => Err(TarnError::Parse(format!(
            "expected a list in parentheses at \"{}\"",
            written(&cursor.tokens[start..end]).trim()
        ))),
    }
}

/// `(a, b)` as names.
fn column_list(tokens: &[Token]) -> Result<Vec<Ident>> {
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let listed = match significant.as_slice() {
        [Token::LParen, inner @ .., Token::RParen] => inner,
        _ => &[][..],
    };
    let names: Vec<Ident> = listed
        .iter()
        .step_by(2)
        .filter_map(|token| match token {
            Token::Word(word) => Some(word_ident(word)),
            _ => None,
        })
        .collect();
    let commas = listed
        .iter()
        .skip(1)
        .step_by(2)
        .all(|t| **t == Token::Comma);
    let alternating = listed.len() % 2 == 1 && names.len() == listed.len().div_ceil(2);
    if !commas || !alternating {
        return Err(TarnError::Parse(format!(
            "expected a list of column names in parentheses, found \"{}\"",
            written(tokens).trim()
        )));
    }
    Ok(names)
}

/// The name a word token spells, quoted as it was.
fn word_ident(word: &Word) -> Ident {
    match word.quote_style {
        Some(quote) => Ident::with_quote(quote, &word.value),
        None => Ident::new(&word.value),
    }
}

/// DuckDB refuses a clause that an unconditional clause of its kind before it shadows.
fn refuse_unreachable(clauses: &[Clause]) -> Result<()> {
    for (i, clause) in clauses.iter().enumerate() {
        let shadowed = clauses[i + 1..]
            .iter()
            .any(|later| later.kind == clause.kind);
        if clause.condition.is_none() && shadowed {
            let label = clause.kind.label();
            return Err(TarnError::Parse(format!(
                "Unconditional {label} clause was already defined - any following {label} \
                 clause would be unreachable"
            )));
        }
    }
    Ok(())
}

/// A position in the statement's tokens, which reads clause keywords at depth 0.
struct Cursor<'a> {
    tokens: &'a [Token],
    /// Each token's [`nesting`] depth.
    depths: &'a [usize],
    at: usize,
    /// Where the part being read ends.
    end: usize,
}

impl<'a> Cursor<'a> {
    fn new(tokens: &'a [Token], depths: &'a [usize]) -> Self {
        let end = tokens
            .iter()
            .rposition(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon | Token::EOF))
            .map_or(0, |last| last + 1);
        Cursor {
            tokens,
            depths,
            at: 0,
            end,
        }
    }

    /// The index of the next token that is not whitespace.
    fn next_significant(&self) -> usize {
        let mut i = self.at;
        while i < self.end && matches!(self.tokens[i], Token::Whitespace(_)) {
            i += 1;
        }
        i
    }

    fn peek_token(&self) -> Option<&Token> {
        let i = self.next_significant();
        (i < self.end).then(|| &self.tokens[i])
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek_token().is_some_and(|t| is_keyword(t, keyword))
    }

    /// Takes `keyword` if it comes next.
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        if found {
            self.at = self.next_significant() + 1;
        }
        found
    }

    /// Takes a `*` that is all that is left.
    fn star(&mut self) -> bool {
        let i = self.next_significant();
        let alone = i < self.end
            && self.tokens[i] == Token::Mul
            && self.tokens[i + 1..self.end]
                .iter()
                .all(|t| matches!(t, Token::Whitespace(_)));
        if alone {
            self.at = self.end;
        }
        alone
    }

    fn expect(&mut self, keyword: &str) -> Result<()> {
        match self.keyword(keyword) {
            true => Ok(()),
            false => Err(self.unexpected(keyword)),
        }
    }

    fn unexpected(&self, expected: &str) -> TarnError {
        let found = match self.peek_token() {
            Some(token) => format!("\"{token}\""),
            None => "the end of the statement".to_string(),
        };
        TarnError::Parse(format!("MERGE: expected {expected}, found {found}"))
    }

    /// The tokens from here to the first of `stops` at depth 0 (or the end), which is left
    /// to read next.
    fn span_until(&mut self, stops: &[&str]) -> (usize, usize) {
        let start = self.at;
        let mut i = start;
        while i < self.end
            && !(self.depths[i] == 0 && stops.iter().any(|stop| is_keyword(&self.tokens[i], stop)))
        {
            i += 1;
        }
        self.at = i;
        (start, i)
    }

    fn text_until(&mut self, stops: &[&str]) -> String {
        let (start, end) = self.span_until(stops);
        written(&self.tokens[start..end]).trim().to_string()
    }

    /// [`Self::text_until`], which must not be empty; `what` names the part in the error.
    fn required_text(&mut self, stops: &[&str], what: &str) -> Result<String> {
        let text = self.text_until(stops);
        match text.is_empty() {
            true => Err(self.unexpected(what)),
            false => Ok(text),
        }
    }

    /// The spans between the commas of `start..end` at `depth`.
    fn split_commas(&self, start: usize, end: usize, depth: usize) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut from = start;
        for i in start..end {
            if self.tokens[i] == Token::Comma && self.depths[i] == depth {
                spans.push((from, i));
                from = i + 1;
            }
        }
        spans.push((from, end));
        spans
    }

    /// Fails unless every token of the part has been read.
    fn finish(&self) -> Result<()> {
        match self.peek_token() {
            None => Ok(()),
            Some(token) => Err(TarnError::Parse(format!(
                "MERGE: unexpected \"{token}\" at \"{}\"",
                written(&self.tokens[self.at..self.end]).trim()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(values: &Values) -> Vec<(Option<String>, String)> {
        match values {
            Values::Listed(listed) => listed
                .iter()
                .map(|(column, value)| (column.as_ref().map(|c| c.value.clone()), value.clone()))
                .collect(),
            _ => panic!("not a listed action"),
        }
    }

    #[test]
    fn reads_the_parts_of_a_standard_merge() {
        let merge = parse(
            "MERGE INTO people AS p USING (SELECT 1 AS id, 'x' AS name) u ON u.id = p.id \
             WHEN MATCHED AND CASE WHEN u.name = 'y' THEN true END THEN UPDATE SET name = \
             upper(u.name), \"id\" = 2 WHEN NOT MATCHED THEN INSERT (id, name) VALUES (u.id, \
             concat(u.name, ',')) WHEN NOT MATCHED BY SOURCE THEN DELETE RETURNING *;",
        )
        .unwrap();
        assert_eq!(merge.with, "");
        assert_eq!(merge.target, "people AS p");
        assert_eq!(merge.source, "(SELECT 1 AS id, 'x' AS name) u");
        assert!(matches!(&merge.matching, Matching::On(on) if on == "u.id = p.id"));
        assert_eq!(merge.clauses.len(), 3);
        assert_eq!(
            merge.clauses[0].condition.as_deref(),
            Some("CASE WHEN u.name = 'y' THEN true END")
        );
        let Action::Update(update) = &merge.clauses[0].action else {
            panic!("not an UPDATE")
        };
        assert_eq!(
            listed(update),
            [
                (Some("name".into()), "upper(u.name)".into()),
                (Some("id".into()), "2".into())
            ]
        );
        let Action::Insert(insert) = &merge.clauses[1].action else {
            panic!("not an INSERT")
        };
        assert_eq!(
            listed(insert),
            [
                (Some("id".into()), "u.id".into()),
                (Some("name".into()), "concat(u.name, ',')".into())
            ]
        );
        assert!(merge.clauses[2].kind == ClauseKind::NotMatchedBySource);
        assert!(matches!(merge.clauses[2].action, Action::Delete));
        assert_eq!(merge.returning.as_deref(), Some("*"));
    }

    #[test]
    fn reads_duckdb_forms() {
        let merge = parse(
            "WITH s AS (SELECT 1 AS id) MERGE INTO t USING s USING (id) WHEN MATCHED AND s.id \
             > 0 THEN UPDATE WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED AND false THEN \
             INSERT BY NAME WHEN NOT MATCHED BY TARGET AND true THEN INSERT DEFAULT VALUES \
             WHEN NOT MATCHED THEN ERROR 'missing ' || s.id",
        )
        .unwrap();
        assert_eq!(merge.with, "WITH s AS (SELECT 1 AS id) ");
        assert!(matches!(&merge.matching, Matching::Using(c) if c[0].value == "id"));
        let actions: Vec<&Action> = merge.clauses.iter().map(|c| &c.action).collect();
        assert!(matches!(actions[0], Action::Update(Values::ByPosition)));
        assert!(matches!(actions[1], Action::Update(Values::ByPosition)));
        assert!(matches!(actions[2], Action::Insert(Values::ByName)));
        assert!(matches!(actions[3], Action::Insert(Values::Defaults)));
        assert!(matches!(actions[4], Action::Error(Some(m)) if m == "'missing ' || s.id"));
        assert!(is_merge(
            "with s as (select 1) merge into t using s on true when matched then delete"
        ));
        assert!(!is_merge("WITH merge AS (SELECT 1) SELECT * FROM merge"));
        let named_merge = parse(
            "WITH merge AS (SELECT 1 AS id) MERGE INTO t USING merge ON t.id = merge.id \
             WHEN MATCHED THEN DELETE",
        )
        .unwrap();
        assert_eq!(named_merge.with, "WITH merge AS (SELECT 1 AS id) ");
        assert_eq!(named_merge.source, "merge");
    }

    #[test]
    fn refuses_what_duckdb_refuses() {
        let refused = |sql: &str| parse(sql).err().map(|e| e.to_string()).unwrap_or_default();
        let head = "MERGE INTO t USING s ON t.id = s.id ";
        assert!(
            refused(&format!(
                "{head}WHEN MATCHED THEN DELETE WHEN MATCHED THEN DO NOTHING"
            ))
            .contains("Unconditional WHEN MATCHED clause was already defined")
        );
        assert!(
            refused(&format!("{head}WHEN NOT MATCHED THEN UPDATE SET a = 1"))
                .contains("UPDATE is not allowed in a WHEN NOT MATCHED clause")
        );
        assert!(
            refused(&format!("{head}WHEN MATCHED THEN INSERT"))
                .contains("INSERT is not allowed in a WHEN MATCHED clause")
        );
        assert!(
            refused(&format!("{head}WHEN MATCHED THEN UPDATE SET t.a = 1"))
                .contains("Qualified column names")
        );
        assert!(
            refused(&format!(
                "{head}WHEN NOT MATCHED THEN INSERT (a) VALUES (1, 2)"
            ))
            .contains("expected 1 columns but 2 values")
        );
        assert!(refused(head).contains("at least one WHEN"));
        assert!(refused(&format!("{head}WHEN MATCHED THEN DELETE now")).contains("\"now\""));
    }
}
