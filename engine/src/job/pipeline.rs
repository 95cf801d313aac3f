//! Partitioned jobs written as SQL (`tarn run pipeline.sql`): statements that name stages,
//! each a DataFrame operation in function-call form, and `COPY` statements that write them.
//!
//! ```sql
//! CREATE STAGE docs AS read_parquet('corpus/*.parquet');
//! CREATE STAGE parts AS repartition(docs, 64, hash_by => 'url');
//! CREATE STAGE dedup AS partial_sql('SELECT url, any_value(text) AS text FROM {0} GROUP BY url', parts);
//! COPY dedup TO 'out/' (FORMAT parquet);
//! ```
//!
//! A bare name in the arguments is a stage; everything else is a constant, as in DuckDB's table
//! functions. Named arguments use `=>` or `:=`.

use std::collections::HashMap;

use crate::sql::dialect::TarnDialect;
use sqlparser::ast::{Expr, FunctionArguments};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::dataframe::{DataFrame, RangeSplits};
use super::report::JobReport;
use super::session::{ReadParquet, Session};
use crate::error::{Result, TarnError};
use crate::sql::args::{Const, as_paths, evaluate_args, reject_named, string_list};
use crate::sql::split_statements;

/// The stage functions, for help texts and completion.
pub const STAGE_FUNCTIONS: &[&str] = &[
    "read_parquet",
    "read_csv",
    "read_json",
    "repartition",
    "random_shuffle",
    "partial_sql",
    "filter",
    "map",
    "partial_sort",
    "near_duplicates",
    "limit",
    "union",
];

/// A parsed pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    statements: Vec<(usize, Statement)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Statement {
    Stage { name: String, call: Call },
    Copy { stage: String, path: String },
}

/// A stage function call: stage names and constants in the order written, then named values.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    function: String,
    stages: Vec<String>,
    values: Vec<Const>,
    named: Vec<(String, Const)>,
}

impl Pipeline {
    /// Parses every statement; an error names the statement's number and what is wrong.
    pub fn parse(text: &str) -> Result<Pipeline> {
        let mut statements = Vec::new();
        for (index, statement) in split_statements(text)?.iter().enumerate() {
            let number = index + 1;
            let parsed = parse_statement(statement).map_err(|e| at(number, e))?;
            statements.push((number, parsed));
        }
        if statements.is_empty() {
            return Err(TarnError::Invalid("the pipeline has no statements".into()));
        }
        Ok(Pipeline { statements })
    }

    /// Builds the stages and runs each `COPY`, returning what each one ran.
    pub async fn run(&self, session: &Session) -> Result<Vec<(String, JobReport)>> {
        let mut stages: HashMap<String, DataFrame> = HashMap::new();
        let mut reports = Vec::new();
        for (number, statement) in &self.statements {
            let result = async {
                match statement {
                    Statement::Stage { name, call } => {
                        let df = build(session, call, &stages).await?;
                        stages.insert(name.clone(), df);
                    }
                    Statement::Copy { stage, path } => {
                        let report = stage_named(&stages, stage)?.write_parquet(path).await?;
                        reports.push((path.clone(), report));
                    }
                }
                Ok::<_, TarnError>(())
            }
            .await;
            result.map_err(|e| at(*number, e))?;
        }
        Ok(reports)
    }

    /// The plan of every stage that a `COPY` writes.
    pub async fn explain(&self, session: &Session) -> Result<String> {
        let mut stages: HashMap<String, DataFrame> = HashMap::new();
        let mut out = String::new();
        for (number, statement) in &self.statements {
            match statement {
                Statement::Stage { name, call } => {
                    let df = build(session, call, &stages)
                        .await
                        .map_err(|e| at(*number, e))?;
                    stages.insert(name.clone(), df);
                }
                Statement::Copy { stage, path } => {
                    let df = stage_named(&stages, stage).map_err(|e| at(*number, e))?;
                    out.push_str(&format!("COPY {stage} TO '{path}'\n{}\n", df.explain()));
                }
            }
        }
        Ok(out)
    }
}

fn at(number: usize, err: TarnError) -> TarnError {
    match err {
        TarnError::Parse(m) => TarnError::Parse(format!("statement {number}: {m}")),
        TarnError::Invalid(m) => TarnError::Invalid(format!("statement {number}: {m}")),
        other => other,
    }
}

