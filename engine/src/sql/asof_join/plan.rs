//! From the marked join the SQL rewrite leaves to the [`AsofJoinExec`] that runs it.
//!
//! The rewrite writes an ASOF join as an ordinary join whose condition holds the equalities
//! of the keys and [`MARKER`]`('>=', left time, right time)`. DataFusion plans that text, and
//! the marker's arguments are coerced to one type like a comparison's. The analyzer rule
//! [`AsofJoins`] then turns each marked join into an [`AsofJoin`] node before any optimizer
//! rule sees it: an inner join's rules would push a filter on the right side's columns below
//! it, where it would change which right row is the nearest. [`AsofPlanner`] makes the node
//! an [`AsofJoinExec`].

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::Session;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DFSchemaRef, DataFusionError, Result, ScalarValue};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;

use crate::sql::types::sql_type_name;
use datafusion::logical_expr::utils::{split_conjunction, split_conjunction_owned};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, Extension, JoinType, LogicalPlan, Operator,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, UserDefinedLogicalNode,
    UserDefinedLogicalNodeCore, Volatility, build_join_schema,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use datafusion::prelude::SessionContext;

use super::Inequality;
use super::exec::AsofJoinExec;

/// The name of the function that marks an ASOF join's inequality.
pub(crate) const MARKER: &str = "__tarn_asof_match";

/// `MARKER(op, left_time, right_time)`: a join condition only [`AsofJoins`] reads. It never
/// runs; it takes its place in a join's condition so that DataFusion types the two times.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AsofMarker {
    signature: Signature,
}

impl ScalarUDFImpl for AsofMarker {
    fn name(&self) -> &str {
        MARKER
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [op, left, right] = args else {
            return Err(DataFusionError::Internal(format!(
                "{MARKER} takes 3 arguments, not {}",
                args.len()
            )));
        };
        // Types with no common one stay as they are, for `AsofJoins` to name the columns.
        let time = comparison_coercion(left, right);
        Ok(vec![
            op.clone(),
            time.clone().unwrap_or_else(|| left.clone()),
            time.unwrap_or_else(|| right.clone()),
        ])
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Internal(
            "an ASOF JOIN's condition was left in an ordinary join".into(),
        ))
    }
}

/// Registers the marker, which the rewritten SQL calls.
pub(crate) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(AsofMarker {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
}

/// The ASOF join as a logical node: `on` pairs the keys (left side first), `time` the times.
/// Its output is the left side's columns, then the right side's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsofJoin {
    pub left: Arc<LogicalPlan>,
    pub right: Arc<LogicalPlan>,
    pub on: Vec<(Expr, Expr)>,
    pub time: (Expr, Expr),
    pub inequality: Inequality,
    pub keep_unmatched: bool,
    schema: DFSchemaRef,
}

impl AsofJoin {
    pub fn try_new(
        left: Arc<LogicalPlan>,
        right: Arc<LogicalPlan>,
        on: Vec<(Expr, Expr)>,
        time: (Expr, Expr),
        inequality: Inequality,
        keep_unmatched: bool,
    ) -> Result<Self> {
        let join_type = match keep_unmatched {
            true => JoinType::Left,
            false => JoinType::Inner,
        };
        let schema = build_join_schema(left.schema(), right.schema(), &join_type)?;
        Ok(Self {
            left,
            right,
            on,
            time,
            inequality,
            keep_unmatched,
            schema: Arc::new(schema),
        })
    }

    /// The join of `inputs` whose [`expressions`](UserDefinedLogicalNodeCore::expressions)
    /// are `exprs`.
    pub fn from_parts(
        inequality: Inequality,
        keep_unmatched: bool,
        exprs: Vec<Expr>,
        inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let malformed = || DataFusionError::Internal("an ASOF join rebuilt wrongly".into());
        let [left, right] = <[_; 2]>::try_from(inputs).map_err(|_| malformed())?;
        if exprs.len() < 2 || !exprs.len().is_multiple_of(2) {
            return Err(malformed());
        }
        let mut exprs = exprs.into_iter();
        let mut pairs = std::iter::from_fn(|| Some((exprs.next()?, exprs.next()?)));
        let mut on: Vec<(Expr, Expr)> = pairs.by_ref().collect();
        let time = on.pop().ok_or_else(malformed)?;
        Self::try_new(
            Arc::new(left),
            Arc::new(right),
            on,
            time,
            inequality,
            keep_unmatched,
        )
    }

    /// The indices of the columns of `side` that `exprs` read.
    fn columns_read<'a>(side: &DFSchema, exprs: impl Iterator<Item = &'a Expr>) -> Vec<usize> {
        exprs
            .flat_map(|expr| expr.column_refs())
            .filter_map(|column| side.index_of_column(column).ok())
            .collect()
    }
}

impl PartialOrd for AsofJoin {
    /// By inputs and expressions; the schema follows from them.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        let key = |join: &Self| {
            (
                Arc::clone(&join.left),
                Arc::clone(&join.right),
                join.on.clone(),
                join.time.clone(),
                join.inequality,
                join.keep_unmatched,
            )
        };
        key(self).partial_cmp(&key(other))
    }
}

impl UserDefinedLogicalNodeCore for AsofJoin {
    fn name(&self) -> &str {
        "AsofJoin"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.left, &self.right]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    /// The keys in pairs, then the two times.
    fn expressions(&self) -> Vec<Expr> {
        self.on
            .iter()
            .flat_map(|(l, r)| [l.clone(), r.clone()])
            .chain([self.time.0.clone(), self.time.1.clone()])
            .collect()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let kind = if self.keep_unmatched { "Left" } else { "Inner" };
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        write!(
            f,
            "AsofJoin: {kind} on [{}] time {} {} {}",
            on.join(", "),
            self.time.0,
            self.inequality,
            self.time.1
        )
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Self::from_parts(self.inequality, self.keep_unmatched, exprs, inputs)
    }

