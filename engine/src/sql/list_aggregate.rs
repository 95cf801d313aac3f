//! DuckDB's `list_aggregate(list, 'name' [, argument ...])` (also `array_aggregate`,
//! `list_aggr`) and its shorthands (`list_min`, `list_count`, `list_first`, `list_last`,
//! `list_median`, `list_mode`, `list_string_agg`, ...): an aggregate function run over each
//! list's elements, `list_aggregate([3, 1, 2], 'min')` is 1. Any aggregate the session has
//! can be named, Tarn's own (`mode`, `entropy`, `histogram`) included; further arguments are
//! constants handed to the aggregate (`list_aggregate(words, 'string_agg', ' ')`).
//! DataFusion has a few of these as functions of their own (`list_max`, `list_sum`,
//! `list_avg`), kept as they are.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::prelude::SessionContext;

use super::text_functions::{call_value, constants};
use super::types::sql_type_name;

/// DuckDB's shorthands and the aggregate each runs (`list_sem`, whose aggregate is a macro, is
/// one too: `super::macros`).
const SHORTHANDS: [(&str, &str); 23] = [
    ("list_min", "min"),
    ("list_count", "count"),
    ("list_first", "first_value"),
    ("list_last", "last_value"),
    ("list_median", "median"),
    ("list_mode", "mode"),
    ("list_string_agg", "string_agg"),
    ("list_stddev_samp", "stddev_samp"),
    ("list_stddev_pop", "stddev_pop"),
    ("list_var_samp", "var_samp"),
    ("list_var_pop", "var_pop"),
    ("list_bool_and", "bool_and"),
    ("list_bool_or", "bool_or"),
    ("list_entropy", "entropy"),
    ("list_kurtosis", "kurtosis"),
    ("list_skewness", "skewness"),
    ("list_approx_count_distinct", "approx_distinct"),
    ("list_bit_and", "bit_and"),
    ("list_bit_or", "bit_or"),
    ("list_bit_xor", "bit_xor"),
    ("list_histogram", "histogram"),
    ("list_kurtosis_pop", "kurtosis_pop"),
    ("list_mad", "mad"),
];