fn parse_statement(text: &str) -> Result<Statement> {
    let dialect = TarnDialect;
    let parse_error = |e: sqlparser::parser::ParserError| TarnError::Parse(e.to_string());
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(parse_error)?;
    if parser.parse_keyword(Keyword::CREATE) {
        if !parser.parse_keyword(Keyword::STAGE) {
            return Err(TarnError::Parse(
                "expected CREATE STAGE name AS function(...)".into(),
            ));
        }
        let name = parser.parse_identifier().map_err(parse_error)?.value;
        parser.expect_keyword(Keyword::AS).map_err(parse_error)?;
        let expr = parser.parse_expr().map_err(parse_error)?;
        expect_end(&mut parser)?;
        return Ok(Statement::Stage {
            name,
            call: call(&expr)?,
        });
    }
    if parser.parse_keyword(Keyword::COPY) {
        let stage = parser.parse_identifier().map_err(parse_error)?.value;
        parser.expect_keyword(Keyword::TO).map_err(parse_error)?;
        let path = parser.parse_literal_string().map_err(parse_error)?;
        if parser.consume_token(&Token::LParen) {
            loop {
                let key = parser.parse_identifier().map_err(parse_error)?.value;
                let value = parser.parse_identifier().map_err(parse_error)?.value;
                if !(key.eq_ignore_ascii_case("format") && value.eq_ignore_ascii_case("parquet")) {
                    return Err(TarnError::Invalid(format!(
                        "COPY of a stage takes only (FORMAT parquet), got {key} {value}"
                    )));
                }
                if !parser.consume_token(&Token::Comma) {
                    break;
                }
            }
            parser.expect_token(&Token::RParen).map_err(parse_error)?;
        }
        expect_end(&mut parser)?;
        return Ok(Statement::Copy { stage, path });
    }
    Err(TarnError::Parse(format!(
        "a pipeline statement is CREATE STAGE ... or COPY ..., got '{}'",
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )))
}

fn expect_end(parser: &mut Parser) -> Result<()> {
    match parser.peek_token().token {
        Token::EOF | Token::SemiColon => Ok(()),
        other => Err(TarnError::Parse(format!(
            "unexpected '{other}' after the statement"
        ))),
    }
}

/// Reads a stage expression: a function call whose bare-name arguments are stages.
fn call(expr: &Expr) -> Result<Call> {
    let Expr::Function(function) = expr else {
        return Err(TarnError::Invalid(format!(
            "a stage is a function call such as read_parquet('path'), got '{expr}'"
        )));
    };
    let name = function.name.to_string().to_ascii_lowercase();
    if !STAGE_FUNCTIONS.contains(&name.as_str()) {
        return Err(TarnError::Invalid(format!(
            "unknown stage function {name}() (there are {})",
            STAGE_FUNCTIONS.join(", ")
        )));
    }
    let args = match &function.args {
        FunctionArguments::List(list) => list.args.clone(),
        _ => vec![],
    };
    let mut stages = Vec::new();
    let mut rest = Vec::new();
    for arg in args {
        match &arg {
            sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(
                Expr::Identifier(ident),
            )) => stages.push(ident.value.clone()),
            _ => rest.push(arg),
        }
    }
    let (values, named) = evaluate_args(&name, &rest)?;
    Ok(Call {
        function: name,
        stages,
        values,
        named,
    })
}

fn stage_named<'a>(stages: &'a HashMap<String, DataFrame>, name: &str) -> Result<&'a DataFrame> {
    stages.get(name).ok_or_else(|| {
        TarnError::Invalid(format!(
            "no stage named '{name}' (stages are created before use)"
        ))
    })
}

