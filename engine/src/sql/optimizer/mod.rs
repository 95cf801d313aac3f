//! Rewrites Tarn adds to DataFusion's own optimizer rules.
//!
//! DataFusion joins tables in the order a query names them, evaluates conditions in the order
//! they are written, and decorrelates `IN`/`EXISTS`/scalar subqueries into semi joins placed
//! above the whole join tree of the outer query. DuckDB's planner gets better shapes from its
//! cardinality estimates and its "delim join" decorrelation. The rules here recover the cases
//! that cost the most:
//!
//! * [`JoinOrder`]: each tree of inner joins is rebuilt so that its intermediate results are
//!   small, from the tables' sizes ([`TableStats`]), the form of their filters and the distinct
//!   values of the columns they compare with constants (read from Parquet dictionaries; TPC-H
//!   Q5, Q7, Q8, Q21).
//! * [`ConjunctOrder`]: a filter evaluates its cheapest conditions first, so that the costly
//!   ones run on fewer rows (TPC-H Q12).
//! * [`FirstRowPerPartition`]: `QUALIFY row_number() OVER (PARTITION BY k ORDER BY s) = 1`,
//!   the deduplication idiom, is a hash aggregate keeping each partition's best row rather than
//!   a sort of every row.
//! * [`SemiJoinBuildSide`] (physical): a semi or anti join builds its hash table on the side
//!   with fewer estimated rows (TPC-H Q21).
//! * [`NotInBuildSide`] (physical): so does a `NOT IN`, whose null-aware anti join DataFusion
//!   never swaps, as a [`NotInJoinExec`] that keeps `NOT IN`'s NULL rules.
//! * [`JoinKeyFilters`] (physical): a hash join built whole drops the probe rows whose integer
//!   keys the build side lacks, tested against bitmaps, before hashing them, as a
//!   [`KeyFilteredJoinExec`] (TPC-H Q9).
//! * [`EagerConjunction`] (physical): a filter's `AND` evaluates a cheap comparison on every row
//!   rather than copying out the rows the conditions before it kept (TPC-H Q6).
//! * [`DecimalArithmetic`] (physical): DECIMAL `+`, `-`, `*` check for overflow once per batch
//!   instead of on every row (TPC-H's money columns, in most of its queries).
//! * [`DecimalComparison`] (physical): a DECIMAL compared with a constant compares 64-bit
//!   integers where the batch's values fit in them (TPC-H Q6, Q19).
//! * [`StringViewEquality`] (physical): a string-view column compared with a constant compares
//!   views rather than strings (TPC-H Q19).
//! * [`DirectAggregation`] (physical): a partial aggregate on one integer key whose range the
//!   statistics bound finds each row's group in an array indexed by the key (TPC-H Q13, Q18);
//!   one on a few keys, one of them a string, finds it by the keys packed into words (Q1).
//!
//! Sixteen rules are about answers, not speed: [`CheckedConstants`] (analyzer) and
//! [`CheckedArithmetic`] (physical) make integer overflow an error, as in DuckDB, where
//! DataFusion wraps around; [`IntegerCasts`] (analyzer) makes a cast to an integer round, where
//! DataFusion truncates; [`FloatOverDecimal`] (analyzer) compares a DOUBLE with a DECIMAL as
//! DOUBLEs, where DataFusion casts the DOUBLE to DECIMAL(30,15); [`TruncatedDecimals`]
//! (analyzer) gives `floor`, `ceil` and `trunc` of a DECIMAL the scale they keep;
//! [`DateIntervals`] (analyzer) makes a DATE plus an interval with a time of day a TIMESTAMP,
//! where DataFusion drops the time; [`DateTimestamps`] (analyzer) reads a DATE beside a
//! TIMESTAMP as that TIMESTAMP, where DataFusion met them in nanoseconds, which hold only 1677
//! to 2262; [`FunctionTypes`] (analyzer) gives date parts, list lengths and positions and
//! string positions DuckDB's types, where DataFusion's are INTEGER or UBIGINT;
//! [`SubqueryValues`] (analyzer) answers `IN` and `EXISTS` subqueries in a SELECT list, which
//! DataFusion plans only as conditions; [`InequalitySubqueries`] (analyzer) answers scalar
//! subqueries correlated by inequalities, which DataFusion does not decorrelate; [`TextCasts`]
//! (analyzer) writes a timestamp or a float cast to text as DuckDB does; [`Collations`]
//! (analyzer) makes text marked `COLLATE` compare, sort and group by its collation;
//! [`FloatExtremes`] (analyzer) makes `max` and `min` of floats order NaN above every number,
//! where DataFusion's grouped ones lose track after a NaN; [`SlidingAggregates`] (analyzer)
//! computes any aggregate over a sliding window frame, where DataFusion refuses those whose
//! accumulators cannot take rows back; [`DistinctZeros`] (analyzer) makes a DISTINCT aggregate
//! count -0.0 and 0.0 as one value, where DataFusion's DISTINCT accumulators tell them apart;
//! [`written_casts`] (on the plan as first planned) and [`ImpossibleTryCasts`] (analyzer) cast
//! between the types DuckDB casts between: a CAST DuckDB lacks fails, such a TRY_CAST is NULL,
//! and BOOLEAN and DECIMAL cast to each other.
//!
//! The two subquery rules work without statistics, each restricted to a plan shape where the
//! rewrite is cheap and the win is likely:
//!
//! * [`SemiJoinPushdown`]: a semi join whose right side is a HAVING-selected key set filters the
//!   one side of an inner join that holds its keys before that join runs (TPC-H Q18), and so
//!   does the key set the next rule adds.
//! * [`AggregateKeyReduction`]: an aggregate joined on a group key only aggregates the keys a
//!   filtered scan on the other side can match (TPC-H Q2, Q17).

