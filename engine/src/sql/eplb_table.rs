//! `eplb(loads, replicas => R, groups => G, nodes => N, gpus => P)`: DeepSeek's expert-parallel
//! load balancer (tarn-gpu's `eplb`) as a table function, so that MoE deployment engineers can
//! plan expert replicas with SQL. `loads` names a table or a file (Parquet, CSV, JSON) of
//! `(layer, expert, load)` rows, typically expert-load statistics; rows of one (layer, expert)
//! add up and an expert without rows has load 0. The result has one row per physical slot:
//! `(layer, slot, expert, replica, node, gpu)`. `groups` and `nodes` default to 1.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionContext, col};
use tarn_gpu::eplb::{Cluster, rebalance_experts};

use super::args::{Const, reject_named};
use super::rewrite::looks_like_path;
use super::table_functions::TableFunction;
use crate::error::{Result, TarnError};

/// A call of `eplb`, its arguments read.
#[derive(Debug, Clone, PartialEq)]
pub struct EplbSpec {
    /// A table name or a file path.
    source: String,
    cluster: Cluster,
}

impl EplbSpec {
    pub fn from_args(positional: &[Const], named: &[(String, Const)]) -> Result<Self> {
        let invalid = |text: String| TarnError::Invalid(format!("eplb(): {text}"));
        let [Const::Str(source)] = positional else {
            return Err(invalid(
                "the first argument names the loads: a table or a file of (layer, expert, load) rows"
                    .into(),
            ));
        };
        reject_named("eplb", named, &["replicas", "groups", "nodes", "gpus"])?;
        let setting = |key: &str, default: Option<usize>| -> Result<usize> {
            match named.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
                Some(Const::Int(v)) if *v > 0 => Ok(*v as usize),
                Some(other) => Err(invalid(format!(
                    "{key} must be a positive integer, got {other:?}"
                ))),
                None => default.ok_or_else(|| invalid(format!("{key} => N is required"))),
            }
        };
        Ok(EplbSpec {
            source: source.clone(),
            cluster: Cluster {
                replicas: setting("replicas", None)?,
                groups: setting("groups", Some(1))?,
                nodes: setting("nodes", Some(1))?,
                gpus: setting("gpus", None)?,
            },
        })
    }

    pub async fn resolve(&self, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
        let ctx = SessionContext::new_with_state(state.clone());
        let table = if !looks_like_path(&self.source) && ctx.table_exist(self.source.as_str())? {
            ctx.table(self.source.as_str()).await?
        } else {
            let TableFunction::Scan(scan) = TableFunction::from_path(&self.source) else {
                unreachable!("a path is read as a file scan")
            };
            ctx.read_table(scan.resolve(state).await?)?
        };
        let batches = table
            .select(vec![col("layer"), col("expert"), col("load")])
            .map_err(|e| {
                TarnError::Invalid(format!(
                    "eplb(): {} needs columns layer, expert and load ({e})",
                    self.source
                ))
            })?
            .collect()
            .await?;
        let loads = self.loads(&batches)?;
        let placement = rebalance_experts(&loads, self.cluster)
            .map_err(|e| TarnError::Invalid(e.to_string()))?;
        let per_gpu = self.cluster.replicas / self.cluster.gpus;
        let gpus_per_node = self.cluster.gpus / self.cluster.nodes;
        let mut columns: [Vec<i64>; 6] = Default::default();
        for (layer, (slots, replicas)) in
            placement.phy2log.iter().zip(&placement.log2phy).enumerate()
        {
            for (slot, &expert) in slots.iter().enumerate() {
                let replica = replicas[expert]
                    .iter()
                    .position(|&s| s == slot as i64)
                    .expect("every slot is one of its expert's replicas");
                let gpu = slot / per_gpu;
                let row = [layer, slot, expert, replica, gpu / gpus_per_node, gpu];
                for (column, value) in columns.iter_mut().zip(row) {
                    column.push(value as i64);
                }
            }
        }
        let names = ["layer", "slot", "expert", "replica", "node", "gpu"];
        let schema = Arc::new(Schema::new(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Int64, false))
                .collect::<Vec<_>>(),
        ));
        let arrays = columns
            .into_iter()
            .map(|c| Arc::new(Int64Array::from(c)) as Arc<dyn Array>)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }

    /// `loads[layer][expert]`, summed over the rows.
    fn loads(&self, batches: &[RecordBatch]) -> Result<Vec<Vec<f64>>> {
        let invalid = |text: String| TarnError::Invalid(format!("eplb(): {}: {text}", self.source));
        let mut rows = Vec::new();
        for batch in batches {
            let integers = |i: usize| cast(batch.column(i), &DataType::Int64);
            let (layers, experts) = (integers(0)?, integers(1)?);
            let loads = cast(batch.column(2), &DataType::Float64)?;
            let (layers, experts) = (
                layers.as_primitive::<Int64Type>(),
                experts.as_primitive::<Int64Type>(),
            );
            let loads = loads.as_primitive::<Float64Type>();
            for i in 0..batch.num_rows() {
                if layers.is_null(i) || experts.is_null(i) || loads.is_null(i) {
                    return Err(invalid("a row with a NULL layer, expert or load".into()));
                }
                let (layer, expert, load) = (layers.value(i), experts.value(i), loads.value(i));
                if layer < 0 || expert < 0 || load.is_nan() || load < 0.0 {
                    return Err(invalid(format!(
                        "layer {layer}, expert {expert}, load {load}: layers and experts count from 0, loads are not negative"
                    )));
                }
                rows.push((layer as usize, expert as usize, load));
            }
        }
        let layers = rows.iter().map(|r| r.0 + 1).max().unwrap_or(0);
        let experts = rows.iter().map(|r| r.1 + 1).max().unwrap_or(0);
        if layers == 0 {
            return Err(invalid("no rows".into()));
        }
        let mut loads = vec![vec![0.0; experts]; layers];
        for (layer, expert, load) in rows {
            loads[layer][expert] += load;
        }
        Ok(loads)
    }
}
