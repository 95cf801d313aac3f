//! Macros that users define with DuckDB's `CREATE [OR REPLACE] MACRO` (or `CREATE FUNCTION`):
//! a scalar macro `name(a, b := 1) AS expr` and a table macro `name(a) AS TABLE query`.
//!
//! A call is replaced by the macro's body with each parameter replaced by its argument, as
//! DuckDB binds macros: the body's other names are the calling query's columns. The expansion
//! runs before any other rewrite, so a body may use everything a query may (file paths, DuckDB's
//! operators and functions, other macros). A result column keeps the call's name
//! (`add(1, 2)`), as DuckDB names it.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, MacroArg, MacroDefinition,
    ObjectName, Query, SelectItem, Statement, TableAlias, TableFactor, VisitMut, VisitorMut,
};

use sqlparser::tokenizer::Token;

use super::rewrite::run_visitor;
use super::tokens::is_keyword;
use crate::error::{Result, TarnError};

/// How deep macro calls may nest (a macro calling a macro ...): a macro that calls itself
/// would never end.
const MAX_DEPTH: usize = 64;

/// The macros a session defined, by lower-case name.
#[derive(Debug, Clone, Default)]
pub(super) struct UserMacros {
    by_name: HashMap<String, Macro>,
}

#[derive(Debug, Clone)]
struct Macro {
    /// The name as written in CREATE MACRO, for messages.
    name: String,
    parameters: Vec<MacroArg>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Scalar(Box<Expr>),
    Table(Box<Query>),
}

impl UserMacros {
    /// Defines a macro from a `CREATE MACRO` statement's parts.
    pub(super) fn create(
        &mut self,
        name: &ObjectName,
        or_replace: bool,
        parameters: Option<Vec<MacroArg>>,
        definition: MacroDefinition,
    ) -> Result<()> {
        let name = macro_name(name)?;
        let key = name.to_lowercase();
        if self.by_name.contains_key(&key) && !or_replace {
            return Err(TarnError::Invalid(format!(
                "Macro Function with name \"{name}\" already exists (CREATE OR REPLACE MACRO \
                 replaces it)"
            )));
        }
        let parameters = parameters.unwrap_or_default();
        // DuckDB's rule too: a parameter without a default cannot follow one with a default.
        if let Some(pair) = parameters
            .windows(2)
            .find(|pair| pair[0].default_expr.is_some() && pair[1].default_expr.is_none())
        {
            return Err(TarnError::Invalid(format!(
                "macro {name}: parameter {} needs a default, as {} before it has one",
                pair[1].name, pair[0].name
            )));
        }
        let body = match definition {
            MacroDefinition::Expr(expr) => Body::Scalar(Box::new(expr)),
            MacroDefinition::Table(query) => Body::Table(query),
        };
        self.by_name.insert(
            key,
            Macro {
                name,
                parameters,
                body,
            },
        );
        Ok(())
    }

    /// Each macro as the `CREATE MACRO` that makes it, by name.
    pub(super) fn definitions(&self) -> Vec<String> {
        let mut macros: Vec<&Macro> = self.by_name.values().collect();
        macros.sort_by_key(|m| m.name.to_lowercase());
        macros
            .into_iter()
            .map(|m| {
                let parameters: Vec<String> = m
                    .parameters
                    .iter()
                    .map(|p| match &p.default_expr {
                        Some(default) => format!("{} := {default}", p.name),
                        None => p.name.to_string(),
                    })
                    .collect();
                let body = match &m.body {
                    Body::Scalar(expr) => expr.to_string(),
                    Body::Table(query) => format!("TABLE {query}"),
                };
                format!(
                    "CREATE MACRO {}({}) AS {body};",
                    m.name,
                    parameters.join(", ")
                )
            })
            .collect()
    }

    /// Removes a macro (`DROP MACRO [TABLE] [IF EXISTS] name`).
    pub(super) fn drop(&mut self, name: &str, if_exists: bool) -> Result<()> {
        match self.by_name.remove(&name.to_lowercase()) {
            Some(_) => Ok(()),
            None if if_exists => Ok(()),
            None => Err(TarnError::Invalid(format!(
                "Macro Function with name {name} does not exist"
            ))),
        }
    }

    /// Replaces every call of a defined macro in `statement` by the macro's body.
    pub(super) fn expand(&self, statement: &mut Statement) -> Result<()> {
        if self.by_name.is_empty() {
            return Ok(());
        }
        name_outer_calls(statement, self);
        let mut expander = Expander {
            macros: self,
            depth: 0,
        };
        run_visitor(statement, &mut expander)
    }

