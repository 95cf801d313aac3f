//! DuckDB's `struct_insert(s, name := value, ...)`: the struct `s` with more fields after its
//! own, as when a scoring stage adds `s.score` to each document's metadata. The call reaches
//! the planner as `struct_insert(s, named_struct('name', value, ...))` (the syntax rewrite
//! gathers the named arguments), and this function joins the two structs' fields.
//!
//! As in DuckDB, a new field may not repeat a name `s` has, and a NULL `s` gives a struct whose
//! own fields are NULL beside the new ones (the answer is never NULL).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray, make_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::call_value;
use super::types::sql_type_name;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StructInsert {
    signature: Signature,
}

impl StructInsert {
    pub fn new() -> Self {
        StructInsert {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The fields of a struct type, or why the type is refused.
fn fields<'a>(data_type: &'a DataType, what: &str) -> Result<&'a Fields> {
    match data_type {
        DataType::Struct(fields) => Ok(fields),
        other => plan_err!(
            "struct_insert takes a STRUCT and named values, not {what} {}",
            sql_type_name(other)
        ),
    }
}

impl ScalarUDFImpl for StructInsert {
    fn name(&self) -> &str {
        "struct_insert"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// A NULL struct is a struct without fields.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Null, added] => Ok(vec![DataType::Struct(Fields::empty()), added.clone()]),
            [base, added] => Ok(vec![base.clone(), added.clone()]),
            _ => plan_err!("struct_insert takes a STRUCT, then fields as name := value"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [base, added] = arg_types else {
            return plan_err!("struct_insert takes a STRUCT, then fields as name := value");
        };
        let (base, added) = (fields(base, "a")?, fields(added, "fields of")?);
        if let Some(repeated) = added
            .iter()
            .find(|f| base.iter().any(|b| b.name() == f.name()))
        {
            return plan_err!("Duplicate struct entry name \"{}\"", repeated.name());
        }
        Ok(DataType::Struct(
            base.iter().chain(added.iter()).cloned().collect(),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [base, added] = arrays.as_slice() else {
            return plan_err!("struct_insert takes a STRUCT, then fields as name := value");
        };
        let DataType::Struct(fields) = args.return_type() else {
            unreachable!("return_type answers a STRUCT");
        };
        let columns: Vec<ArrayRef> = base
            .as_struct()
            .columns()
            .iter()
            .map(|column| under_nulls_of(column, base.nulls()))
            .chain(added.as_struct().columns().iter().cloned().map(Ok))
            .collect::<Result<_>>()?;
        let joined = StructArray::try_new_with_length(fields.clone(), columns, None, base.len())?;
        call_value(&args.args, Arc::new(joined))
    }
}

/// `column` NULL also where its struct is NULL (a child's value there is arbitrary).
fn under_nulls_of(column: &ArrayRef, struct_nulls: Option<&NullBuffer>) -> Result<ArrayRef> {
    let Some(struct_nulls) = struct_nulls else {
        return Ok(Arc::clone(column));
    };
    let nulls = NullBuffer::union(column.nulls(), Some(struct_nulls));
    Ok(make_array(
        column.to_data().into_builder().nulls(nulls).build()?,
    ))
}
