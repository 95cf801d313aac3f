//! Choosing each row's partition in a shuffle, for every [`Scheme`].

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, UInt32Array, make_comparator,
};
use datafusion::arrow::compute::{SortOptions, cast};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tarn_planner::Scheme;

use crate::error::{Result, TarnError};

/// The column a hash shuffle adds, named as Smallpond names it.
pub const PARTITION_COLUMN: &str = "__data_partition__";

/// Hashes are seeded with a constant so that every producer, in every process and every run,
/// sends a key to the same partition.
const HASH_STATE: QualityRandomState = QualityRandomState::with_seed(0x7a72_6e5f_7368_7566);

/// Assigns the rows of one producer's batches to partitions.
pub struct Partitioner {
    rule: Rule,
    partitions: usize,
}

enum Rule {
    Hash(Vec<usize>),
    Column(usize),
    Range {
        column: usize,
        splits: ArrayRef,
    },
    /// Round robin, starting where the previous batch stopped.
    Rows {
        next: usize,
    },
    Random(Box<StdRng>),
    Expert {
        column: usize,
        replicas: Vec<Vec<u32>>,
        /// Rows dealt so far per expert, offset by the producer so that producers start on
        /// different replicas.
        dealt: Vec<usize>,
    },
}

impl Partitioner {
    /// A partitioner for `scheme` over rows of `schema`. `splits` are the range split points
    /// (given or sampled); `producer` seeds the random and round-robin schemes so producers
    /// neither repeat each other nor change on a retry.
    pub fn new(
        scheme: &Scheme,
        schema: &Schema,
        partitions: usize,
        splits: Option<ArrayRef>,
        producer: usize,
    ) -> Result<Self> {
        let index = |name: &str| {
            schema.index_of(name).map_err(|_| {
                TarnError::Invalid(format!("partition column '{name}' not found in the input"))
            })
        };
        let rule = match scheme {
            Scheme::Hash { columns } => {
                Rule::Hash(columns.iter().map(|c| index(c)).collect::<Result<_>>()?)
            }
            Scheme::Column { column } => Rule::Column(integer_column(schema, index(column)?)?),
            Scheme::Range { column, .. } => {
                let column = index(column)?;
                let splits = splits.expect("range split points are resolved before a shuffle");
                let splits = cast(&splits, schema.field(column).data_type()).map_err(|e| {
                    TarnError::Invalid(format!(
                        "split points do not fit column '{}': {e}",
                        schema.field(column).name()
                    ))
                })?;
                Rule::Range { column, splits }
            }
            Scheme::Rows => Rule::Rows {
                next: producer % partitions,
            },
            Scheme::Random => Rule::Random(Box::new(StdRng::seed_from_u64(producer as u64))),
            Scheme::Expert { column, replicas } => Rule::Expert {
                column: integer_column(schema, index(column)?)?,
                dealt: vec![producer; replicas.len()],
                replicas: replicas.clone(),
            },
        };
        Ok(Partitioner { rule, partitions })
    }

    /// The partition of every row of `batch`.
    pub fn assign(&mut self, batch: &RecordBatch) -> Result<Vec<u32>> {
        let n = self.partitions;
        let rows = batch.num_rows();
        Ok(match &mut self.rule {
            Rule::Hash(columns) => {
                let arrays: Vec<&ArrayRef> = columns.iter().map(|&c| batch.column(c)).collect();
                let mut hashes = vec![0u64; rows];
                create_hashes(arrays, &HASH_STATE, &mut hashes)?;
                hashes.iter().map(|h| (h % n as u64) as u32).collect()
            }
            Rule::Column(column) => {
                let keys = cast(batch.column(*column), &DataType::Int64)?;
                let keys = keys.as_primitive::<Int64Type>();
                let mut out = Vec::with_capacity(rows);
                for i in 0..rows {
                    if keys.is_null(i) {
                        return Err(out_of_range("NULL", n));
                    }
                    let key = keys.value(i);
                    if key < 0 || key >= n as i64 {
                        return Err(out_of_range(&key.to_string(), n));
                    }
                    out.push(key as u32);
                }
                out
            }
            Rule::Range { column, splits } => {
                let values = batch.column(*column);
                let compare =
                    make_comparator(values.as_ref(), splits.as_ref(), SortOptions::default())?;
                (0..rows)
                    .map(|i| {
                        if values.is_null(i) {
                            // NULLs sort last, as they do in every query Tarn runs.
                            return (n - 1) as u32;
                        }
                        // The number of split points at or below the value.
                        let (mut low, mut high) = (0, splits.len());
                        while low < high {
                            let mid = (low + high) / 2;
                            if compare(i, mid) == Ordering::Less {
                                high = mid;
                            } else {
                                low = mid + 1;
                            }
                        }
                        low as u32
                    })
                    .collect()
            }
            Rule::Rows { next } => {
                let start = *next;
                *next = (start + rows) % n;
                (0..rows).map(|i| ((start + i) % n) as u32).collect()
            }
            Rule::Random(rng) => (0..rows).map(|_| rng.random_range(0..n as u32)).collect(),
            Rule::Expert {
                column,
                replicas,
                dealt,
            } => {
                let experts = cast(batch.column(*column), &DataType::Int64)?;
                let experts = experts.as_primitive::<Int64Type>();
                let mut out = Vec::with_capacity(rows);
                for i in 0..rows {
                    let expert = (!experts.is_null(i))
                        .then(|| experts.value(i))
                        .and_then(|e| usize::try_from(e).ok())
                        .filter(|&e| e < replicas.len());
                    let Some(expert) = expert else {
                        let key = if experts.is_null(i) {
                            "NULL".to_string()
                        } else {
                            experts.value(i).to_string()
                        };
                        return Err(TarnError::Invalid(format!(
                            "expert {key} is not one of the placement's experts 0-{}",
                            replicas.len() - 1
                        )));
                    };
                    let homes = &replicas[expert];
                    out.push(homes[dealt[expert] % homes.len()]);
                    dealt[expert] += 1;
                }
                out
            }
        })
    }
}

