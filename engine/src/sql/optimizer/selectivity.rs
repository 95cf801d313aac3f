//! The fraction of a table's rows a filter keeps, for the join-order rule's estimates.
//!
//! Guessed from each predicate's form (the textbook fractions below), sharpened where the table's
//! statistics say more: an equality with a constant keeps one distinct value's share
//! (`p_type = 'X'` keeps 1/150 of the parts), and the range comparisons on one column together
//! keep the part of its min..max range they leave (`o_orderdate >= '1994-01-01' AND o_orderdate
//! < '1995-01-01'` keeps 365 days of 2,405, 15%, where two independent one-sided guesses would
//! give 1/9 and a guess per comparison would not see that they bound the same column).

use std::collections::HashMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// The fraction of rows an equality with a constant keeps (the textbook guess without
/// distinct counts).
const EQUALITY: f64 = 0.1;
/// The fraction a one-sided range keeps (`<`, `>=`, …).
const RANGE: f64 = 1.0 / 3.0;
/// The fraction a two-sided range keeps (`BETWEEN`).
const BETWEEN: f64 = 0.25;
/// The fraction a `LIKE` pattern keeps.
const PATTERN: f64 = 0.1;
/// The fraction any other predicate keeps.
const UNKNOWN: f64 = 0.5;

/// What is known of the columns a predicate reads.
pub(super) trait ColumnFacts {
    /// How many distinct values `column` holds.
    fn distinct(&self, column: &Column) -> Option<f64>;
    /// The least and greatest of `column`'s values, as numbers ([`as_number`]).
    fn range(&self, column: &Column) -> Option<(f64, f64)>;
}

/// A number standing for `value` on a line where its type's values keep their order: integers,
/// floats and decimals as themselves, dates and times in their own units. `None` for text and
/// other types, and for NULL.
pub(super) fn as_number(value: &ScalarValue) -> Option<f64> {
    let data_type = value.data_type();
    let target = if data_type.is_numeric() {
        DataType::Float64
    } else if matches!(
        data_type,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    ) {
        DataType::Int64
    } else {
        return None;
    };
    match value.cast_to(&target).ok()? {
        ScalarValue::Float64(Some(v)) => Some(v),
        ScalarValue::Int64(Some(v)) => Some(v as f64),
        _ => None,
    }
}

/// The fraction of rows `predicate` keeps.
pub(super) fn selectivity(predicate: &Expr, facts: &dyn ColumnFacts) -> f64 {
    conjunction_selectivity(&split_conjunction(predicate), facts)
}

/// The fraction of rows all of `conjuncts` together keep: the range comparisons on a column of
/// known range as one interval of it, every other conjunct independently.
pub(super) fn conjunction_selectivity(conjuncts: &[&Expr], facts: &dyn ColumnFacts) -> f64 {
    let mut intervals: HashMap<&Column, Interval> = HashMap::new();
    let mut kept = 1.0;
    for conjunct in conjuncts {
        match bounds(conjunct, facts) {
            Some((column, range, low, high)) => {
                let interval = intervals.entry(column).or_insert(Interval {
                    range,
                    low: range.0,
                    high: range.1,
                });
                interval.low = interval.low.max(low);
                interval.high = interval.high.min(high);
            }
            None => kept *= one(conjunct, facts),
        }
    }
    intervals.values().map(Interval::fraction).product::<f64>() * kept
}

/// What the range comparisons on one column leave of its range.
struct Interval {
    range: (f64, f64),
    low: f64,
    high: f64,
}