/// Registers `list_aggregate` and the shorthands, over the aggregates registered so far.
pub fn register(ctx: &SessionContext) {
    let aggregates = Arc::new(ctx.state().aggregate_functions().clone());
    ctx.register_udf(ScalarUDF::from(ListAggregate {
        name: "list_aggregate".into(),
        fixed: None,
        aggregates: Arc::clone(&aggregates),
        signature: Signature::user_defined(Volatility::Immutable),
        aliases: vec!["array_aggregate".into(), "list_aggr".into()],
    }));
    for (shorthand, aggregate) in SHORTHANDS {
        if let Some(udaf) = aggregates.get(aggregate) {
            ctx.register_udf(ScalarUDF::from(ListAggregate {
                name: shorthand.into(),
                fixed: Some(Arc::clone(udaf)),
                aggregates: Arc::clone(&aggregates),
                signature: Signature::user_defined(Volatility::Immutable),
                aliases: vec![],
            }));
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
struct ListAggregate {
    name: String,
    /// The aggregate a shorthand runs; `list_aggregate` names it in its second argument.
    fixed: Option<Arc<AggregateUDF>>,
    /// The session's aggregates by name.
    aggregates: Arc<HashMap<String, Arc<AggregateUDF>>>,
    signature: Signature,
    aliases: Vec<String>,
}

impl PartialEq for ListAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ListAggregate {}

impl Hash for ListAggregate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// What one call runs: the aggregate, and the fields of its arguments after its coercion.
struct Plan {
    aggregate: Arc<AggregateUDF>,
    fields: Vec<FieldRef>,
    result: FieldRef,
}

impl ListAggregate {
    /// Where the aggregate's own arguments start in a call's arguments.
    fn first_extra(&self) -> usize {
        match self.fixed {
            Some(_) => 1,
            None => 2,
        }
    }

    /// The aggregate to run, given the call's constant arguments.
    fn aggregate(&self, constants: &[Option<&ScalarValue>]) -> Result<Arc<AggregateUDF>> {
        if let Some(fixed) = &self.fixed {
            return Ok(Arc::clone(fixed));
        }
        let Some(Some(Some(name))) = constants.get(1).map(|c| c.map(|v| v.try_as_str())) else {
            return plan_err!("list_aggregate takes a list and the name of an aggregate, as text");
        };
        let Some(name) = name else {
            return plan_err!("list_aggregate: the aggregate's name is NULL");
        };
        match self.aggregates.get(&name.to_lowercase()) {
            Some(udaf) => Ok(Arc::clone(udaf)),
            None => plan_err!("list_aggregate: no aggregate function is named '{name}'"),
        }
    }

    /// The aggregate and its arguments' fields for a call on `fields` (the list first).
    fn plan(&self, fields: &[FieldRef], constants: &[Option<&ScalarValue>]) -> Result<Plan> {
        let aggregate = self.aggregate(constants)?;
        let item = match fields.first().map(|f| f.data_type()) {
            Some(
                DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _),
            ) => Arc::clone(item),
            Some(other) => {
                return plan_err!("{} takes a list, not {}", self.name, sql_type_name(other));
            }
            None => return plan_err!("{} takes a list", self.name),
        };
        let mut arguments = vec![item];
        arguments.extend(fields.iter().skip(self.first_extra()).cloned());
        // DuckDB's `string_agg` joins with a comma when no separator is given.
        if aggregate.name() == "string_agg" && arguments.len() == 1 {
            arguments.push(Arc::new(Field::new("separator", DataType::Utf8, false)));
        }
        let fields = fields_with_udf(&arguments, aggregate.as_ref())?;
        let result = aggregate.return_field(&fields)?;
        Ok(Plan {
            aggregate,
            fields,
            result,
        })
    }
}

impl ScalarUDFImpl for ListAggregate {
    fn name(&self) -> &str {
        &self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The types stay; [`Self::plan`] casts the elements as the aggregate takes them.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{}'s type comes from its aggregate", self.name)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let plan = self.plan(args.arg_fields, args.scalar_arguments)?;
        Ok(Arc::new(Field::new(
            self.name(),
            plan.result.data_type().clone(),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let constants = constants(&args.args);
        let plan = self.plan(&args.arg_fields, &constants)?;
        // The aggregate's arguments after the elements: constants, as the aggregate sees them.
        let mut extras: Vec<ScalarValue> = Vec::new();
        for value in constants.iter().skip(self.first_extra()) {
            match value {
                Some(value) => extras.push((*value).clone()),
                None => {
                    return exec_err!("{}: an aggregate's argument must be a constant", self.name);
                }
            }
        }
        if extras.len() + 1 < plan.fields.len() {
            extras.push(ScalarValue::Utf8(Some(",".into())));
        }
        let extras: Vec<ScalarValue> = extras
            .into_iter()
            .zip(plan.fields.iter().skip(1))
            .map(|(value, field)| value.cast_to(field.data_type()))
            .collect::<Result<_>>()?;
        let schema = Schema::new(plan.fields.clone());
        let mut exprs: Vec<Arc<dyn PhysicalExpr>> = vec![Arc::new(Column::new("item", 0))];
        exprs.extend(
            extras
                .iter()
                .map(|v| Arc::new(Literal::new(v.clone())) as _),
        );
        let lists = args.args[0].to_array(args.number_rows)?;
        let lists = cast(
            &lists,
            &DataType::new_large_list(plan.fields[0].data_type().clone(), true),
        )?;
        let lists = lists.as_list::<i64>();
        let mut answers = Vec::with_capacity(lists.len());
        for row in 0..lists.len() {
            if lists.is_null(row) {
                answers.push(ScalarValue::try_from(plan.result.data_type())?);
                continue;
            }
            let items: ArrayRef = lists.value(row);
            let mut inputs = vec![Arc::clone(&items)];
            for extra in &extras {
                inputs.push(extra.to_array_of_size(items.len())?);
            }
            let mut accumulator = plan.aggregate.accumulator(AccumulatorArgs {
                return_field: Arc::clone(&plan.result),
                schema: &schema,
                ignore_nulls: false,
                order_bys: &[],
                is_reversed: false,
                name: self.name(),
                is_distinct: false,
                exprs: &exprs,
                expr_fields: &plan.fields,
            })?;
            accumulator.update_batch(&inputs)?;
            answers.push(accumulator.evaluate()?);
        }
        let answer = ScalarValue::iter_to_array(answers)?;
        let answer = match answer.data_type() == plan.result.data_type() {
            true => answer,
            false => cast(&answer, plan.result.data_type())?,
        };
        call_value(&args.args, answer)
    }
}