mod aggregate_key_reduction;
mod bounded_decimal;
mod checked_integers;
mod collations;
mod conjunct_order;
mod date_intervals;
mod date_timestamps;
mod decimal_comparison;
mod dictionary_sizes;
mod direct_aggregate;
mod distinct_zeros;
mod duckdb_casts;
mod eager_and;
mod expressions;
mod filter_estimates;
mod first_row_per_partition;
mod float_decimal;
mod float_extremes;
mod function_types;
mod inequality_subqueries;
mod insertion_order;
mod integer_casts;
mod join_key_filter;
mod join_order;
mod json_casts;
mod literal_types;
mod not_in_join;
mod ordered_concat;
mod positional_zip;
mod selectivity;
mod semi_join_build_side;
mod semi_join_pushdown;
mod sliding_aggregates;
mod sorted_inputs;
mod subquery_values;
mod table_stats;
mod text_casts;
mod truncated_decimals;
mod truth_tests;
mod view_equality;
mod watched_join;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan, Operator, Projection};
use datafusion::optimizer::analyzer::Analyzer;
use datafusion::optimizer::{AnalyzerRule, OptimizerRule};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;

pub use aggregate_key_reduction::AggregateKeyReduction;
pub use bounded_decimal::{BoundedDecimal, DecimalArithmetic};
pub use checked_integers::{CheckedArithmetic, CheckedConstants, CheckedInteger};
pub use collations::Collations;
pub use conjunct_order::ConjunctOrder;
pub use date_intervals::DateIntervals;
pub use date_timestamps::DateTimestamps;
pub use decimal_comparison::{Comparison, DecimalComparison, NarrowDecimalCompare};
pub use direct_aggregate::{DirectAggregateExec, DirectAggregation, GroupLookup};
pub use distinct_zeros::DistinctZeros;
pub use duckdb_casts::{ImpossibleTryCasts, written_casts};
pub use eager_and::{EagerAnd, EagerConjunction};
pub use expressions::ArithmeticOp;
pub use filter_estimates::FilterEstimates;
pub use first_row_per_partition::FirstRowPerPartition;
pub use float_decimal::FloatOverDecimal;
pub use float_extremes::FloatExtremes;
pub use function_types::FunctionTypes;
pub use inequality_subqueries::InequalitySubqueries;
pub use insertion_order::{InsertionOrder, KeepInsertionOrder, MemoryScansInOrder};
pub use integer_casts::IntegerCasts;
pub use join_key_filter::{JoinKeyFilters, KeyFilteredJoinExec};
pub use join_order::JoinOrder;
pub use json_casts::JsonCasts;
pub use literal_types::literal_types;
pub use not_in_join::{NotInBuildSide, NotInJoinExec};
pub use positional_zip::PositionalZip;
pub use semi_join_build_side::SemiJoinBuildSide;
pub use semi_join_pushdown::SemiJoinPushdown;
pub use sliding_aggregates::{RecomputedAggregate, SlidingAggregates};
pub use sorted_inputs::{SortedInputs, UnsplitSortedInputs};
pub use subquery_values::SubqueryValues;
pub use table_stats::{TableStats, memory_rows};
pub use text_casts::TextCasts;
pub use truncated_decimals::TruncatedDecimals;
pub use truth_tests::TruthTests;
pub use view_equality::{StringViewEquality, ViewEquals};