/// The DataFrame a stage call makes.
async fn build(
    session: &Session,
    call: &Call,
    stages: &HashMap<String, DataFrame>,
) -> Result<DataFrame> {
    let name = call.function.as_str();
    let inputs = call
        .stages
        .iter()
        .map(|s| stage_named(stages, s))
        .collect::<Result<Vec<_>>>()?;
    let named = |key: &str| call.named.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let text = |i: usize, what: &str| match call.values.get(i) {
        Some(Const::Str(s)) => Ok(s.clone()),
        _ => Err(TarnError::Invalid(format!(
            "{name}() needs {what} as a string"
        ))),
    };
    let count = |i: usize, what: &str| match call.values.get(i) {
        Some(Const::Int(n)) if *n >= 0 => Ok(*n as usize),
        _ => Err(TarnError::Invalid(format!(
            "{name}() needs {what} as a whole number"
        ))),
    };
    let one_input = || match inputs.as_slice() {
        [df] => Ok(*df),
        _ => Err(TarnError::Invalid(format!(
            "{name}() reads exactly one stage, got {}",
            inputs.len()
        ))),
    };
    let no_inputs = || {
        if inputs.is_empty() {
            Ok(())
        } else {
            Err(TarnError::Invalid(format!(
                "{name}() reads files, not stages"
            )))
        }
    };
    match name {
        "read_parquet" => {
            no_inputs()?;
            reject_named(
                name,
                &call.named,
                &["recursive", "columns", "union_by_name"],
            )?;
            let paths = as_paths(name, first_value(call)?)?;
            let options = ReadParquet {
                recursive: flag(named("recursive"))?,
                columns: named("columns").map(strings).transpose()?,
                union_by_name: flag(named("union_by_name"))?,
            };
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            session.read_parquet(&paths, options).await
        }
        "read_csv" => {
            no_inputs()?;
            reject_named(name, &call.named, &["delim"])?;
            let paths = as_paths(name, first_value(call)?)?;
            let delimiter = match named("delim") {
                Some(Const::Str(d)) if d.len() == 1 => d.as_bytes()[0],
                None => b',',
                Some(other) => {
                    return Err(TarnError::Invalid(format!(
                        "read_csv(): delim must be one character, got {other:?}"
                    )));
                }
            };
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            session.read_csv(&paths, None, delimiter).await
        }
        "read_json" => {
            no_inputs()?;
            reject_named(name, &call.named, &[])?;
            let paths = as_paths(name, first_value(call)?)?;
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            session.read_json(&paths, None).await
        }
        "repartition" => {
            let allowed = [
                "hash_by",
                "by",
                "by_rows",
                "range_by",
                "split_points",
                "by_expert",
                "expert_slots",
            ];
            reject_named(name, &call.named, &allowed)?;
            let df = one_input()?;
            let n = count(0, "the number of partitions")?;
            if let Some(columns) = named("hash_by") {
                let columns = strings(columns)?;
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                df.repartition_hash(n, &columns)
            } else if let Some(column) = named("by") {
                df.repartition_by(n, &single_string(name, "by", column)?)
            } else if let Some(column) = named("by_expert") {
                let slots = match named("expert_slots") {
                    Some(Const::Int(slots)) if *slots > 0 => Some(*slots as usize),
                    None => None,
                    Some(other) => {
                        return Err(TarnError::Invalid(format!(
                            "repartition(): expert_slots must be a positive integer, got {other:?}"
                        )));
                    }
                };
                let column = single_string(name, "by_expert", column)?;
                df.repartition_by_expert(n, &column, slots).await
            } else if let Some(column) = named("range_by") {
                let splits = match named("split_points") {
                    Some(Const::List(points)) => {
                        RangeSplits::Points(points.iter().map(json).collect::<Result<_>>()?)
                    }
                    Some(other) => {
                        return Err(TarnError::Invalid(format!(
                            "repartition(): split_points must be a list, got {other:?}"
                        )));
                    }
                    None => RangeSplits::Sampled,
                };
                df.repartition_range(n, &single_string(name, "range_by", column)?, splits)
            } else if flag(named("by_rows"))? {
                df.repartition_by_rows(n)
            } else {
                df.repartition(n)
            }
        }
        "random_shuffle" => {
            reject_named(name, &call.named, &[])?;
            one_input()?.random_shuffle().await
        }
        "partial_sql" => {
            reject_named(name, &call.named, &[])?;
            session.partial_sql(&text(0, "the query")?, &inputs).await
        }
        "filter" => {
            reject_named(name, &call.named, &[])?;
            one_input()?.filter(&text(0, "the condition")?).await
        }
        "map" => {
            reject_named(name, &call.named, &[])?;
            one_input()?.map(&text(0, "the select list")?).await
        }
        "partial_sort" => {
            reject_named(name, &call.named, &[])?;
            let columns = strings(first_value(call)?)?;
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            one_input()?.partial_sort(&columns).await
        }
        "near_duplicates" => {
            reject_named(name, &call.named, &[])?;
            let threshold = match call.values.get(1) {
                Some(Const::Float(t)) => *t,
                Some(Const::Int(t)) => *t as f64,
                _ => {
                    return Err(TarnError::Invalid(
                        "near_duplicates() needs the similarity threshold as a number".into(),
                    ));
                }
            };
            one_input()?
                .near_duplicates(&text(0, "the vector column")?, threshold)
                .await
        }
        "limit" => {
            reject_named(name, &call.named, &[])?;
            one_input()?.limit(count(0, "the row count")?).await
        }
        "union" => {
            reject_named(name, &call.named, &[])?;
            match inputs.as_slice() {
                [first, rest @ ..] if !rest.is_empty() => {
                    let mut all = (*first).clone();
                    for other in rest {
                        all = all.union(other)?;
                    }
                    Ok(all)
                }
                _ => Err(TarnError::Invalid(
                    "union() needs two or more stages".into(),
                )),
            }
        }
        _ => unreachable!("the function name was checked against STAGE_FUNCTIONS"),
    }
}

