//! DuckDB's statistical aggregates that DataFusion lacks, with DuckDB's answers:
//!
//! * over the distinct values and their counts: `mode(x)` (the most frequent value; on a tie
//!   the first seen, where DuckDB's choice depends on its hash table), `entropy(x)` (in bits; 0 for no rows), `histogram(x)` (a MAP from each
//!   value, in order, to its count), `quantile_disc(x, q)` / `quantile(x, q)` (the value at
//!   position ⌈n·q⌉ - 1, at least 0, in sorted order) and `quantile_cont(x, q)` (interpolated
//!   at position q·(n - 1) as DuckDB does, `lo + (hi - lo)·fraction` in DOUBLEs: DataFusion's,
//!   which `quantile_cont` named before, rounds the fraction down to millionths, so that
//!   `quantile_cont(x, 0.3)` of 0, 1.5, 10, 10 was 1.3499985, not 1.35);
//!   and `mad(x)` (the median absolute deviation: the median of each value's distance from the
//!   median, medians interpolated as `median` does; DOUBLE, or the DECIMAL given);
//! * over running sums: `product(x)`, `skewness(x)`, `kurtosis(x)` (the sample statistics,
//!   NULL below 3 and 4 values or with no spread) and `kurtosis_pop(x)`, by DuckDB's formulas
//!   on the sums of powers.
//!
//! NULL inputs are skipped. These are row-at-a-time accumulators: they serve exploration,
//! not the hot paths DataFusion's own aggregates are tuned for. The value-count statistics
//! also take values back, so they run over sliding window frames (`mode(x) OVER (ORDER BY t
//! ROWS 3 PRECEDING)`).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, MapArray, StructArray, UInt64Array, new_empty_array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::prelude::SessionContext;

use super::types::sql_type_name;

/// The name of `quantile_disc` over values sorted from the top, which the SQL layer writes
/// for a descending `percentile_disc`.
pub const QUANTILE_DISC_DESCENDING: &str = "tarn_quantile_disc_desc";

/// Registers every statistic on a context.
pub fn register(ctx: &SessionContext) {
    for statistic in [
        Statistic::Mode,
        Statistic::Entropy,
        Statistic::Histogram,
        Statistic::QuantileDisc { descending: false },
        Statistic::QuantileDisc { descending: true },
        Statistic::QuantileCont,
        Statistic::Mad,
        Statistic::Product,
        Statistic::Skewness,
        Statistic::Kurtosis,
        Statistic::KurtosisPop,
    ] {
        ctx.register_udaf(AggregateUDF::from(StatisticUdf::new(statistic)));
    }
}

/// Which statistic an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Statistic {
    Mode,
    Entropy,
    Histogram,
    /// `descending`: picked from the values sorted the other way, for `percentile_disc(q)
    /// WITHIN GROUP (ORDER BY x DESC)`.
    QuantileDisc {
        descending: bool,
    },
    QuantileCont,
    Mad,
    Product,
    Skewness,
    Kurtosis,
    KurtosisPop,
}