/// The alias of the key set [`AggregateKeyReduction`] joins into an aggregate's input: how a
/// reduced aggregate is recognised, so that later passes leave it alone, and a key set that
/// [`SemiJoinPushdown`] knows to be small.
const KEYS_ALIAS: &str = "__tarn_join_keys";

/// DataFusion's analyzer rules with Tarn's: [`DateTimestamps`], [`DateIntervals`],
/// [`FunctionTypes`], [`FloatOverDecimal`] and [`TruthTests`] just before type coercion, whose
/// choice of type they correct, [`IntegerCasts`], [`TruncatedDecimals`], [`SubqueryValues`],
/// [`InequalitySubqueries`] (after the previous, whose `count(*)` subqueries it may take),
/// [`TextCasts`], [`JsonCasts`], [`ImpossibleTryCasts`], [`CheckedConstants`], [`Collations`],
/// [`FloatExtremes`],
/// [`DistinctZeros`] and [`SlidingAggregates`] after it, which need its casts and types in place.
pub fn analyzer_rules() -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
    let mut rules = Analyzer::new().rules;
    let coercion = rules
        .iter()
        .position(|rule| rule.name() == "type_coercion")
        .unwrap_or(rules.len());
    rules.insert(coercion, Arc::new(TruthTests));
    rules.insert(coercion, Arc::new(FloatOverDecimal));
    rules.insert(coercion, Arc::new(DateIntervals));
    rules.insert(coercion, Arc::new(DateTimestamps));
    rules.insert(coercion, Arc::new(FunctionTypes));
    rules.push(Arc::new(IntegerCasts));
    rules.push(Arc::new(TruncatedDecimals));
    rules.push(Arc::new(SubqueryValues));
    rules.push(Arc::new(InequalitySubqueries));
    rules.push(Arc::new(TextCasts));
    rules.push(Arc::new(JsonCasts));
    rules.push(Arc::new(ImpossibleTryCasts));
    rules.push(Arc::new(CheckedConstants));
    rules.push(Arc::new(Collations));
    rules.push(Arc::new(FloatExtremes));
    rules.push(Arc::new(DistinctZeros));
    rules.push(Arc::new(SlidingAggregates));
    // After type coercion, which types the two times of each ASOF join alike.
    rules.push(Arc::new(crate::sql::asof_join::AsofJoins));
    rules
}

/// Tarn's rules, in the order they run after DataFusion's; the join order comes from the table
/// sizes the session leaves in `tables`.
pub fn rules(tables: Arc<TableStats>) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    vec![
        Arc::new(JoinOrder::new(tables)),
        Arc::new(SemiJoinPushdown),
        Arc::new(AggregateKeyReduction),
        Arc::new(ConjunctOrder),
        Arc::new(crate::sql::asof_join::AsofLeftFilters),
        Arc::new(FirstRowPerPartition),
    ]
}

