//! DuckDB's sequences: `CREATE SEQUENCE s [START n] [INCREMENT n] [MINVALUE n] [MAXVALUE n]
//! [CYCLE]`, `nextval('s')`, `currval('s')` and `DROP SEQUENCE s`, which DataFusion does not
//! have. A sequence numbers rows as they are made, most often as a column's default:
//! `CREATE TABLE docs (id BIGINT DEFAULT nextval('doc_ids') PRIMARY KEY, ...)`.
//!
//! A session's sequences live in its [`Sequences`], which its `nextval` and `currval` share.
//! They live in the session's process: a cluster's executors have none, and a plan that calls
//! them fails there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::tokenizer::Token;
use sqlparser::ast::ObjectName;

use super::tokens::is_keyword;

use crate::error::{Result, TarnError};

/// One sequence's settings and where it stands.
#[derive(Debug)]
struct Sequence {
    increment: i64,
    min: i64,
    max: i64,
    cycle: bool,
    /// The value the next `nextval` gives; `None` once a sequence without CYCLE is spent.
    next: Option<i64>,
    /// The value the last `nextval` gave, for `currval`.
    current: Option<i64>,
}

impl Sequence {
    fn nextval(&mut self, name: &str) -> DfResult<i64> {
        let Some(value) = self.next else {
            let (end, bound) = match self.increment > 0 {
                true => ("maximum", self.max),
                false => ("minimum", self.min),
            };
            return exec_err!("nextval: reached {end} value of sequence \"{name}\" ({bound})");
        };
        self.next = match value.checked_add(self.increment) {
            Some(next) if (self.min..=self.max).contains(&next) => Some(next),
            _ if self.cycle => Some(if self.increment > 0 {
                self.min
            } else {
                self.max
            }),
            _ => None,
        };
        self.current = Some(value);
        Ok(value)
    }
}

/// A session's sequences, by [`key`].
#[derive(Debug, Default)]
pub struct Sequences {
    by_name: Mutex<HashMap<String, Sequence>>,
}

impl Sequences {
    /// Registers `nextval` and `currval` over these sequences in `ctx`.
    pub fn register(self: &Arc<Self>, ctx: &SessionContext) {
        for kind in [Kind::Next, Kind::Current] {
            ctx.register_udf(ScalarUDF::from(SequenceFunction {
                kind,
                sequences: Arc::clone(self),
                signature: Signature::exact(vec![DataType::Utf8], Volatility::Volatile),
            }));
        }
    }

    /// Runs `CREATE [OR REPLACE] [TEMP] SEQUENCE ...` (`statement`'s text); `false` for any
    /// other statement. DuckDB takes the options in any order, sqlparser only in PostgreSQL's,
    /// so the statement is read here.
    pub fn create(&self, statement: &str) -> Result<bool> {
        let tokens = super::tokenize(statement)?;
        let mut words = tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
            .peekable();
        let next_is = |keyword: &str, words: &mut std::iter::Peekable<_>| {
            let found = words
                .peek()
                .is_some_and(|t: &&Token| is_keyword(t, keyword));
            if found {
                words.next();
            }
            found
        };
        if !next_is("create", &mut words) {
            return Ok(false);
        }
        let or_replace = next_is("or", &mut words) && next_is("replace", &mut words);
        let _temporary = next_is("temp", &mut words) || next_is("temporary", &mut words);
        if !next_is("sequence", &mut words) {
            return Ok(false);
        }
        let if_not_exists = next_is("if", &mut words)
            && next_is("not", &mut words)
            && next_is("exists", &mut words);
        // `name` or `schema.name`.
        let mut name = String::new();
        while let Some(Token::Word(part)) = words.next() {
            name.push_str(&part.to_string());
            if words.next_if(|t| matches!(t, Token::Period)).is_none() {
                break;
            }
            name.push('.');
        }
        if name.is_empty() || name.ends_with('.') {
            return Err(TarnError::Parse("CREATE SEQUENCE needs a name".to_string()));
        }
        let mut options = Options::default();
        while let Some(word) = words.next() {
            let option = word.to_string().to_lowercase();
            match option.as_str() {
                "increment" => {
                    next_is("by", &mut words);
                    options.increment = Some(number(&mut words, &option)?);
                }
                "start" => {
                    next_is("with", &mut words);
                    options.start = Some(number(&mut words, &option)?);
                }
                "minvalue" => options.min = Some(number(&mut words, &option)?),
                "maxvalue" => options.max = Some(number(&mut words, &option)?),
                "cycle" => options.cycle = true,
                "no" if next_is("cycle", &mut words) => options.cycle = false,
                "no" if next_is("minvalue", &mut words) => options.min = None,
                "no" if next_is("maxvalue", &mut words) => options.max = None,
                "cache" => {
                    number(&mut words, &option)?;
                }
                _ => {
                    return Err(TarnError::Parse(format!(
                        "CREATE SEQUENCE does not take {word} (it takes START, INCREMENT, \
                         MINVALUE, MAXVALUE and CYCLE)"
                    )));
                }
            }
        }
        let sequence = options.sequence()?;
        let mut by_name = self.by_name.lock().expect("sequence lock");
        if by_name.contains_key(&key(&name)) && !or_replace {
            return match if_not_exists {
                true => Ok(true),
                false => Err(TarnError::Invalid(format!(
                    "Sequence with name {name} already exists!"
                ))),
            };
        }
        by_name.insert(key(&name), sequence);
        Ok(true)
    }