fn first_value(call: &Call) -> Result<&Const> {
    call.values.first().ok_or_else(|| {
        TarnError::Invalid(format!("{}() is missing its first argument", call.function))
    })
}

fn flag(value: Option<&Const>) -> Result<bool> {
    match value {
        None => Ok(false),
        Some(Const::Bool(b)) => Ok(*b),
        Some(other) => Err(TarnError::Invalid(format!(
            "expected true or false, got {other:?}"
        ))),
    }
}

/// Column names: a string or a list of strings.
fn strings(value: &Const) -> Result<Vec<String>> {
    string_list(value).ok_or_else(|| {
        TarnError::Invalid(format!(
            "expected a column name or a list of them, got {value:?}"
        ))
    })
}

fn single_string(function: &str, key: &str, value: &Const) -> Result<String> {
    match value {
        Const::Str(s) => Ok(s.clone()),
        other => Err(TarnError::Invalid(format!(
            "{function}(): {key} must be one column name, got {other:?}"
        ))),
    }
}

fn json(value: &Const) -> Result<serde_json::Value> {
    match value {
        Const::Int(n) => Ok((*n).into()),
        Const::Float(f) => Ok((*f).into()),
        Const::Str(s) => Ok(s.clone().into()),
        other => Err(TarnError::Invalid(format!(
            "a split point is a number or a string, got {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stages_and_copies() {
        let pipeline = Pipeline::parse(
            "CREATE STAGE docs AS read_parquet('corpus/*.parquet');
             create stage parts as repartition(docs, 64, hash_by => 'url');
             CREATE STAGE dedup AS partial_sql('SELECT url FROM {0} GROUP BY url', parts);
             COPY dedup TO 'out/' (FORMAT parquet);",
        )
        .unwrap();
        assert_eq!(pipeline.statements.len(), 4);
        let Statement::Stage { name, call } = &pipeline.statements[1].1 else {
            panic!()
        };
        assert_eq!(name, "parts");
        assert_eq!(call.stages, ["docs"]);
        assert_eq!(call.values, [Const::Int(64)]);
        assert_eq!(
            call.named,
            [("hash_by".to_string(), Const::Str("url".into()))]
        );
        assert_eq!(
            pipeline.statements[3].1,
            Statement::Copy {
                stage: "dedup".into(),
                path: "out/".into()
            }
        );
    }

    #[test]
    fn errors_name_the_statement() {
        let err =
            Pipeline::parse("CREATE STAGE a AS read_parquet('x');\nCREATE STAGE b AS explode(a);")
                .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Invalid Input Error: statement 2: unknown stage function explode()"),
            "{err}"
        );
        let err = Pipeline::parse("SELECT 1;").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Parser Error: statement 1: a pipeline statement is CREATE STAGE ... or COPY ..., got 'SELECT 1'"
        );
        let err = Pipeline::parse("COPY a TO 'x' (FORMAT csv);").unwrap_err();
        assert!(err.to_string().contains("only (FORMAT parquet)"), "{err}");
    }
}
