//! DuckDB's `TRY(expr)`: `expr`, but NULL in the rows where evaluating it fails (a cast of bad
//! text, a division by zero, an overflow, invalid JSON), where without it the whole query fails.
//!
//! A function's arguments are evaluated before it runs, so `try` cannot be a plain function.
//! The syntax-tree rewrite ([`as_lambda`]) hands it `expr` as the body of a lambda instead,
//! which DataFusion plans with the columns it reads captured: `try` evaluates the body over the
//! whole batch and, only when that fails, row by row, each failing row giving NULL, as DuckDB
//! does. The lambda's one parameter is unused; it gives the body's batch its row count when the
//! body reads no column (`TRY(1 / 0)`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, NullArray, UInt32Array, new_null_array};
use datafusion::arrow::compute::{concat, take_arrays};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, HigherOrderFunctionArgs, HigherOrderReturnFieldArgs, HigherOrderSignature,
    HigherOrderUDFImpl, LambdaArgument, LambdaParametersProgress, ValueOrLambda, Volatility,
};
use sqlparser::ast::{
    CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, LambdaFunction,
    LambdaFunctionParameter, LambdaSyntax, OneOrManyWithParens,
};

/// The function's name, in SQL and as registered.
pub const NAME: &str = "try";

/// The name of the lambda's unused parameter.
const ROW: &str = "__tarn_try_row";

/// `try(expr)` as `try(lambda row: expr)`, for the planner (see the module documentation);
/// `try(CAST(x AS t))` as `TRY_CAST(x AS t)`, the same, which also holds when `x` is a
/// constant (DataFusion fails the query when it folds a bad cast of a constant).
pub fn rewrite(expr: &mut Expr) {
    let Expr::Function(call) = expr else {
        return;
    };
    let is_try = matches!(call.name.0.as_slice(),
        [part] if part.as_ident().is_some_and(|name| name.value.eq_ignore_ascii_case(NAME)));
    if !is_try {
        return;
    }
    let FunctionArguments::List(list) = &mut call.args else {
        return;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(body))] = list.args.as_mut_slice() else {
        return;
    };
    match body {
        Expr::Lambda(_) => {}
        Expr::Cast { kind, .. } if *kind != CastKind::TryCast && *kind != CastKind::SafeCast => {
            *kind = CastKind::TryCast;
            *expr = body.clone();
        }
        _ => {
            let lambda = Expr::Lambda(LambdaFunction {
                params: OneOrManyWithParens::One(LambdaFunctionParameter {
                    name: Ident::new(ROW),
                    data_type: None,
                }),
                body: Box::new(body.clone()),
                syntax: LambdaSyntax::LambdaKeyword,
            });
            *body = lambda;
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TryOrNull {
    signature: HigherOrderSignature,
}

impl TryOrNull {
    pub fn new() -> Self {
        TryOrNull {
            signature: HigherOrderSignature::exact(
                vec![ValueOrLambda::Lambda(())],
                Volatility::Immutable,
            ),
        }
    }
}

impl HigherOrderUDFImpl for TryOrNull {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &HigherOrderSignature {
        &self.signature
    }

    fn coerce_value_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn lambda_parameters(
        &self,
        _step: usize,
        _fields: &[ValueOrLambda<FieldRef, Option<FieldRef>>],
    ) -> Result<LambdaParametersProgress> {
        let row = Arc::new(Field::new(ROW, DataType::Null, true));
        Ok(LambdaParametersProgress::Complete(vec![vec![row]]))
    }

    fn return_field_from_args(&self, args: HigherOrderReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields {
            [ValueOrLambda::Lambda(body)] => {
                Ok(Arc::new(Field::new("", body.data_type().clone(), true)))
            }
            _ => plan_err!("try takes one expression"),
        }
    }

    fn invoke_with_args(&self, args: HigherOrderFunctionArgs) -> Result<ColumnarValue> {
        let [ValueOrLambda::Lambda(body)] = args.args.as_slice() else {
            return plan_err!("try takes one expression");
        };
        let rows = args.number_rows;
        if let Ok(answer) = evaluate(body, rows, None) {
            return Ok(answer);
        }
        let answers = (0..rows as u32)
            .map(|row| match evaluate(body, 1, Some(row)) {
                Ok(answer) => answer.into_array(1),
                Err(_) => Ok(new_null_array(args.return_type(), 1)),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let answers: Vec<&dyn Array> = answers.iter().map(|a| a.as_ref()).collect();
        Ok(ColumnarValue::Array(concat(&answers)?))
    }
}

/// The body over all `rows` rows of the batch, or over the one row `only`.
fn evaluate(body: &LambdaArgument, rows: usize, only: Option<u32>) -> Result<ColumnarValue> {
    let row_count = || Ok(Arc::new(NullArray::new(rows)) as ArrayRef);
    body.evaluate(&[&row_count], |captured| match only {
        None => Ok(captured.to_vec()),
        Some(row) => Ok(take_arrays(captured, &UInt32Array::from(vec![row]), None)?),
    })
}
