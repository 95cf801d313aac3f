//! DuckDB's session variables, for parameterising a script: `SET VARIABLE name = expr` stores
//! the value of `expr` (computed once, when set; a scalar subquery too), `getvariable('name')`
//! reads it (NULL for a name never set, as in DuckDB), and `RESET VARIABLE name` forgets it.
//! Names are case-insensitive. Each session has its own.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

use super::text_functions::is_text;

/// A statement about a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum VariableStatement {
    /// `SET VARIABLE name = expr`: the name and the expression's text.
    Set(String, String),
    /// `RESET VARIABLE name`.
    Reset(String),
}

impl VariableStatement {
    /// The variable statement `statement` is, if it is one.
    pub(super) fn of(statement: &str) -> Option<VariableStatement> {
        let mut words = statement.trim().splitn(3, char::is_whitespace);
        let verb = words.next()?.to_ascii_uppercase();
        if !words.next()?.eq_ignore_ascii_case("VARIABLE") {
            return None;
        }
        let rest = words.next()?.trim();
        match verb.as_str() {
            "SET" => {
                let (name, expr) = rest.split_once('=')?;
                Some(VariableStatement::Set(
                    name.trim().to_string(),
                    expr.trim().to_string(),
                ))
            }
            "RESET" => Some(VariableStatement::Reset(rest.to_string())),
            _ => None,
        }
    }
}

/// A session's variables.
#[derive(Debug, Default)]
pub(super) struct Variables {
    values: RwLock<HashMap<String, ScalarValue>>,
}

impl Variables {
    /// Registers `getvariable` on a session's context, reading these variables.
    pub(super) fn register(self: &Arc<Self>, ctx: &SessionContext) {
        ctx.register_udf(ScalarUDF::from(GetVariable {
            variables: Arc::clone(self),
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }

    pub(super) fn set(&self, name: &str, value: ScalarValue) {
        self.values
            .write()
            .expect("no writer panics")
            .insert(name.to_lowercase(), value);
    }

    pub(super) fn reset(&self, name: &str) {
        self.values
            .write()
            .expect("no writer panics")
            .remove(&name.to_lowercase());
    }

    /// The value of `name`; NULL where it was never set.
    fn get(&self, name: &str) -> ScalarValue {
        self.values
            .read()
            .expect("no writer panics")
            .get(&name.to_lowercase())
            .cloned()
            .unwrap_or(ScalarValue::Null)
    }
}

/// `getvariable(name)`: the variable's value, typed as it was set.
#[derive(Debug)]
struct GetVariable {
    variables: Arc<Variables>,
    signature: Signature,
}

impl PartialEq for GetVariable {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.variables, &other.variables)
    }
}

impl Eq for GetVariable {}

impl std::hash::Hash for GetVariable {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.variables).hash(state);
    }
}

impl GetVariable {
    /// The constant name of a call, or why the call is refused.
    fn variable<'a>(&self, constant: Option<&'a ScalarValue>) -> Result<&'a str> {
        match constant.and_then(|value| value.try_as_str()) {
            Some(Some(name)) => Ok(name),
            _ => plan_err!("getvariable takes a variable's name as a constant string"),
        }
    }
}

impl ScalarUDFImpl for GetVariable {
    fn name(&self) -> &str {
        "getvariable"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [name] if is_text(name) => Ok(vec![DataType::Utf8]),
            _ => plan_err!("getvariable takes a variable's name"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("getvariable's type is its value's")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let name = self.variable(args.scalar_arguments.first().copied().flatten())?;
        let data_type = self.variables.get(name).data_type();
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(name) = &args.args[0] else {
            return plan_err!("getvariable takes a variable's name as a constant string");
        };
        let value = self.variables.get(self.variable(Some(name))?);
        // Set again since the query was planned: the planned type still holds.
        Ok(ColumnarValue::Scalar(
            value.cast_to(args.return_field.data_type())?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::VariableStatement;

    #[test]
    fn variable_statements_are_read_by_their_words() {
        assert_eq!(
            VariableStatement::of("SET VARIABLE run_date = DATE '2024-01-01'"),
            Some(VariableStatement::Set(
                "run_date".into(),
                "DATE '2024-01-01'".into()
            ))
        );
        assert_eq!(
            VariableStatement::of("set variable x=(SELECT 1 = 1)"),
            Some(VariableStatement::Set("x".into(), "(SELECT 1 = 1)".into()))
        );
        assert_eq!(
            VariableStatement::of("RESET VARIABLE x"),
            Some(VariableStatement::Reset("x".into()))
        );
        assert_eq!(VariableStatement::of("SET threads = 4"), None);
        assert_eq!(VariableStatement::of("SET VARIABLE x"), None);
    }
}