    /// The left side's columns asked for and those its keys and time read; the same on the
    /// right, whose columns come after the left's.
    fn necessary_children_exprs(&self, output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        let width = self.left.schema().fields().len();
        let mut left: BTreeSet<usize> = output_columns
            .iter()
            .copied()
            .filter(|&c| c < width)
            .collect();
        let mut right: BTreeSet<usize> = output_columns
            .iter()
            .filter_map(|&c| c.checked_sub(width))
            .collect();
        let lefts = self.on.iter().map(|(l, _)| l).chain([&self.time.0]);
        let rights = self.on.iter().map(|(_, r)| r).chain([&self.time.1]);
        left.extend(Self::columns_read(self.left.schema(), lefts));
        right.extend(Self::columns_read(self.right.schema(), rights));
        Some(vec![
            left.into_iter().collect(),
            right.into_iter().collect(),
        ])
    }
}

/// Turns every join marked by the SQL rewrite into an [`AsofJoin`] (see the module's doc).
#[derive(Debug, Default)]
pub struct AsofJoins;

impl AnalyzerRule for AsofJoins {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Join(join)
                if join.filter.as_ref().is_some_and(|f| {
                    split_conjunction(f)
                        .into_iter()
                        .any(|e| marker(e).is_some())
                }) =>
            {
                let keep_unmatched = match join.join_type {
                    JoinType::Inner => false,
                    JoinType::Left => true,
                    other => {
                        return Err(DataFusionError::Internal(format!(
                            "an ASOF join written as a {other} join"
                        )));
                    }
                };
                let mut on = join.on;
                let mut time = None;
                let (left, right) = (join.left.schema(), join.right.schema());
                for condition in split_conjunction_owned(join.filter.expect("marked")) {
                    if let Some((inequality, l, r)) = marker(&condition) {
                        time = Some(((l, r), inequality));
                        continue;
                    }
                    match condition {
                        Expr::BinaryExpr(BinaryExpr {
                            left: a,
                            op: Operator::Eq,
                            right: b,
                        }) if reads_only(&a, left) && reads_only(&b, right) => on.push((*a, *b)),
                        Expr::BinaryExpr(BinaryExpr {
                            left: a,
                            op: Operator::Eq,
                            right: b,
                        }) if reads_only(&a, right) && reads_only(&b, left) => on.push((*b, *a)),
                        other => {
                            return Err(DataFusionError::Internal(format!(
                                "an ASOF join's condition holds `{other}`"
                            )));
                        }
                    }
                }
                let ((l, r), inequality) = time.expect("marked");
                let (left_type, right_type) = (l.get_type(left)?, r.get_type(right)?);
                if left_type != right_type {
                    return Err(DataFusionError::Plan(format!(
                        "an ASOF JOIN cannot compare {l} ({}) with {r} ({})",
                        sql_type_name(&left_type),
                        sql_type_name(&right_type)
                    )));
                }
                let node = AsofJoin::try_new(
                    join.left,
                    join.right,
                    on,
                    (l, r),
                    inequality,
                    keep_unmatched,
                )?;
                Ok(Transformed::yes(LogicalPlan::Extension(Extension {
                    node: Arc::new(node),
                })))
            }
            node => Ok(Transformed::no(node)),
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "tarn_asof_joins"
    }
}

/// The inequality and the two times of a marker call.
fn marker(expr: &Expr) -> Option<(Inequality, Expr, Expr)> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = expr else {
        return None;
    };
    if func.name() != MARKER {
        return None;
    }
    let [Expr::Literal(ScalarValue::Utf8(Some(op)), _), left, right] = args.as_slice() else {
        return None;
    };
    Some((op.parse().ok()?, left.clone(), right.clone()))
}

/// Whether every column `expr` reads is one of `side`'s.
fn reads_only(expr: &Expr, side: &DFSchema) -> bool {
    expr.column_refs().iter().all(|c| side.has_column(c))
}

/// Plans [`AsofJoin`] nodes as [`AsofJoinExec`]s.
#[derive(Debug, Default)]
struct AsofPlanner;

#[async_trait]
impl ExtensionPlanner for AsofPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(join) = node.as_any().downcast_ref::<AsofJoin>() else {
            return Ok(None);
        };
        let ([left_plan, right_plan], [left, right]) = (logical_inputs, physical_inputs) else {
            return Err(DataFusionError::Internal(
                "an ASOF join has two inputs".into(),
            ));
        };
        let physical = |expr: &Expr, side: &LogicalPlan| {
            planner.create_physical_expr(expr, side.schema(), session, planning_ctx)
        };
        let on = join
            .on
            .iter()
            .map(|(l, r)| Ok((physical(l, left_plan)?, physical(r, right_plan)?)))
            .collect::<Result<_>>()?;
        let time = (
            physical(&join.time.0, left_plan)?,
            physical(&join.time.1, right_plan)?,
        );
        Ok(Some(Arc::new(AsofJoinExec::try_new(
            Arc::clone(left),
            Arc::clone(right),
            on,
            time,
            join.inequality,
            join.keep_unmatched,
        )?)))
    }
}

/// DataFusion's physical planner with Tarn's logical nodes added.
#[derive(Debug, Default)]
pub struct TarnQueryPlanner;

#[async_trait]
impl QueryPlanner for TarnQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(AsofPlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}