    /// Each sequence as the `CREATE SEQUENCE` that makes it as it stands, by name: starting at
    /// the value its next `nextval` gives (a spent one at its last value).
    pub fn definitions(&self) -> Vec<String> {
        let by_name = self.by_name.lock().expect("sequence lock");
        let mut names: Vec<&String> = by_name.keys().collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let sequence = &by_name[name];
                let last = match sequence.increment > 0 {
                    true => sequence.max,
                    false => sequence.min,
                };
                format!(
                    "CREATE SEQUENCE {name} START {} INCREMENT BY {} MINVALUE {} MAXVALUE {}{};",
                    sequence.next.unwrap_or(last),
                    sequence.increment,
                    sequence.min,
                    sequence.max,
                    if sequence.cycle { " CYCLE" } else { "" },
                )
            })
            .collect()
    }

    /// The sequences' names, as kept (lower case).
    pub fn names(&self) -> Vec<String> {
        let by_name = self.by_name.lock().expect("sequence lock");
        by_name.keys().cloned().collect()
    }

    /// Drops every sequence but those named in `names` (as [`Self::names`] gave them).
    pub fn retain(&self, names: &[String]) {
        let mut by_name = self.by_name.lock().expect("sequence lock");
        by_name.retain(|name, _| names.contains(name));
    }

    /// `DROP SEQUENCE`.
    pub fn remove(&self, name: &ObjectName, if_exists: bool) -> Result<()> {
        let removed = self
            .by_name
            .lock()
            .expect("sequence lock")
            .remove(&key(&name.to_string()));
        match (removed, if_exists) {
            (None, false) => Err(TarnError::Invalid(format!(
                "Sequence with name {name} does not exist!"
            ))),
            _ => Ok(()),
        }
    }
}

/// The options of a CREATE SEQUENCE, as written.
#[derive(Default)]
struct Options {
    increment: Option<i64>,
    min: Option<i64>,
    max: Option<i64>,
    start: Option<i64>,
    cycle: bool,
}

impl Options {
    /// The sequence the options make, with DuckDB's defaults and checks.
    fn sequence(self) -> Result<Sequence> {
        let increment = self.increment.unwrap_or(1);
        if increment == 0 {
            return Err(TarnError::Parse("Increment must not be zero".to_string()));
        }
        // An ascending sequence runs from 1 up, a descending one from -1 down.
        let (min, max) = match increment > 0 {
            true => (self.min.unwrap_or(1), self.max.unwrap_or(i64::MAX)),
            false => (self.min.unwrap_or(i64::MIN), self.max.unwrap_or(-1)),
        };
        if min >= max {
            return Err(TarnError::Parse(format!(
                "MINVALUE ({min}) must be less than MAXVALUE ({max})"
            )));
        }
        let start = self.start.unwrap_or(if increment > 0 { min } else { max });
        if start < min {
            return Err(TarnError::Parse(format!(
                "START value ({start}) cannot be less than MINVALUE ({min})"
            )));
        }
        if start > max {
            return Err(TarnError::Parse(format!(
                "START value ({start}) cannot be greater than MAXVALUE ({max})"
            )));
        }
        Ok(Sequence {
            increment,
            min,
            max,
            cycle: self.cycle,
            next: Some(start),
            current: None,
        })
    }
}

/// The whole number (with its sign) that follows `option`.
fn number<'a>(words: &mut impl Iterator<Item = &'a Token>, option: &str) -> Result<i64> {
    let mut text = String::new();
    for word in words.by_ref() {
        text.push_str(&word.to_string());
        if !matches!(word, Token::Minus | Token::Plus) {
            break;
        }
    }
    text.parse().map_err(|_| {
        TarnError::Parse(format!(
            "{} takes a whole number, not {text:?}",
            option.to_uppercase()
        ))
    })
}

/// A sequence's name as the registry keeps it: compared without case, as DuckDB does.
fn key(name: &str) -> String {
    name.trim_matches('"').to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Next,
    Current,
}

/// `nextval(name)` or `currval(name)` over a session's sequences.
#[derive(Debug)]
struct SequenceFunction {
    kind: Kind,
    sequences: Arc<Sequences>,
    signature: Signature,
}

impl PartialEq for SequenceFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.sequences, &other.sequences)
    }
}

impl Eq for SequenceFunction {}

impl std::hash::Hash for SequenceFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        Arc::as_ptr(&self.sequences).hash(state);
    }
}

impl ScalarUDFImpl for SequenceFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Next => "nextval",
            Kind::Current => "currval",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    /// One value per row: `nextval` numbers the rows of a batch one after another.
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let name = match args.args.as_slice() {
            [ColumnarValue::Scalar(ScalarValue::Utf8(Some(name)))] => name.clone(),
            _ => {
                return plan_err!(
                    "the sequence name of {} must be a constant text",
                    self.name()
                );
            }
        };
        let mut by_name = self.sequences.by_name.lock().expect("sequence lock");
        let Some(sequence) = by_name.get_mut(&key(&name)) else {
            return plan_err!("Sequence with name {name} does not exist!");
        };
        let values = match self.kind {
            Kind::Next => (0..args.number_rows)
                .map(|_| sequence.nextval(&name))
                .collect::<DfResult<Vec<i64>>>()?,
            Kind::Current => match sequence.current {
                Some(value) => vec![value; args.number_rows],
                None => {
                    return exec_err!("currval: sequence is not yet defined in this session");
                }
            },
        };
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(values))))
    }
}
