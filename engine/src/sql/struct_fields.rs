//! DuckDB's functions on a struct's fields:
//!
//! * `struct_insert(s, name := value, ...)`: the struct `s` with more fields after its own, as
//!   when a scoring stage adds `s.score` to each document's metadata. The call reaches the
//!   planner as `struct_insert(s, named_struct('name', value, ...))` (the syntax rewrite gathers
//!   the named arguments), and [`StructJoin`] joins the two structs' fields.
//! * `struct_concat(a, b, ...)`: the fields of each struct in turn ([`StructJoin`] too).
//! * `struct_keys(s)`: the list of the struct's field names ([`StructKeys`]).
//!
//! As in DuckDB, the joined structs may not repeat a name, and a NULL struct gives its fields
//! as NULLs beside the others (the answer is never NULL).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListArray, StringArray, StructArray, make_array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::call_value;
use super::types::sql_type_name;

/// Which of DuckDB's functions a [`StructJoin`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Joined {
    /// `struct_insert(s, named_struct(...))`.
    Insert,
    /// `struct_concat(a, b, ...)`.
    Concat,
}

/// The fields of several structs as one struct (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StructJoin {
    joined: Joined,
    signature: Signature,
}

impl StructJoin {
    pub fn new(joined: Joined) -> Self {
        StructJoin {
            joined,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// The fields of a struct type, or why the type is refused.
    fn fields<'a>(&self, data_type: &'a DataType) -> Result<&'a Fields> {
        match (data_type, self.joined) {
            (DataType::Struct(fields), _) => Ok(fields),
            (other, Joined::Insert) => plan_err!(
                "struct_insert takes a STRUCT and named values, not {}",
                sql_type_name(other)
            ),
            (other, Joined::Concat) => {
                plan_err!("struct_concat takes STRUCTs, not {}", sql_type_name(other))
            }
        }
    }
}

impl ScalarUDFImpl for StructJoin {
    fn name(&self) -> &str {
        match self.joined {
            Joined::Insert => "struct_insert",
            Joined::Concat => "struct_concat",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// A NULL struct is a struct without fields.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match (self.joined, arg_types.len()) {
            (Joined::Insert, 2) | (Joined::Concat, 1..) => {}
            (Joined::Insert, _) => {
                return plan_err!("struct_insert takes a STRUCT, then fields as name := value");
            }
            (Joined::Concat, _) => return plan_err!("struct_concat takes one or more STRUCTs"),
        }
        Ok(arg_types
            .iter()
            .map(|t| match t {
                DataType::Null => DataType::Struct(Fields::empty()),
                t => t.clone(),
            })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let mut joined: Vec<Arc<Field>> = Vec::new();
        for arg in arg_types {
            for field in self.fields(arg)? {
                if joined.iter().any(|f| f.name() == field.name()) {
                    return match self.joined {
                        Joined::Insert => {
                            plan_err!("Duplicate struct entry name \"{}\"", field.name())
                        }
                        Joined::Concat => plan_err!(
                            "struct_concat: Arguments contain duplicate STRUCT entry \"{}\"",
                            field.name()
                        ),
                    };
                }
                joined.push(Arc::clone(field));
            }
        }
        Ok(DataType::Struct(joined.into()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let DataType::Struct(fields) = args.return_type() else {
            unreachable!("return_type answers a STRUCT");
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
        for array in &arrays {
            for column in array.as_struct().columns() {
                columns.push(under_nulls_of(column, array.nulls())?);
            }
        }
        let joined =
            StructArray::try_new_with_length(fields.clone(), columns, None, args.number_rows)?;
        call_value(&args.args, Arc::new(joined))
    }
}

/// `struct_keys(s)`: the names of the struct's fields, in order; NULL for a NULL struct.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StructKeys {
    signature: Signature,
}

impl StructKeys {
    pub fn new() -> Self {
        StructKeys {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for StructKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for StructKeys {
    fn name(&self) -> &str {
        "struct_keys"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Struct(_)] => Ok(arg_types.to_vec()),
            [other] => plan_err!("struct_keys takes a STRUCT, not {}", sql_type_name(other)),
            _ => plan_err!("struct_keys takes one STRUCT"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(DataType::Utf8, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let structs = args.args[0].to_array(args.number_rows)?;
        let DataType::Struct(fields) = structs.data_type() else {
            return plan_err!("struct_keys takes a STRUCT");
        };
        // The names once per row.
        let names: StringArray = (0..structs.len())
            .flat_map(|_| fields.iter().map(|f| Some(f.name().as_str())))
            .collect();
        let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(fields.len(), structs.len()));
        let item = Arc::new(Field::new_list_field(DataType::Utf8, true));
        let keys = ListArray::try_new(item, offsets, Arc::new(names), structs.nulls().cloned())?;
        call_value(&args.args, Arc::new(keys))
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