impl Interval {
    fn fraction(&self) -> f64 {
        let (min, max) = self.range;
        if self.low > self.high {
            0.0
        } else if max > min {
            ((self.high - self.low) / (max - min)).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

/// `conjunct` as bounds on a column of known range: the column, its range, and the least and
/// greatest values the conjunct lets through; `None` for anything else.
fn bounds<'a>(
    conjunct: &'a Expr,
    facts: &dyn ColumnFacts,
) -> Option<(&'a Column, (f64, f64), f64, f64)> {
    let (column, low, high) = match conjunct {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (column, op, value) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) => (c, *op, v),
                (Expr::Literal(v, _), Expr::Column(c)) => (c, op.swap()?, v),
                _ => return None,
            };
            let value = as_number(value)?;
            match op {
                Operator::Lt | Operator::LtEq => (column, f64::NEG_INFINITY, value),
                Operator::Gt | Operator::GtEq => (column, value, f64::INFINITY),
                _ => return None,
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => match (expr.as_ref(), low.as_ref(), high.as_ref()) {
            (Expr::Column(c), Expr::Literal(low, _), Expr::Literal(high, _)) => {
                (c, as_number(low)?, as_number(high)?)
            }
            _ => return None,
        },
        _ => return None,
    };
    Some((column, facts.range(column)?, low, high))
}

/// The fraction of rows one predicate keeps, guessed from its form and, for a column compared
/// with constants, from the column's distinct values where known.
fn one(predicate: &Expr, facts: &dyn ColumnFacts) -> f64 {
    let of_value = |column: &Expr, value: &Expr| match (column, value) {
        (Expr::Column(c), Expr::Literal(..)) => {
            facts.distinct(c).filter(|&d| d >= 1.0).map(|d| 1.0 / d)
        }
        _ => None,
    };
    match predicate {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::Or => {
                let (a, b) = (selectivity(left, facts), selectivity(right, facts));
                a + b - a * b
            }
            Operator::Eq | Operator::IsNotDistinctFrom => of_value(left, right)
                .or_else(|| of_value(right, left))
                .unwrap_or(EQUALITY),
            Operator::NotEq | Operator::IsDistinctFrom => 1.0 - EQUALITY,
            Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => RANGE,
            Operator::LikeMatch | Operator::ILikeMatch => PATTERN,
            Operator::NotLikeMatch | Operator::NotILikeMatch => 1.0 - PATTERN,
            _ => UNKNOWN,
        },
        Expr::Between(between) if between.negated => 1.0 - BETWEEN,
        Expr::Between(_) => BETWEEN,
        Expr::InList(list) => {
            let each = list
                .list
                .first()
                .and_then(|value| of_value(&list.expr, value))
                .unwrap_or(EQUALITY);
            let kept = (each * list.list.len() as f64).min(UNKNOWN);
            if list.negated { 1.0 - kept } else { kept }
        }
        Expr::Like(like) if like.negated => 1.0 - PATTERN,
        Expr::Like(_) => PATTERN,
        Expr::Not(inner) => 1.0 - selectivity(inner, facts),
        Expr::IsNull(_) => EQUALITY,
        Expr::IsNotNull(_) => 1.0 - EQUALITY,
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    /// `p_type` has 150 values; `o_orderdate` runs over 2,405 days from day 8,035
    /// (1992-01-01); nothing is known of `p_brand` or `o_comment`.
    struct Tpch;

    impl ColumnFacts for Tpch {
        fn distinct(&self, column: &Column) -> Option<f64> {
            (column.name == "p_type").then_some(150.0)
        }

        fn range(&self, column: &Column) -> Option<(f64, f64)> {
            (column.name == "o_orderdate").then_some((8035.0, 8035.0 + 2405.0))
        }
    }

    fn kept(predicate: Expr) -> f64 {
        selectivity(&predicate, &Tpch)
    }

    fn date(text: &str) -> Expr {
        lit(ScalarValue::Date32(Some(
            text.parse::<chrono::NaiveDate>()
                .expect("a date")
                .signed_duration_since(chrono::NaiveDate::default())
                .num_days() as i32,
        )))
    }

    /// A column compared with a constant keeps one of its distinct values' share of the rows
    /// where the count is known, and the guess where it is not.
    #[test]
    fn equality_keeps_one_distinct_values_share() {
        assert_eq!(
            kept(col("p_type").eq(lit("ECONOMY ANODIZED STEEL"))),
            1.0 / 150.0
        );
        assert_eq!(kept(lit("X").eq(col("p_type"))), 1.0 / 150.0);
        assert_eq!(
            kept(col("p_type").in_list(vec![lit("A"), lit("B")], false)),
            2.0 / 150.0
        );
        assert_eq!(kept(col("p_brand").eq(lit("Brand#23"))), EQUALITY);
        assert_eq!(
            kept(col("p_type").eq(lit("A")).and(col("p_brand").eq(lit("B")))),
            EQUALITY / 150.0
        );
        // A column against a column is no constant's share.
        assert_eq!(kept(col("p_type").eq(col("p_brand"))), EQUALITY);
    }

    /// The comparisons on a column of known range keep the interval they leave together, in
    /// either order of operands and as `BETWEEN`; a bound outside the range keeps it all, and
    /// bounds that cross keep nothing.
    #[test]
    fn ranges_on_one_column_keep_the_interval_they_leave() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let year = col("o_orderdate")
            .gt_eq(date("1994-01-01"))
            .and(col("o_orderdate").lt(date("1995-01-01")));
        assert!(close(kept(year), 365.0 / 2405.0));
        let reversed = date("1995-01-01").gt(col("o_orderdate"));
        assert!(close(kept(reversed), (9131.0 - 8035.0) / 2405.0));
        let between = col("o_orderdate").between(date("1995-01-01"), date("1996-12-31"));
        assert!(close(kept(between), 730.0 / 2405.0));
        assert_eq!(kept(col("o_orderdate").gt(date("1980-01-01"))), 1.0);
        let crossed = col("o_orderdate")
            .gt(date("1996-01-01"))
            .and(col("o_orderdate").lt(date("1995-01-01")));
        assert_eq!(kept(crossed), 0.0);
        // Other conjuncts multiply in; a column of unknown range keeps the guess.
        let mixed = col("o_orderdate")
            .lt(date("1995-01-01"))
            .and(col("p_type").eq(lit("X")));
        assert!(close(kept(mixed), (9131.0 - 8035.0) / 2405.0 / 150.0));
        assert_eq!(kept(col("o_comment").lt(lit("m"))), RANGE);
    }

    #[test]
    fn numbers_keep_their_types_order() {
        assert_eq!(as_number(&ScalarValue::Int32(Some(-3))), Some(-3.0));
        assert_eq!(
            as_number(&ScalarValue::Decimal128(Some(705), 15, 2)),
            Some(7.05)
        );
        assert_eq!(as_number(&ScalarValue::Date32(Some(9000))), Some(9000.0));
        assert_eq!(
            as_number(&ScalarValue::TimestampMillisecond(Some(1_000), None)),
            Some(1_000.0)
        );
        assert_eq!(as_number(&ScalarValue::from("text")), None);
        assert_eq!(as_number(&ScalarValue::Int64(None)), None);
    }
}