/// DataFusion's physical optimizer rules with Tarn's: [`MemoryScansInOrder`] first, before any
/// rule splits scans; [`SortedInputs`] and [`UnsplitSortedInputs`] just before and after
/// DataFusion enforces distributions and orders; [`FilterEstimates`] next, so that join
/// selection sees its estimates (from the dictionary sizes in `tables`); [`CheckedArithmetic`]
/// next, so that the checked expressions are what projection pushdown moves into a file scan;
/// [`SemiJoinBuildSide`] right after join selection, whose choice it corrects, and before the
/// rules that place repartitions for it; [`EagerConjunction`], [`DecimalArithmetic`],
/// [`DecimalComparison`] and [`StringViewEquality`] next to last, so that DataFusion's rules
/// (filter pushdown among them) see only their own expressions, and in that order, as the first
/// looks for DataFusion's comparisons; [`DirectAggregation`] last, as its node holds the
/// aggregate whose expressions those rules rewrite; [`InsertionOrder`] after all, as it only
/// changes how partitions are split and merged, once every rule has placed its merges; and
/// [`PositionalZip`] after it, to find each side of a positional join read in order.
pub fn physical_rules(
    tables: Arc<TableStats>,
    keep_order: Arc<KeepInsertionOrder>,
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::default().rules;
    let after = rules
        .iter()
        .position(|rule| rule.name() == "join_selection")
        .map_or(0, |position| position + 1);
    rules.insert(after, Arc::new(SemiJoinBuildSide));
    let requirements = rules
        .iter()
        .position(|rule| rule.name() == "EnsureRequirements")
        .unwrap_or(0);
    rules.insert(
        requirements + 1,
        Arc::new(UnsplitSortedInputs(Arc::clone(&keep_order))),
    );
    rules.insert(
        requirements,
        Arc::new(SortedInputs(Arc::clone(&keep_order))),
    );
    rules.insert(0, Arc::new(CheckedArithmetic));
    rules.insert(0, Arc::new(FilterEstimates::new(tables)));
    rules.insert(0, Arc::new(MemoryScansInOrder(Arc::clone(&keep_order))));
    rules.push(Arc::new(NotInBuildSide));
    rules.push(Arc::new(JoinKeyFilters));
    rules.push(Arc::new(EagerConjunction));
    rules.push(Arc::new(DecimalArithmetic));
    rules.push(Arc::new(DecimalComparison));
    rules.push(Arc::new(StringViewEquality));
    rules.push(Arc::new(DirectAggregation));
    rules.push(Arc::new(InsertionOrder(keep_order)));
    rules.push(Arc::new(PositionalZip));
    rules
}

/// The two children a binary expression of Tarn's (`name`) is rebuilt from.
fn two_children(
    name: &str,
    children: Vec<Arc<dyn PhysicalExpr>>,
) -> Result<[Arc<dyn PhysicalExpr>; 2]> {
    <[_; 2]>::try_from(children).map_err(|c| {
        DataFusionError::Internal(format!("{name} takes two children, not {}", c.len()))
    })
}

/// The functions whose arguments meet as values of one type (`make_array` is also `[a, b]`,
/// `array_value` its fixed-size form).
const UNIFYING_FUNCTIONS: [&str; 8] = [
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "nvl",
    "ifnull",
    "make_array",
    "array_value",
];

/// The values a `CASE` makes meet, each group of one type: its operand with its `WHEN` values
/// (without an operand the `WHEN`s are conditions and meet nothing), and its results.
fn case_groups(case: &mut Case) -> [Vec<&mut Expr>; 2] {
    let has_operand = case.expr.is_some();
    let mut compared: Vec<&mut Expr> = case.expr.iter_mut().map(|e| e.as_mut()).collect();
    let mut results = Vec::new();
    for (when, then) in case.when_then_expr.iter_mut() {
        if has_operand {
            compared.push(when.as_mut());
        }
        results.push(then.as_mut());
    }
    results.extend(case.else_expr.iter_mut().map(|e| e.as_mut()));
    [compared, results]
}

/// Whether `op` compares its two sides.
fn is_comparison(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

/// `plan`, its subqueries included, with `rewrite` applied bottom-up to every expression, given
/// the schema of the rows the expression reads (for the analyzer rules, which run before the
/// plan's types are settled). A rewritten expression keeps its output name.
fn rewrite_logical_expressions(
    plan: LogicalPlan,
    rewrite: fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let mut schema = merge_schema(&node.inputs());
        if let LogicalPlan::TableScan(scan) = &node {
            schema.merge(scan.projected_schema.as_ref());
        }
        let names = NamePreserver::new(&node);
        node.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|e| rewrite(e, &schema))?;
            Ok(match rewritten.transformed {
                true => Transformed::yes(name.restore(rewritten.data)),
                false => rewritten,
            })
        })
    })
    .map(|transformed| transformed.data)
}

/// `plan` seen past a projection that only picks columns, as DataFusion's projection pushdown
/// leaves between a filter and the node it filters: the projection, if any, and the node under
/// it.
pub(crate) fn under_column_projection(plan: &LogicalPlan) -> (Option<&Projection>, &LogicalPlan) {
    match plan {
        LogicalPlan::Projection(projection)
            if projection.expr.iter().all(|e| matches!(e, Expr::Column(_))) =>
        {
            (Some(projection), projection.input.as_ref())
        }
        other => (None, other),
    }
}

/// The plan under any `SubqueryAlias` and `Projection` nodes: what a join side computes, seen
/// past renaming.
fn strip_renames(plan: &LogicalPlan) -> &LogicalPlan {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => strip_renames(&alias.input),
        LogicalPlan::Projection(projection) => strip_renames(&projection.input),
        other => other,
    }
}
