//! `moe_route(vector, 'router.safetensors', top_k => 6, n_groups => 1, topk_groups => 1,
//! score => 'softmax', route_scale => 1.0)`: DeepSeek-V3's MoE gate (tarn-gpu's `moe_gate`)
//! over a column of vectors, returning `STRUCT(experts INTEGER[top_k], weights FLOAT[top_k])`,
//! best expert first. The router file holds the gate's `weight` (`[experts, dim]`) and
//! optionally its correction bias; it is read once per process and path. The settings must be
//! constants (top_k fixes the result's type); named arguments follow the order above, and
//! any left off at the end take DeepSeek-V3's defaults (shown).

use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int32Array, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use tarn_gpu::moe_gate::{GateConfig, Router, ScoreFunc};

use super::text_functions::constants;
use super::vectors::{all_scalar, result, stacked, vectors};
use super::weight_files::{Cache, cached};

/// Registers `moe_route` on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(MoeRoute::new()));
}

/// The parameters in order, for the named-argument rewrite.
pub(super) const PARAMETERS: [&str; 7] = [
    "vector",
    "router",
    "top_k",
    "n_groups",
    "topk_groups",
    "score",
    "route_scale",
];

#[derive(Debug, PartialEq, Eq, Hash)]
struct MoeRoute {
    signature: Signature,
}

impl MoeRoute {
    fn new() -> Self {
        MoeRoute {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The router path and gate settings from the constant arguments after the vector.
fn settings(constants: &[Option<&ScalarValue>]) -> Result<(String, GateConfig)> {
    let constant = |i: usize| -> Result<Option<String>> {
        match constants.get(i) {
            None => Ok(None),
            Some(Some(value)) if value.is_null() => Ok(None),
            Some(Some(value)) => Ok(Some(value.to_string())),
            Some(None) => plan_err!("moe_route: {} must be a constant", PARAMETERS[i]),
        }
    };
    let number = |i: usize, default: f64| -> Result<f64> {
        match constant(i)? {
            None => Ok(default),
            Some(text) => text.parse::<f64>().or_else(|_| {
                plan_err!(
                    "moe_route: {} must be a number, got '{text}'",
                    PARAMETERS[i]
                )
            }),
        }
    };
    let Some(router) = constant(1)? else {
        return plan_err!("moe_route takes a vector and a router file ('router.safetensors')");
    };
    let score = match constant(5)?.as_deref().map(str::to_lowercase).as_deref() {
        None | Some("softmax") => ScoreFunc::Softmax,
        Some("sigmoid") => ScoreFunc::Sigmoid,
        Some(other) => {
            return plan_err!("moe_route: score '{other}' is not 'softmax' or 'sigmoid'");
        }
    };
    let count = |i: usize, default: f64| -> Result<usize> {
        let value = number(i, default)?;
        if value < 1.0 || value.fract() != 0.0 {
            return plan_err!(
                "moe_route: {} must be a positive whole number",
                PARAMETERS[i]
            );
        }
        Ok(value as usize)
    };
    let config = GateConfig {
        top_k: count(2, 6.0)?,
        n_groups: count(3, 1.0)?,
        topk_groups: count(4, 1.0)?,
        score,
        route_scale: number(6, 1.0)? as f32,
    };
    Ok((router, config))
}

fn result_fields(top_k: usize) -> Fields {
    let list = |item: DataType| {
        DataType::FixedSizeList(Arc::new(Field::new_list_field(item, true)), top_k as i32)
    };
    Fields::from(vec![
        Field::new("experts", list(DataType::Int32), true),
        Field::new("weights", list(DataType::Float32), true),
    ])
}

/// The router at `path`, read once per process.
fn router(path: &str) -> Result<Arc<Router>> {
    static ROUTERS: Cache<Router> = Mutex::new(None);
    cached(&ROUTERS, path, |path| {
        Router::load(Path::new(path)).or_else(|e| exec_err!("moe_route: {e}"))
    })
}

impl ScalarUDFImpl for MoeRoute {
    fn name(&self) -> &str {
        "moe_route"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 || arg_types.len() > PARAMETERS.len() {
            return plan_err!("moe_route takes a vector, a router file and up to five settings");
        }
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("moe_route's type comes from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let (_, config) = settings(args.scalar_arguments)?;
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Struct(result_fields(config.top_k)),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let constants = constants(&args.args);
        let (path, config) = settings(&constants)?;
        let router = router(&path)?;
        let scalar = all_scalar(&args);
        let input = args.args[0].to_array(args.number_rows)?;
        let rows = vectors(&input, "moe_route")?;
        let x = stacked(&rows, router.dim, "moe_route", &path, "routes")?;
        let routing = router
            .route(&x, &config)
            .or_else(|e| exec_err!("moe_route: {e}"))?;
        let k = config.top_k;
        let (mut experts, mut weights) = (Vec::new(), Vec::new());
        let mut routed = 0;
        for row in &rows {
            if row.is_some() {
                let (e, w) = routing.token(routed);
                experts.extend(e.iter().map(|&e| e as i32));
                weights.extend_from_slice(w);
                routed += 1;
            } else {
                experts.extend(std::iter::repeat_n(0, k));
                weights.extend(std::iter::repeat_n(0.0, k));
            }
        }
        let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
        let fields = result_fields(k);
        let list = |field: &FieldRef, values: ArrayRef| -> Result<ArrayRef> {
            let DataType::FixedSizeList(item, _) = field.data_type() else {
                unreachable!("result fields are lists")
            };
            Ok(Arc::new(FixedSizeListArray::try_new(
                item.clone(),
                k as i32,
                values,
                Some(nulls.clone()),
            )?))
        };
        let columns = vec![
            list(&fields[0], Arc::new(Int32Array::from(experts)))?,
            list(&fields[1], Arc::new(Float32Array::from(weights)))?,
        ];
        let routes = StructArray::try_new(fields, columns, Some(nulls.clone()))?;
        result(Arc::new(routes), scalar)
    }
}
