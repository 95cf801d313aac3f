//! `near_duplicate(vector, threshold) OVER (...)`: semantic deduplication as a window function.
//! TRUE for a row whose vector is a near-duplicate of an earlier row's in its window: the two
//! are joined by a chain of vectors at cosine similarity ≥ `threshold` (tarn-gpu's
//! [`tarn_gpu::dedup`]: connected clusters, found by blocked products of the normalised
//! vectors). Each cluster's first row in the window's order is FALSE, so
//!
//! ```sql
//! SELECT * FROM docs QUALIFY NOT near_duplicate(embedding, 0.95) OVER (ORDER BY embedding)
//! ```
//!
//! keeps one row per cluster; `ORDER BY` makes the choice independent of the order rows arrive
//! in (a window without it takes them as they come). `PARTITION BY` dedups each group apart,
//! and within a partitioned job each partition is its own window. NULL vectors are never
//! duplicates. The work is quadratic in a window's rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::prelude::SessionContext;

use super::vectors::vectors;

/// Registers `near_duplicate` on a context.
pub fn register(ctx: &SessionContext) {
    ctx.register_udwf(WindowUDF::from(NearDuplicate::new()));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NearDuplicate {
    signature: Signature,
}

impl NearDuplicate {
    fn new() -> Self {
        NearDuplicate {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for NearDuplicate {
    fn name(&self) -> &str {
        "near_duplicate"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [vector, threshold] if threshold.is_numeric() || threshold.is_null() => {
                Ok(vec![vector.clone(), DataType::Float64])
            }
            _ => plan_err!("near_duplicate takes a vector and a similarity threshold"),
        }
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let threshold = match args
            .input_exprs()
            .get(1)
            .and_then(|e| e.downcast_ref::<Literal>())
        {
            Some(literal) => match literal.value() {
                ScalarValue::Float64(Some(t)) if *t > 0.0 && *t <= 1.0 => *t as f32,
                other => {
                    return plan_err!(
                        "near_duplicate: the threshold must be a cosine similarity in (0, 1], got {other}"
                    );
                }
            },
            None => return plan_err!("near_duplicate: the threshold must be a constant"),
        };
        Ok(Box::new(Clusters { threshold }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Boolean,
            false,
        )))
    }
}

/// One window's evaluation: every row at once.
#[derive(Debug)]
struct Clusters {
    threshold: f32,
}

impl PartitionEvaluator for Clusters {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let rows = vectors(&values[0], "near_duplicate")?;
        let mut flat = Vec::new();
        let mut dim = None;
        for row in rows.iter().flatten() {
            match dim {
                None => dim = Some(row.len()),
                Some(d) if d != row.len() => {
                    return exec_err!(
                        "near_duplicate: vectors of {d} and of {} values in one window",
                        row.len()
                    );
                }
                Some(_) => {}
            }
            flat.extend_from_slice(row);
        }
        let duplicates = match dim {
            Some(dim) if dim > 0 => tarn_gpu::dedup::near_duplicates(&flat, dim, self.threshold),
            // No vectors, or empty ones: nothing to compare.
            _ => vec![false; rows.iter().flatten().count()],
        };
        let mut duplicates = duplicates.into_iter();
        let flags: BooleanArray = rows
            .iter()
            .map(|row| Some(row.is_some() && duplicates.next().expect("a flag per vector")))
            .collect();
        debug_assert_eq!(flags.len(), num_rows);
        Ok(Arc::new(flags))
    }
}