/// The position of an integer column, or an error naming its type.
fn integer_column(schema: &Schema, column: usize) -> Result<usize> {
    let field = schema.field(column);
    if !field.data_type().is_integer() {
        return Err(TarnError::Invalid(format!(
            "partition column '{}' must be an integer, not {}",
            field.name(),
            field.data_type()
        )));
    }
    Ok(column)
}

fn out_of_range(key: &str, partitions: usize) -> TarnError {
    TarnError::Invalid(format!(
        "partition key {key} is out of range 0-{}",
        partitions - 1
    ))
}

/// The schema a hash shuffle writes: the input's plus [`PARTITION_COLUMN`].
pub fn with_partition_column(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        PARTITION_COLUMN,
        DataType::UInt32,
        false,
    )));
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with the partition of each row appended as [`PARTITION_COLUMN`].
pub fn add_partition_column(
    batch: &RecordBatch,
    schema: &SchemaRef,
    partitions: &[u32],
) -> Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(UInt32Array::from(partitions.to_vec())));
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};

    use super::*;

    fn batch(values: Vec<Option<i64>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values))]).unwrap()
    }

    #[test]
    fn a_key_outside_the_partitions_is_named() {
        let b = batch(vec![Some(0), Some(3), Some(4)]);
        let scheme = Scheme::Column { column: "k".into() };
        let mut p = Partitioner::new(&scheme, &b.schema(), 4, None, 0).unwrap();
        assert_eq!(
            p.assign(&b).unwrap_err().to_string(),
            "Invalid Input Error: partition key 4 is out of range 0-3"
        );
        let mut p = Partitioner::new(&scheme, &b.schema(), 5, None, 0).unwrap();
        assert_eq!(p.assign(&b).unwrap(), [0, 3, 4]);
    }

    #[test]
    fn range_partitions_split_at_the_points() {
        let b = batch(vec![Some(-5), Some(10), Some(19), Some(20), Some(99), None]);
        let splits: ArrayRef = Arc::new(Int64Array::from(vec![10, 20]));
        let scheme = Scheme::Range {
            column: "k".into(),
            splits: tarn_planner::Splits::Sampled,
        };
        let mut p = Partitioner::new(&scheme, &b.schema(), 3, Some(splits), 0).unwrap();
        assert_eq!(p.assign(&b).unwrap(), [0, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn hashing_is_the_same_in_every_producer() {
        let schema = Arc::new(Schema::new(vec![Field::new("url", DataType::Utf8, false)]));
        let urls = StringArray::from(vec!["a", "b", "c", "a"]);
        let b = RecordBatch::try_new(schema, vec![Arc::new(urls)]).unwrap();
        let scheme = Scheme::Hash {
            columns: vec!["url".into()],
        };
        let first = Partitioner::new(&scheme, &b.schema(), 7, None, 0)
            .unwrap()
            .assign(&b)
            .unwrap();
        let second = Partitioner::new(&scheme, &b.schema(), 7, None, 5)
            .unwrap()
            .assign(&b)
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(first[0], first[3]);
    }

    #[test]
    fn rows_are_dealt_evenly_across_batches() {
        let mut p = Partitioner::new(&Scheme::Rows, &batch(vec![]).schema(), 3, None, 0).unwrap();
        let mut counts = [0; 3];
        for size in [4, 1, 5] {
            for part in p.assign(&batch(vec![Some(1); size])).unwrap() {
                counts[part as usize] += 1;
            }
        }
        assert_eq!(counts, [4, 3, 3]);
    }
}