    /// The macro a call's name names, when it is one identifier.
    fn lookup(&self, name: &ObjectName) -> Option<&Macro> {
        self.by_name.get(&super::function_names::plain_name(name)?)
    }

    /// Whether `expr` calls a defined scalar macro anywhere inside.
    fn called_in(&self, expr: &Expr) -> bool {
        let mut found = false;
        let _ = sqlparser::ast::visit_expressions(expr, |e| {
            if let Expr::Function(call) = e
                && self
                    .lookup(&call.name)
                    .is_some_and(|m| matches!(m.body, Body::Scalar(_)))
            {
                found = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        found
    }
}

/// The name and IF EXISTS of `MACRO [TABLE] [IF EXISTS] name`, the text after DROP in DuckDB's
/// `DROP MACRO`, which the parser does not read; `None` for any other DROP.
pub(super) fn drop_macro_statement(after_drop: &str) -> Option<(String, bool)> {
    let tokens = super::tokenize(after_drop).ok()?;
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let rest = match words.as_slice() {
        [first, rest @ ..] if is_keyword(first, "macro") => rest,
        _ => return None,
    };
    let rest = match rest {
        [table, rest @ ..] if is_keyword(table, "table") => rest,
        _ => rest,
    };
    let (if_exists, rest) = match rest {
        [i, e, rest @ ..] if is_keyword(i, "if") && is_keyword(e, "exists") => (true, rest),
        _ => (false, rest),
    };
    match rest {
        [Token::Word(name)] => Some((name.value.clone(), if_exists)),
        _ => None,
    }
}

/// The macro's name: one identifier (DuckDB's schema-qualified names are not kept apart).
fn macro_name(name: &ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part.as_ident().map(|ident| ident.value.clone()),
        _ => None,
    }
    .ok_or_else(|| TarnError::Invalid(format!("a macro's name is one word, not {name}")))
}

/// Gives each result column that calls a macro the name DuckDB gives it, the call as written,
/// before the call is replaced by the macro's body.
fn name_outer_calls(statement: &mut Statement, macros: &UserMacros) {
    let (_, selects) = super::expand::outer_selects(statement);
    for select in selects {
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) = item
                && macros.called_in(expr)
            {
                let alias = Ident::with_quote('"', super::rewrite::fully_parenthesized(expr));
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias,
                };
            }
        }
    }
}

/// Expands the macro calls in what it visits; a body put in place is expanded by an expander
/// one level deeper before the visit goes on (over a body without calls, then).
struct Expander<'a> {
    macros: &'a UserMacros,
    depth: usize,
}

impl Expander<'_> {
    /// Expands the calls inside a body just put in place.
    fn expand_inside<T: VisitMut>(&self, body: &mut T, name: &str) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(TarnError::Invalid(format!(
                "macro {name} nests more than {MAX_DEPTH} calls deep (does it call itself?)"
            )));
        }
        let mut inner = Expander {
            macros: self.macros,
            depth: self.depth + 1,
        };
        run_visitor(body, &mut inner)
    }
}

