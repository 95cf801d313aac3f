//! How Tarn's own plan pieces cross the wire to a Ballista scheduler and its executors. Each
//! codec handles what Tarn adds and hands everything else to Ballista's codec, which carries
//! Ballista's shuffle nodes and DataFusion's file formats; a tag in front of Tarn's bytes tells
//! the two apart when decoding.
//!
//! * Logical: in-memory tables (`CREATE TABLE … AS`, `glob()`, `parquet_metadata()`, `eplb()`
//!   results), as Arrow IPC streams; [`AsofJoinNode`]s, whose expressions travel as DataFusion's
//!   expression bytes. Files, listing tables and views DataFusion carries itself.
//! * Physical: [`StageTasksExec`], one stage of a partitioned job; [`NotInJoinExec`] and
//!   [`KeyFilteredJoinExec`], whose one input, the hash join each wraps, Ballista's codec
//!   carries; and [`DirectAggregateExec`], whose partial aggregate travels as DataFusion's own
//!   plan bytes over an empty input; [`AsofJoinExec`], whose keys and times travel the same way,
//!   as a projection of each side.

use std::sync::{Arc, LazyLock};

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{FunctionRegistry, SessionState, TaskContext};
use datafusion::logical_expr::{
    AggregateUDF, Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{ChildrenPropertiesMode, ExecutionPlan, ReplaceChildrenOptions};
use datafusion::prelude::SessionConfig;
use datafusion_proto::bytes::{
    Serializeable, physical_plan_from_bytes_with_proto_converter,
    physical_plan_to_bytes_with_proto_converter,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::ipc;
use super::stage::StageTasksExec;
use crate::sql::asof_join::{AsofJoinExec, AsofJoinNode, Inequality};
use crate::sql::optimizer::{
    ArithmeticOp, BoundedDecimal, CheckedInteger, Comparison, DirectAggregateExec, EagerAnd,
    GroupLookup, KeyFilteredJoinExec, NarrowDecimalCompare, NotInJoinExec, RecomputedAggregate,
    ViewEquals,
};

/// Marks an in-memory table's bytes.
const MEMORY_TABLE: &[u8] = b"tarn.memtable.v1\0";
/// What an [`AsofJoinNode`] is encoded as, followed by [`asof_header`] and its expressions,
/// each as its length (8 bytes, little-endian) and its bytes.
const ASOF_JOIN_NODE: &[u8] = b"tarn.asof_join_node.v1:";
/// What an [`AsofJoinExec`] is encoded as, followed by [`asof_header`], the length of the
/// left side's projection (8 bytes, little-endian), and the two projections' plan bytes.
const ASOF_JOIN_EXEC: &[u8] = b"tarn.asof_join_exec.v1:";
/// Marks a job stage's bytes.
const STAGE_TASKS: &[u8] = b"tarn.stage.v1\0";
/// What a [`NotInJoinExec`] is encoded as.
const NOT_IN_JOIN: &[u8] = b"tarn.not_in_join.v1\0";
/// What a [`KeyFilteredJoinExec`] is encoded as.
const KEY_FILTERED_JOIN: &[u8] = b"tarn.key_filtered_join.v1\0";
/// What a [`DirectAggregateExec`] with slots is encoded as, followed by its first key and slot
/// count (8 bytes each, little-endian) and its aggregate's plan bytes.
const DIRECT_AGGREGATE: &[u8] = b"tarn.direct_aggregate.v1\0";
/// What a [`DirectAggregateExec`] on packed keys is encoded as, followed by its aggregate's
/// plan bytes.
const PACKED_AGGREGATE: &[u8] = b"tarn.packed_aggregate.v1\0";
/// What an [`EagerAnd`] expression is encoded as.
const EAGER_AND: &[u8] = b"tarn.eager_and.v1";
/// What a [`BoundedDecimal`] expression is encoded as, followed by its operator (`+`, `-`, `*`).
const BOUNDED_DECIMAL: &[u8] = b"tarn.bounded_decimal.v1:";
/// What a [`CheckedInteger`] expression is encoded as, followed by its operator.
const CHECKED_INTEGER: &[u8] = b"tarn.checked_integer.v1:";
/// What a [`ViewEquals`] expression is encoded as, followed by `=` or `!` (for `<>`) and the
/// constant's bytes.
const VIEW_EQUALS: &[u8] = b"tarn.view_equals.v1:";
/// What a [`RecomputedAggregate`] is encoded as: the aggregate it wraps travels by name.
const RECOMPUTED_AGGREGATE: &[u8] = b"tarn.recomputed_aggregate.v1";
/// What a [`NarrowDecimalCompare`] expression is encoded as, followed by its operator, a space
/// and the constant's raw integer in decimal digits.
const NARROW_DECIMAL_COMPARE: &[u8] = b"tarn.narrow_decimal_compare.v1:";

/// Ballista's logical codec plus in-memory tables.
#[derive(Debug, Default)]
pub struct TarnLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for TarnLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        let Some(bytes) = buf.strip_prefix(ASOF_JOIN_NODE) else {
            return self.ballista.try_decode(buf, inputs, ctx);
        };
        let ((inequality, keep_unmatched), mut rest) = read_asof_header(bytes)?;
        let mut exprs = Vec::new();
        while !rest.is_empty() {
            let (expr, after) = length_prefixed(rest)?;
            exprs.push(Expr::from_bytes_with_ctx(expr, ctx)?);
            rest = after;
        }
        let node = AsofJoinNode::from_parts(inequality, keep_unmatched, exprs, inputs.to_vec())?;
        Ok(Extension {
            node: Arc::new(node),
        })
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        let Some(join) = node.node.as_any().downcast_ref::<AsofJoinNode>() else {
            return self.ballista.try_encode(node, buf);
        };
        buf.extend_from_slice(ASOF_JOIN_NODE);
        buf.extend(asof_header(join.inequality, join.keep_unmatched));
        for expr in join.expressions() {
            let bytes = expr.to_bytes()?;
            buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            buf.extend_from_slice(&bytes);
        }
        Ok(())
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        match buf {
            RECOMPUTED_AGGREGATE => recomputed_aggregate(name),
            _ => self.ballista.try_decode_udaf(name, buf),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        if !encode_recomputed(node, buf) {
            self.ballista.try_encode_udaf(node, buf)?;
        }
        Ok(())
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.strip_prefix(MEMORY_TABLE) {
            Some(bytes) => {
                let (_, batches) = ipc::decode(bytes)?;
                Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
            }
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(table) = node.downcast_ref::<MemTable>() else {
            return self
                .ballista
                .try_encode_table_provider(table_ref, node, buf);
        };
        let mut batches = Vec::new();
        for partition in &table.batches {
            batches.extend(partition.try_read().map_err(|_| {
                DataFusionError::Execution(format!(
                    "table {table_ref} is being written while a query sends it to the cluster"
                ))
            })?.iter().cloned());
        }
        buf.extend_from_slice(MEMORY_TABLE);
        buf.extend(ipc::encode(&table.schema(), &batches)?);
        Ok(())
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// `aggregate` over an empty input of the same schema: the aggregate without the plan below it,
/// which travels as the node's input.
fn without_input(aggregate: &Arc<AggregateExec>) -> Result<Arc<dyn ExecutionPlan>> {
    let empty: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(aggregate.input_schema()));
    let keep = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    Arc::clone(aggregate).replace_children(vec![empty], keep)
}

/// The [`DirectAggregateExec`] whose bytes (after the tag) are `bytes`, over `inputs`; its
/// slots are in the bytes unless it is `packed`.
fn decode_direct_aggregate(
    bytes: &[u8],
    packed: bool,
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
    codec: &TarnPhysicalCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Arc<dyn ExecutionPlan>> {
    let malformed = || DataFusionError::Internal("malformed direct aggregate bytes".into());
    let [input] = inputs else {
        return Err(malformed());
    };
    let (lookup, plan) = if packed {
        (GroupLookup::Packed, bytes)
    } else {
        let Some((min, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(malformed());
        };
        let Some((slots, plan)) = rest.split_first_chunk::<8>() else {
            return Err(malformed());
        };
        let slots = GroupLookup::Slots {
            min: i64::from_le_bytes(*min),
            slots: u64::from_le_bytes(*slots) as usize,
        };
        (slots, plan)
    };
    let aggregate = physical_plan_from_bytes_with_proto_converter(plan, ctx, codec, converter)?;
    let Some(aggregate) = aggregate.downcast_ref::<AggregateExec>() else {
        return Err(malformed());
    };
    let over_empty = DirectAggregateExec::try_new(Arc::new(aggregate.clone()), lookup)?;
    let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    Arc::new(over_empty).replace_children(vec![Arc::clone(input)], recompute)
}

/// The error for ASOF join bytes that do not read back.
fn malformed_asof() -> DataFusionError {
    DataFusionError::Internal("malformed ASOF join bytes".into())
}

/// An ASOF join's inequality and kind, as text: `>= 1\n` for an `ASOF LEFT JOIN` on `>=`.
fn asof_header(inequality: Inequality, keep_unmatched: bool) -> Vec<u8> {
    format!("{inequality} {}\n", u8::from(keep_unmatched)).into_bytes()
}

/// The inequality and kind [`asof_header`] wrote at the start of `bytes`, and the bytes after.
fn read_asof_header(bytes: &[u8]) -> Result<((Inequality, bool), &[u8])> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(malformed_asof)?;
    let header = std::str::from_utf8(&bytes[..end]).map_err(|_| malformed_asof())?;
    let (op, keep) = header.split_once(' ').ok_or_else(malformed_asof)?;
    let inequality = op.parse().map_err(|()| malformed_asof())?;
    Ok(((inequality, keep == "1"), &bytes[end + 1..]))
}

/// The bytes after an 8-byte little-endian length at the start of `bytes`, that long, and
/// the bytes after them.
fn length_prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    let (length, rest) = bytes.split_first_chunk::<8>().ok_or_else(malformed_asof)?;
    let length = usize::try_from(u64::from_le_bytes(*length)).map_err(|_| malformed_asof())?;
    (length <= rest.len())
        .then(|| rest.split_at(length))
        .ok_or_else(malformed_asof)
}

/// `exprs` as a projection of an empty input with `side`'s schema, whose plan bytes carry them.
fn projected(
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    side: &Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let empty: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(side.schema()));
    let named = exprs
        .into_iter()
        .enumerate()
        .map(|(i, expr)| (expr, format!("e{i}")));
    Ok(Arc::new(ProjectionExec::try_new(named, empty)?))
}

/// The expressions of a projection [`projected`] made, from its plan bytes.
fn projection_exprs(
    bytes: &[u8],
    ctx: &TaskContext,
    codec: &TarnPhysicalCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Vec<Arc<dyn PhysicalExpr>>> {
    let plan = physical_plan_from_bytes_with_proto_converter(bytes, ctx, codec, converter)?;
    let projection = plan.downcast_ref::<ProjectionExec>().ok_or_else(|| {
        DataFusionError::Internal("an ASOF join's expressions are not a projection".into())
    })?;
    Ok(projection
        .expr()
        .iter()
        .map(|e| Arc::clone(&e.expr))
        .collect())
}

/// The [`AsofJoinExec`] whose bytes (after the tag) are `bytes`, over `inputs`.
fn decode_asof_join(
    bytes: &[u8],
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
    codec: &TarnPhysicalCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Arc<dyn ExecutionPlan>> {
    let [left, right] = inputs else {
        return Err(malformed_asof());
    };
    let ((inequality, keep_unmatched), rest) = read_asof_header(bytes)?;
    let (left_bytes, right_bytes) = length_prefixed(rest)?;
    let mut left_exprs = projection_exprs(left_bytes, ctx, codec, converter)?;
    let mut right_exprs = projection_exprs(right_bytes, ctx, codec, converter)?;
    let time = (
        left_exprs.pop().ok_or_else(malformed_asof)?,
        right_exprs.pop().ok_or_else(malformed_asof)?,
    );
    if left_exprs.len() != right_exprs.len() {
        return Err(malformed_asof());
    }
    let on = left_exprs.into_iter().zip(right_exprs).collect();
    Ok(Arc::new(AsofJoinExec::try_new(
        Arc::clone(left),
        Arc::clone(right),
        on,
        time,
        inequality,
        keep_unmatched,
    )?))
}

/// Ballista's physical codec plus job stages.
#[derive(Debug, Default)]
pub struct TarnPhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for TarnPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(bytes) = buf.strip_prefix(STAGE_TASKS) {
            return Ok(Arc::new(StageTasksExec::decode(bytes, inputs)?));
        }
        if let Some(bytes) = buf.strip_prefix(DIRECT_AGGREGATE) {
            return decode_direct_aggregate(bytes, false, inputs, ctx, self, converter);
        }
        if let Some(bytes) = buf.strip_prefix(PACKED_AGGREGATE) {
            return decode_direct_aggregate(bytes, true, inputs, ctx, self, converter);
        }
        if let Some(bytes) = buf.strip_prefix(ASOF_JOIN_EXEC) {
            return decode_asof_join(bytes, inputs, ctx, self, converter);
        }
        match (buf, inputs) {
            (NOT_IN_JOIN, [join]) => Ok(Arc::new(NotInJoinExec::try_new(Arc::clone(join))?)),
            (KEY_FILTERED_JOIN, [join]) => {
                Ok(Arc::new(KeyFilteredJoinExec::try_new(Arc::clone(join))?))
            }
            _ => self.ballista.try_decode(buf, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(stage) = node.downcast_ref::<StageTasksExec>() {
            buf.extend_from_slice(STAGE_TASKS);
            buf.extend(stage.encode()?);
            return Ok(());
        }
        if let Some(join) = node.downcast_ref::<AsofJoinExec>() {
            let sides = [(join.left(), 0), (join.right(), 1)].map(|(side, at)| {
                let exprs = join
                    .on()
                    .iter()
                    .chain([join.time()])
                    .map(|pair| Arc::clone(if at == 0 { &pair.0 } else { &pair.1 }))
                    .collect();
                physical_plan_to_bytes_with_proto_converter(
                    projected(exprs, side)?,
                    self,
                    converter,
                )
            });
            let [left, right] = sides;
            let (left, right) = (left?, right?);
            buf.extend_from_slice(ASOF_JOIN_EXEC);
            buf.extend(asof_header(join.inequality(), join.keeps_unmatched()));
            buf.extend_from_slice(&(left.len() as u64).to_le_bytes());
            buf.extend_from_slice(&left);
            buf.extend_from_slice(&right);
            return Ok(());
        }
        if node.downcast_ref::<NotInJoinExec>().is_some() {
            buf.extend_from_slice(NOT_IN_JOIN);
            return Ok(());
        }
        if node.downcast_ref::<KeyFilteredJoinExec>().is_some() {
            buf.extend_from_slice(KEY_FILTERED_JOIN);
            return Ok(());
        }
        if let Some(direct) = node.downcast_ref::<DirectAggregateExec>() {
            match direct.lookup() {
                GroupLookup::Slots { min, slots } => {
                    buf.extend_from_slice(DIRECT_AGGREGATE);
                    buf.extend_from_slice(&min.to_le_bytes());
                    buf.extend_from_slice(&(slots as u64).to_le_bytes());
                }
                GroupLookup::Packed => buf.extend_from_slice(PACKED_AGGREGATE),
            }
            let aggregate = without_input(direct.aggregate())?;
            buf.extend(physical_plan_to_bytes_with_proto_converter(
                aggregate, self, converter,
            )?);
            return Ok(());
        }
        self.ballista.try_encode(node, buf, converter)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        match buf {
            RECOMPUTED_AGGREGATE => recomputed_aggregate(name),
            _ => self.ballista.try_decode_udaf(name, buf),
        }
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        if !encode_recomputed(node, buf) {
            self.ballista.try_encode_udaf(node, buf)?;
        }
        Ok(())
    }

    /// Tarn's expressions: [`EagerAnd`], [`BoundedDecimal`] and [`CheckedInteger`], whose two
    /// sides travel as the node's inputs, and [`ViewEquals`] and [`NarrowDecimalCompare`],
    /// whose compared value does.
    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        match (buf, inputs) {
            (EAGER_AND, [left, right]) => {
                Ok(Arc::new(EagerAnd::new(Arc::clone(left), Arc::clone(right))))
            }
            (bytes, [left, right]) if bytes.starts_with(BOUNDED_DECIMAL) => {
                let op = arithmetic_op(bytes, BOUNDED_DECIMAL)?;
                Ok(Arc::new(BoundedDecimal::new(
                    op,
                    Arc::clone(left),
                    Arc::clone(right),
                )))
            }
            (bytes, [left, right]) if bytes.starts_with(CHECKED_INTEGER) => {
                let op = arithmetic_op(bytes, CHECKED_INTEGER)?;
                Ok(Arc::new(CheckedInteger::new(
                    op,
                    Arc::clone(left),
                    Arc::clone(right),
                )))
            }
            (bytes, [column]) if bytes.starts_with(VIEW_EQUALS) => {
                let rest = &bytes[VIEW_EQUALS.len()..];
                let (negated, constant) = match rest.split_first() {
                    Some((b'=', constant)) => (false, constant),
                    Some((b'!', constant)) => (true, constant),
                    _ => {
                        return Err(DataFusionError::Internal(
                            "a view equality without its operator".into(),
                        ));
                    }
                };
                let constant = String::from_utf8(constant.to_vec()).map_err(|e| {
                    DataFusionError::Internal(format!("a view equality's constant: {e}"))
                })?;
                Ok(Arc::new(ViewEquals::new(
                    Arc::clone(column),
                    constant,
                    negated,
                )))
            }
            (bytes, [value]) if bytes.starts_with(NARROW_DECIMAL_COMPARE) => {
                let (op, constant) = narrow_decimal_compare(&bytes[NARROW_DECIMAL_COMPARE.len()..])
                    .ok_or_else(|| {
                        DataFusionError::Internal(format!(
                            "a malformed DECIMAL comparison: {}",
                            String::from_utf8_lossy(bytes)
                        ))
                    })?;
                Ok(Arc::new(NarrowDecimalCompare::new(
                    Arc::clone(value),
                    op,
                    constant,
                )))
            }
            _ => self.ballista.try_decode_expr(buf, inputs, ctx),
        }
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        if node.downcast_ref::<EagerAnd>().is_some() {
            buf.extend_from_slice(EAGER_AND);
            return Ok(());
        }
        if let Some(bounded) = node.downcast_ref::<BoundedDecimal>() {
            buf.extend_from_slice(BOUNDED_DECIMAL);
            buf.extend_from_slice(bounded.op().symbol().as_bytes());
            return Ok(());
        }
        if let Some(checked) = node.downcast_ref::<CheckedInteger>() {
            buf.extend_from_slice(CHECKED_INTEGER);
            buf.extend_from_slice(checked.op().symbol().as_bytes());
            return Ok(());
        }
        if let Some(equals) = node.downcast_ref::<ViewEquals>() {
            buf.extend_from_slice(VIEW_EQUALS);
            buf.push(if equals.negated() { b'!' } else { b'=' });
            buf.extend_from_slice(equals.constant().as_bytes());
            return Ok(());
        }
        if let Some(compare) = node.downcast_ref::<NarrowDecimalCompare>() {
            buf.extend_from_slice(NARROW_DECIMAL_COMPARE);
            let text = format!("{} {}", compare.op().symbol(), compare.constant());
            buf.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        self.ballista.try_encode_expr(node, buf, ctx)
    }
}

/// Writes the tag of a [`RecomputedAggregate`]; false, writing nothing, for any other aggregate.
fn encode_recomputed(node: &AggregateUDF, buf: &mut Vec<u8>) -> bool {
    let recomputed = node.inner().is::<RecomputedAggregate>();
    if recomputed {
        buf.extend_from_slice(RECOMPUTED_AGGREGATE);
    }
    recomputed
}

/// The [`RecomputedAggregate`] of Tarn's aggregate `name`. The codec has no session at hand,
/// so the aggregates are those of a session made once for this.
fn recomputed_aggregate(name: &str) -> Result<Arc<AggregateUDF>> {
    static AGGREGATES: LazyLock<SessionState> = LazyLock::new(|| {
        crate::sql::tarn_state(SessionConfig::new(), Arc::new(RuntimeEnv::default()))
    });
    let inner = AGGREGATES.udaf(name)?;
    Ok(Arc::new(AggregateUDF::new_from_impl(
        RecomputedAggregate::new(inner),
    )))
}

/// The operator and constant of an encoded [`NarrowDecimalCompare`] (the bytes after its
/// prefix).
fn narrow_decimal_compare(bytes: &[u8]) -> Option<(Comparison, i128)> {
    let (op, constant) = std::str::from_utf8(bytes).ok()?.split_once(' ')?;
    Some((Comparison::from_symbol(op)?, constant.parse().ok()?))
}

/// The operator written after `prefix` in an encoded arithmetic expression.
fn arithmetic_op(bytes: &[u8], prefix: &[u8]) -> Result<ArithmeticOp> {
    std::str::from_utf8(&bytes[prefix.len()..])
        .ok()
        .and_then(ArithmeticOp::from_symbol)
        .ok_or_else(|| {
            DataFusionError::Internal(format!(
                "unknown arithmetic operation in {}",
                String::from_utf8_lossy(bytes)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn memory_tables_cross_the_wire_whole() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
        let batch = |values: Vec<i32>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(Int32Array::from(values))],
            )
            .unwrap()
        };
        let table = MemTable::try_new(
            Arc::clone(&schema),
            vec![vec![batch(vec![1, 2])], vec![batch(vec![3])]],
        )
        .unwrap();
        let codec = TarnLogicalCodec::default();
        let name = TableReference::bare("t");
        let mut buf = Vec::new();
        codec
            .try_encode_table_provider(&name, Arc::new(table), &mut buf)
            .unwrap();
        let ctx = SessionContext::new();
        let decoded = codec
            .try_decode_table_provider(&buf, &name, Arc::clone(&schema), &ctx.task_ctx())
            .unwrap();
        ctx.register_table("t", decoded).unwrap();
        let rows = ctx
            .sql("SELECT sum(x) AS s, count(*) AS n FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let sums = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap();
        assert_eq!((sums.value(0), rows[0].num_rows()), (6, 1));
    }

    #[test]
    fn asof_joins_cross_the_wire_whole() {
        use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
        use datafusion::physical_expr::expressions::Column;
        use datafusion::physical_plan::displayable;
        use datafusion_proto::bytes::{
            logical_plan_from_bytes_with_extension_codec,
            logical_plan_to_bytes_with_extension_codec,
            physical_plan_from_bytes_with_extension_codec,
            physical_plan_to_bytes_with_extension_codec,
        };

        let ctx = SessionContext::new();
        let side = |name: &str| {
            LogicalPlanBuilder::values(vec![vec![lit("a"), lit(5i64)]])
                .unwrap()
                .project([col("column1").alias("k"), col("column2").alias("ts")])
                .unwrap()
                .alias(name)
                .unwrap()
                .build()
                .unwrap()
        };
        let node = AsofJoinNode::from_parts(
            Inequality::After,
            true,
            vec![col("l.k"), col("r.k"), col("l.ts") + lit(1i64), col("r.ts")],
            vec![side("l"), side("r")],
        )
        .unwrap();
        let plan = LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        });
        let codec = TarnLogicalCodec::default();
        let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &codec).unwrap();
        let decoded =
            logical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        assert_eq!(
            decoded.display_indent().to_string(),
            plan.display_indent().to_string()
        );
        assert!(
            plan.display_indent()
                .to_string()
                .contains("time l.ts + Int64(1) > r.ts"),
            "{}",
            plan.display_indent()
        );

        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("ts", DataType::Int64, true),
        ]));
        let empty = || -> Arc<dyn ExecutionPlan> { Arc::new(EmptyExec::new(Arc::clone(&schema))) };
        let column =
            |name: &str, at: usize| -> Arc<dyn PhysicalExpr> { Arc::new(Column::new(name, at)) };
        let join: Arc<dyn ExecutionPlan> = Arc::new(
            AsofJoinExec::try_new(
                empty(),
                empty(),
                vec![(column("k", 0), column("k", 0))],
                (column("ts", 1), column("ts", 1)),
                Inequality::AtOrBefore,
                false,
            )
            .unwrap(),
        );
        let codec = TarnPhysicalCodec::default();
        let bytes = physical_plan_to_bytes_with_extension_codec(Arc::clone(&join), &codec).unwrap();
        let decoded =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        let shown =
            |plan: &Arc<dyn ExecutionPlan>| displayable(plan.as_ref()).indent(true).to_string();
        assert_eq!(shown(&decoded), shown(&join));
        assert!(
            shown(&join)
                .contains("AsofJoinExec: join_type=Inner, on=[(k@0, k@0)], time=ts@1 <= ts@1"),
            "{}",
            shown(&join)
        );
    }
}