impl Statistic {
    fn name(self) -> &'static str {
        match self {
            Statistic::Mode => "mode",
            Statistic::Entropy => "entropy",
            Statistic::Histogram => "histogram",
            Statistic::QuantileDisc { descending: false } => "quantile_disc",
            Statistic::QuantileDisc { descending: true } => QUANTILE_DISC_DESCENDING,
            Statistic::QuantileCont => "quantile_cont",
            Statistic::Mad => "mad",
            Statistic::Product => "product",
            Statistic::Skewness => "skewness",
            Statistic::Kurtosis => "kurtosis",
            Statistic::KurtosisPop => "kurtosis_pop",
        }
    }

    /// Whether it is computed from running sums of DOUBLEs (else from value counts).
    fn is_sums(self) -> bool {
        matches!(
            self,
            Statistic::Product | Statistic::Skewness | Statistic::Kurtosis | Statistic::KurtosisPop
        )
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct StatisticUdf {
    statistic: Statistic,
    signature: Signature,
    aliases: Vec<String>,
}

impl StatisticUdf {
    fn new(statistic: Statistic) -> Self {
        let aliases = match statistic {
            // DuckDB's reservoir sample holds every value of up to 8192 rows, where it is this.
            Statistic::QuantileDisc { descending: false } => {
                vec!["quantile".into(), "reservoir_quantile".into()]
            }
            _ => vec![],
        };
        StatisticUdf {
            statistic,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases,
        }
    }
}

impl AggregateUDFImpl for StatisticUdf {
    fn name(&self) -> &str {
        self.statistic.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.statistic.name();
        match (self.statistic, arg_types) {
            (Statistic::QuantileDisc { .. }, [value, _]) => {
                Ok(vec![value.clone(), DataType::Float64])
            }
            (Statistic::QuantileCont, [value, _]) => {
                Ok(vec![interpolated(name, value)?, DataType::Float64])
            }
            (Statistic::QuantileDisc { .. } | Statistic::QuantileCont, _) => {
                plan_err!("{name} takes a value and a quantile")
            }
            (Statistic::Mad, [value]) => Ok(vec![interpolated(name, value)?]),
            (s, [value]) if s.is_sums() => match value.is_numeric() || value.is_null() {
                true => Ok(vec![DataType::Float64]),
                false => plan_err!("{name} of {}, not of a number", sql_type_name(value)),
            },
            (_, [value]) => Ok(vec![value.clone()]),
            _ => plan_err!("{name} takes one argument"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.statistic {
            Statistic::Mode
            | Statistic::QuantileDisc { .. }
            | Statistic::QuantileCont
            | Statistic::Mad => arg_types[0].clone(),
            Statistic::Histogram => histogram_type(&arg_types[0]),
            _ => DataType::Float64,
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |name: &str, data_type: DataType| state_field(args.name, name, data_type);
        let list = |item: DataType| DataType::List(Arc::new(Field::new_list_field(item, true)));
        Ok(match self.statistic.is_sums() {
            true => ["count", "sum", "sum_sqr", "sum_cub", "sum_four", "product"]
                .iter()
                .map(|name| field(name, DataType::Float64))
                .collect(),
            false => vec![
                field("values", list(args.input_fields[0].data_type().clone())),
                field("counts", list(DataType::UInt64)),
            ],
        })
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let input = args.expr_fields[0].data_type().clone();
        if self.statistic.is_sums() {
            return Ok(Box::new(Sums {
                statistic: self.statistic,
                sums: [0.0; 5],
                product: 1.0,
            }));
        }
        let quantile = match self.statistic {
            Statistic::QuantileDisc { .. } | Statistic::QuantileCont => {
                constant_quantile(self.statistic.name(), &args)?
            }
            _ => 0.0,
        };
        Ok(Box::new(ValueCounts {
            statistic: self.statistic,
            input,
            quantile,
            index: HashMap::new(),
            counts: Vec::new(),
        }))
    }
}

/// The state field `name` of the aggregate `aggregate`, nullable.
pub(super) fn state_field(aggregate: &str, name: &str, data_type: DataType) -> FieldRef {
    Arc::new(Field::new(format!("{aggregate}[{name}]"), data_type, true))
}

/// The type a statistic interpolating between values (`quantile_cont`, `mad`) reads `value`
/// as: a DECIMAL as itself, any other number as a DOUBLE.
fn interpolated(name: &str, value: &DataType) -> Result<DataType> {
    if value.is_decimal() {
        Ok(value.clone())
    } else if value.is_numeric() || value.is_null() {
        Ok(DataType::Float64)
    } else {
        plan_err!("{name} of {}, not of a number", sql_type_name(value))
    }
}

/// The quantile, a constant between 0 and 1, that `quantile_disc` and `quantile_cont` take
/// second.
fn constant_quantile(name: &str, args: &AccumulatorArgs) -> Result<f64> {
    let quantile = args
        .exprs
        .get(1)
        .and_then(|e| e.downcast_ref::<Literal>())
        .map(|l| l.value().clone());
    match quantile {
        Some(ScalarValue::Float64(Some(q))) if (0.0..=1.0).contains(&q) => Ok(q),
        _ => plan_err!("{name}: the quantile must be a constant between 0 and 1"),
    }
}

/// `histogram`'s type: a MAP from the values to UBIGINT counts, keys in order.
fn histogram_type(key: &DataType) -> DataType {
    let entries = Fields::from(vec![
        Field::new("key", key.clone(), false),
        Field::new("value", DataType::UInt64, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

/// Each distinct value with its count, in the order first seen.
#[derive(Debug)]
struct ValueCounts {
    statistic: Statistic,
    input: DataType,
    quantile: f64,
    /// Where each value's count is in `counts`.
    index: HashMap<ScalarValue, usize>,
    counts: Vec<(ScalarValue, u64)>,
}

impl ValueCounts {
    fn add(&mut self, value: ScalarValue, count: u64) {
        match self.index.get(&value) {
            Some(&at) => self.counts[at].1 += count,
            None => {
                self.index.insert(value.clone(), self.counts.len());
                self.counts.push((value, count));
            }
        }
    }

    /// The values counted now with their counts, in the order first seen: a value a sliding
    /// window took back keeps its place at a count of 0.
    fn counted(&self) -> impl Iterator<Item = &(ScalarValue, u64)> {
        self.counts.iter().filter(|(_, count)| *count > 0)
    }

    /// The values counted now as DOUBLEs, with their counts, for the statistics that
    /// interpolate between them.
    fn as_doubles(&self) -> Result<Vec<(f64, u64)>> {
        let mut values = Vec::with_capacity(self.counts.len());
        for (value, count) in self.counted() {
            let ScalarValue::Float64(Some(x)) = value.cast_to(&DataType::Float64)? else {
                return exec_err!("{}: {value} is not a number", self.statistic.name());
            };
            values.push((x, *count));
        }
        Ok(values)
    }

    /// The values in ascending order with their counts.
    fn sorted(&self) -> Vec<&(ScalarValue, u64)> {
        let mut sorted: Vec<_> = self.counted().collect();
        sorted.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        sorted
    }

    fn histogram(&self) -> Result<ScalarValue> {
        let DataType::Map(entries, sorted_keys) = histogram_type(&self.input) else {
            unreachable!("histogram_type is a MAP");
        };
        let DataType::Struct(fields) = entries.data_type() else {
            unreachable!("a MAP's entries are a struct");
        };
        let sorted = self.sorted();
        let keys = match sorted.is_empty() {
            true => new_empty_array(&self.input),
            false => ScalarValue::iter_to_array(sorted.iter().map(|(v, _)| v.clone()))?,
        };
        let counts: ArrayRef = Arc::new(UInt64Array::from_iter_values(
            sorted.iter().map(|(_, c)| *c),
        ));
        let entries_array = StructArray::try_new(fields.clone(), vec![keys, counts], None)?;
        let offsets = OffsetBuffer::from_lengths([sorted.len()]);
        let map = MapArray::try_new(entries, offsets, entries_array, None, sorted_keys)?;
        Ok(ScalarValue::Map(Arc::new(map)))
    }
}

impl Accumulator for ValueCounts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = &values[0];
        for row in 0..values.len() {
            if values.is_valid(row) {
                self.add(ScalarValue::try_from_array(values, row)?, 1);
            }
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = &values[0];
        for row in 0..values.len() {
            if values.is_valid(row) {
                let value = ScalarValue::try_from_array(values, row)?;
                match self.index.get(&value) {
                    Some(&at) if self.counts[at].1 > 0 => self.counts[at].1 -= 1,
                    _ => {
                        return exec_err!(
                            "{}: {value} taken back but never added",
                            self.statistic.name()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) {
                continue;
            }
            let (values, counts) = (values.value(row), counts.value(row));
            let counts = counts.as_primitive::<UInt64Type>();
            for (at, &count) in counts.values().iter().enumerate() {
                self.add(ScalarValue::try_from_array(&values, at)?, count);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self.counted().map(|(v, _)| v.clone()).collect();
        let counts: Vec<ScalarValue> = self
            .counted()
            .map(|(_, c)| ScalarValue::UInt64(Some(*c)))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.input)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let missing = || ScalarValue::try_from(&self.input);
        match self.statistic {
            Statistic::Mode => {
                // The first value seen among those counted most often.
                let mut best: Option<&(ScalarValue, u64)> = None;
                for entry in self.counted() {
                    if best.is_none_or(|b| entry.1 > b.1) {
                        best = Some(entry);
                    }
                }
                best.map_or_else(missing, |(v, _)| Ok(v.clone()))
            }
            Statistic::Entropy => {
                let total: u64 = self.counted().map(|(_, c)| c).sum();
                // Subtracted from 0.0, so that one value gives 0.0 rather than -0.0.
                let mut bits = 0.0;
                for &(_, count) in self.counted() {
                    let p = count as f64 / total as f64;
                    bits -= p * p.log2();
                }
                Ok(ScalarValue::Float64(Some(bits)))
            }
            Statistic::Histogram if self.counted().next().is_none() => {
                ScalarValue::try_from(histogram_type(&self.input))
            }
            Statistic::Histogram => self.histogram(),
            Statistic::QuantileDisc { descending } => {
                let total: u64 = self.counted().map(|(_, c)| c).sum();
                if total == 0 {
                    return missing();
                }
                // The first value with at least a share q of the rows at or before it in the
                // order asked for, as SQL's PERCENTILE_DISC and DuckDB answer.
                let position = ((total as f64 * self.quantile).ceil() as u64).max(1) - 1;
                let mut sorted = self.sorted();
                if descending {
                    sorted.reverse();
                }
                let mut seen = 0;
                for (value, count) in sorted {
                    seen += count;
                    if seen > position {
                        return Ok(value.clone());
                    }
                }
                unreachable!("the position is below the total count")
            }
            Statistic::QuantileCont | Statistic::Mad if self.counted().next().is_none() => {
                missing()
            }
            Statistic::QuantileCont => match self.input {
                DataType::Decimal128(precision, scale) => {
                    let mut values = Vec::with_capacity(self.counts.len());
                    for (value, count) in self.counted() {
                        let ScalarValue::Decimal128(Some(raw), ..) = value else {
                            return exec_err!("quantile_cont: {value} is not a DECIMAL");
                        };
                        values.push((*raw, *count));
                    }
                    let raw = decimal_quantile(&mut values, self.quantile);
                    Ok(ScalarValue::Decimal128(Some(raw), precision, scale))
                }
                _ => {
                    let mut values = self.as_doubles()?;
                    ScalarValue::Float64(Some(quantile(&mut values, self.quantile)))
                        .cast_to(&self.input)
                }
            },
            Statistic::Mad => {
                let mut values = self.as_doubles()?;
                let center = quantile(&mut values, 0.5);
                let mut deviations: Vec<(f64, u64)> = values
                    .iter()
                    .map(|&(x, n)| ((x - center).abs(), n))
                    .collect();
                ScalarValue::Float64(Some(quantile(&mut deviations, 0.5))).cast_to(&self.input)
            }
            other => exec_err!("{} is not a value-count statistic", other.name()),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .counts
                .iter()
                .map(|(v, _)| 2 * v.size() + 24)
                .sum::<usize>()
    }
}

/// The quantile `q` of values given with their counts (not empty), interpolated at position
/// q·(n - 1) as DuckDB does: the median is the two middle values' mean when the count is even.
fn quantile(values: &mut [(f64, u64)], q: f64) -> f64 {
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (low, high, fraction) = bracket(values, q);
    low + (high - low) * fraction
}

/// The quantile `q` of DECIMAL values given as their raw integers with their counts (not
/// empty), in the same units: DuckDB interpolates in them, the step from the lower value cut
/// towards it (1.50 and 2.25 at a quarter give 1.87, not 1.88).
fn decimal_quantile(values: &mut [(i128, u64)], q: f64) -> i128 {
    values.sort_by_key(|&(raw, _)| raw);
    let (low, high, fraction) = bracket(values, q);
    low + ((high - low) as f64 * fraction).floor() as i128
}

/// The two values at either side of position q·(n - 1) in `sorted` (values with their counts,
/// in order), and how far the position lies from the first towards the second.
fn bracket<T: Copy>(sorted: &[(T, u64)], q: f64) -> (T, T, f64) {
    let total: u64 = sorted.iter().map(|(_, n)| n).sum();
    let at = |position: u64| {
        let mut seen = 0;
        for &(x, n) in sorted {
            seen += n;
            if seen > position {
                return x;
            }
        }
        unreachable!("the position is below the total count")
    };
    let position = q * (total - 1) as f64;
    let below = position.floor();
    (
        at(below as u64),
        at(position.ceil() as u64),
        position - below,
    )
}

/// Count and sums of the first four powers of the values, and their product.
#[derive(Debug)]
struct Sums {
    statistic: Statistic,
    /// n, Σx, Σx², Σx³, Σx⁴.
    sums: [f64; 5],
    product: f64,
}

impl Accumulator for Sums {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = cast(&values[0], &DataType::Float64)?;
        for x in values.as_primitive::<Float64Type>().iter().flatten() {
            // Powers as DuckDB takes them (pow, not repeated products), for its last digits.
            let powers = [1.0, x, x.powf(2.0), x.powf(3.0), x.powf(4.0)];
            for (sum, term) in self.sums.iter_mut().zip(powers) {
                *sum += term;
            }
            self.product *= x;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let states: Vec<_> = states
            .iter()
            .map(|s| s.as_primitive::<Float64Type>())
            .collect();
        for row in 0..states[0].len() {
            for (sum, state) in self.sums.iter_mut().zip(&states) {
                *sum += state.value(row);
            }
            self.product *= states[5].value(row);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .sums
            .iter()
            .chain([&self.product])
            .map(|&v| ScalarValue::Float64(Some(v)))
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // DuckDB's formulas in its order of operations, so that the last digits agree.
        let [n, sum, sum_sqr, sum_cub, sum_four] = self.sums;
        let temp = 1.0 / n;
        let spread = sum_sqr - sum * sum * temp;
        let m2 = temp * spread;
        let kurtosis_m4 = || {
            temp * (sum_four - 4.0 * sum_cub * sum * temp + 6.0 * sum_sqr * sum * sum * temp * temp
                - 3.0 * sum.powf(4.0) * temp.powf(3.0))
        };
        let answer = match self.statistic {
            Statistic::Product => (n > 0.0).then_some(self.product),
            Statistic::Skewness => {
                let div = m2.powf(3.0).max(0.0).sqrt();
                (n > 2.0 && div != 0.0).then(|| {
                    let temp1 = (n * (n - 1.0)).sqrt() / (n - 2.0);
                    temp1
                        * temp
                        * (sum_cub - 3.0 * sum_sqr * sum * temp + 2.0 * sum.powf(3.0) * temp * temp)
                        / div
                })
            }
            Statistic::Kurtosis => (n > 3.0 && spread != 0.0 && m2 > 0.0).then(|| {
                (n - 1.0) * ((n + 1.0) * kurtosis_m4() / (m2 * m2) - 3.0 * (n - 1.0))
                    / ((n - 2.0) * (n - 3.0))
            }),
            Statistic::KurtosisPop => {
                (n > 1.0 && spread != 0.0 && m2 > 0.0).then(|| kurtosis_m4() / (m2 * m2) - 3.0)
            }
            other => return exec_err!("{} is not a running-sum statistic", other.name()),
        };
        match answer {
            Some(x) if !x.is_finite() => exec_err!("{} is out of range", self.statistic.name()),
            _ => Ok(ScalarValue::Float64(answer)),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}