impl VisitorMut for Expander<'_> {
    type Break = TarnError;

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TarnError> {
        let Expr::Function(call) = expr else {
            return ControlFlow::Continue(());
        };
        let Some(definition) = self.macros.lookup(&call.name) else {
            return ControlFlow::Continue(());
        };
        let result = (|| {
            let Body::Scalar(body) = &definition.body else {
                return Err(TarnError::Invalid(format!(
                    "{} is a table macro: use it in FROM (SELECT * FROM {}(...))",
                    definition.name, definition.name
                )));
            };
            if call.over.is_some() || call.filter.is_some() {
                return Err(TarnError::Invalid(format!(
                    "macro {} takes no OVER or FILTER clause",
                    definition.name
                )));
            }
            let arguments = definition.bind(&call.args)?;
            let mut body = body.clone();
            let _ = body.visit(&mut Substitution(&arguments));
            self.expand_inside(&mut body, &definition.name)?;
            Ok(Expr::Nested(body))
        })();
        match result {
            Ok(expansion) => {
                *expr = expansion;
                ControlFlow::Continue(())
            }
            Err(err) => ControlFlow::Break(err),
        }
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<TarnError> {
        let TableFactor::Table {
            name,
            args: Some(call),
            alias,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(definition) = self.macros.lookup(name) else {
            return ControlFlow::Continue(());
        };
        let result = (|| {
            let Body::Table(body) = &definition.body else {
                return Err(TarnError::Invalid(format!(
                    "{} is a scalar macro: call it in an expression, not in FROM",
                    definition.name
                )));
            };
            let arguments = definition.bind(&FunctionArguments::List(
                sqlparser::ast::FunctionArgumentList {
                    duplicate_treatment: None,
                    args: call.args.clone(),
                    clauses: vec![],
                },
            ))?;
            let mut subquery = body.clone();
            let _ = subquery.visit(&mut Substitution(&arguments));
            self.expand_inside(&mut subquery, &definition.name)?;
            // Without an alias the rows are named after the macro, as DuckDB names them.
            let alias = alias.take().unwrap_or_else(|| TableAlias {
                explicit: false,
                name: Ident::new(&definition.name),
                columns: vec![],
                at: None,
            });
            Ok(TableFactor::Derived {
                lateral: false,
                subquery,
                alias: Some(alias),
                sample: None,
            })
        })();
        match result {
            Ok(derived) => {
                *factor = derived;
                ControlFlow::Continue(())
            }
            Err(err) => ControlFlow::Break(err),
        }
    }
}

impl Macro {
    /// Each parameter's argument: the positional ones in order, then the named ones, then the
    /// defaults of those not given.
    fn bind(&self, args: &FunctionArguments) -> Result<Vec<(String, Expr)>> {
        let given = match args {
            FunctionArguments::None => &[][..],
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(self.refuse("takes only arguments (no DISTINCT or ORDER BY)"));
                }
                list.args.as_slice()
            }
            FunctionArguments::Subquery(_) => {
                return Err(self.refuse("takes expressions, not a subquery"));
            }
        };
        let mut bound: Vec<Option<Expr>> = vec![None; self.parameters.len()];
        let mut position = 0;
        for arg in given {
            let (slot, value) = match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) => {
                    let slot = position;
                    position += 1;
                    if slot >= self.parameters.len() {
                        return Err(self.refuse(&format!(
                            "takes {} argument{}, not {}",
                            self.parameters.len(),
                            if self.parameters.len() == 1 { "" } else { "s" },
                            given.len()
                        )));
                    }
                    (slot, value)
                }
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(value),
                    ..
                }
                | FunctionArg::ExprNamed {
                    name: Expr::Identifier(name),
                    arg: FunctionArgExpr::Expr(value),
                    ..
                } => {
                    let slot = self
                        .parameters
                        .iter()
                        .position(|p| p.name.value.eq_ignore_ascii_case(&name.value))
                        .ok_or_else(|| self.refuse(&format!("has no parameter {}", name.value)))?;
                    (slot, value)
                }
                other => return Err(self.refuse(&format!("cannot take the argument {other}"))),
            };
            if bound[slot].replace(value.clone()).is_some() {
                return Err(self.refuse(&format!(
                    "got two values for {}",
                    self.parameters[slot].name
                )));
            }
        }
        self.parameters
            .iter()
            .zip(bound)
            .map(|(parameter, value)| {
                let value = value
                    .or_else(|| parameter.default_expr.clone())
                    .ok_or_else(|| self.refuse(&format!("needs a value for {}", parameter.name)))?;
                Ok((parameter.name.value.to_lowercase(), value))
            })
            .collect()
    }

    fn refuse(&self, reason: &str) -> TarnError {
        let parameters: Vec<String> = self.parameters.iter().map(|p| p.to_string()).collect();
        TarnError::Invalid(format!(
            "macro {}({}) {reason}",
            self.name,
            parameters.join(", ")
        ))
    }
}

/// Replaces a macro body's parameter names (matched in any case, as DuckDB matches names) by
/// their arguments; `p.field` reaches into the argument's struct.
struct Substitution<'a>(&'a [(String, Expr)]);

impl Substitution<'_> {
    fn argument(&self, ident: &Ident) -> Option<&Expr> {
        let name = ident.value.to_lowercase();
        self.0.iter().find(|(p, _)| *p == name).map(|(_, e)| e)
    }
}

impl VisitorMut for Substitution<'_> {
    type Break = ();

    // After the children: an argument put in place is not searched for parameters again.
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Identifier(ident) if ident.quote_style.is_none() => {
                if let Some(argument) = self.argument(ident) {
                    *expr = Expr::Nested(Box::new(argument.clone()));
                }
            }
            Expr::CompoundIdentifier(parts) if parts[0].quote_style.is_none() => {
                if let Some(argument) = self.argument(&parts[0]) {
                    let fields = parts[1..]
                        .iter()
                        .map(|field| {
                            sqlparser::ast::AccessExpr::Dot(Expr::Identifier(field.clone()))
                        })
                        .collect();
                    *expr = Expr::CompoundFieldAccess {
                        root: Box::new(Expr::Nested(Box::new(argument.clone()))),
                        access_chain: fields,
                    };
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
