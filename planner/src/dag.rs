//! The logical DAG: what a lazy DataFrame has been asked to compute, node by node.
//!
//! Nodes are appended and never changed, so a `NodeId` is stable for the life of a session and
//! names the same computation when a job with the same id runs again (which is what makes
//! resuming work). Every node knows its partition count; the checks that need only counts (inputs
//! partitioned alike, placeholders in range) happen here, when the DataFrame is built, rather than
//! when the job runs.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::PlanError;

/// The position of a node in its [`Dag`].
pub type NodeId = usize;

/// How a shuffle chooses each row's partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scheme {
    /// A hash of the columns modulo the partition count; the partition is kept in a
    /// `__data_partition__` column, as Smallpond does.
    Hash { columns: Vec<String> },
    /// The column's value is the partition.
    Column { column: String },
    /// Partition `i` holds the values between split point `i-1` (inclusive) and `i` (exclusive).
    Range { column: String, splits: Splits },
    /// Each producer deals its rows out in equal contiguous runs.
    Rows,
    /// Each row goes to a uniformly random partition.
    Random,
    /// The column holds an expert id; expert `e`'s rows are dealt round robin over the
    /// partitions in `replicas[e]` (an EPLB placement: hot experts have more than one).
    Expert {
        column: String,
        replicas: Vec<Vec<u32>>,
    },
}

/// The split points of a range shuffle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Splits {
    /// `partitions - 1` ascending values, as JSON numbers or strings.
    Given(Vec<serde_json::Value>),
    /// Chosen at run time from a sample of the column.
    Sampled,
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Rows read in place from a source the session registered under `source`, made of
    /// `pieces` files (or in-memory batches) that a regroup can deal out. One partition.
    Scan { source: usize, pieces: usize },
    /// The input's partitions (or a scan's files) dealt out in contiguous runs, without moving
    /// data; more partitions than there are pieces leaves some empty.
    Regroup { input: NodeId },
    /// Rows moved between partitions: every producer writes one file per target partition.
    Shuffle { input: NodeId, scheme: Scheme },
    /// SQL run on each partition, reading input `i` as `{i}`; each query after the first reads
    /// the previous one's result as `{0}` (the optimizer fuses chains this way).
    Sql {
        inputs: Vec<NodeId>,
        queries: Vec<String>,
        /// The columns the first query reads from each input, when the caller worked them out:
        /// a shuffle whose every reader says so writes only those columns.
        reads: Option<Vec<Vec<String>>>,
    },
    /// A function the session registered under `function`, applied to every batch.
    MapBatches { input: NodeId, function: usize },
    /// The partitions of each input, one input after another.
    Union { inputs: Vec<NodeId> },
}

impl Op {
    /// The nodes this one reads.
    pub fn inputs(&self) -> Vec<NodeId> {
        match self {
            Op::Scan { .. } => vec![],
            Op::Regroup { input } | Op::Shuffle { input, .. } | Op::MapBatches { input, .. } => {
                vec![*input]
            }
            Op::Sql { inputs, .. } | Op::Union { inputs } => inputs.clone(),
        }
    }

    /// Whether the executor runs tasks for this node (the others are resolved into file lists).
    pub fn runs_tasks(&self) -> bool {
        matches!(
            self,
            Op::Shuffle { .. } | Op::Sql { .. } | Op::MapBatches { .. }
        )
    }
}

/// A node: its operation and how many partitions it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub op: Op,
    pub partitions: usize,
}

/// The nodes of a session's DataFrames, in the order they were made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dag {
    nodes: Vec<Node>,
}

impl Dag {
    pub fn new() -> Self {
        Dag::default()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn partitions(&self, id: NodeId) -> usize {
        self.nodes[id].partitions
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A one-partition scan of a source made of `pieces` files or batches.
    pub fn scan(&mut self, source: usize, pieces: usize) -> NodeId {
        self.push(Op::Scan { source, pieces }, 1)
    }

    /// `input` regrouped into `partitions` without moving data.
    pub fn regroup(&mut self, input: NodeId, partitions: usize) -> Result<NodeId, PlanError> {
        positive(partitions)?;
        Ok(self.push(Op::Regroup { input }, partitions))
    }

    /// `input`'s rows moved into `partitions` by `scheme`.
    pub fn shuffle(
        &mut self,
        input: NodeId,
        partitions: usize,
        scheme: Scheme,
    ) -> Result<NodeId, PlanError> {
        positive(partitions)?;
        if let Scheme::Range {
            splits: Splits::Given(points),
            ..
        } = &scheme
            && points.len() + 1 != partitions
        {
            return Err(PlanError::SplitPoints {
                partitions,
                given: points.len(),
            });
        }
        Ok(self.push(Op::Shuffle { input, scheme }, partitions))
    }

    /// `query` run per partition over `inputs`, which must have the same partition count
    /// unless they have one partition (then every partition reads it whole). `reads` are the
    /// columns it reads from each input, when known.
    pub fn sql(
        &mut self,
        inputs: Vec<NodeId>,
        query: String,
        reads: Option<Vec<Vec<String>>>,
    ) -> Result<NodeId, PlanError> {
        if inputs.is_empty() {
            return Err(PlanError::NoInputs);
        }
        for index in placeholders(&query)? {
            if index >= inputs.len() {
                return Err(PlanError::Placeholder {
                    index,
                    inputs: inputs.len(),
                });
            }
        }
        let partitions = self.common_partitions(&inputs)?;
        Ok(self.push(
            Op::Sql {
                inputs,
                queries: vec![query],
                reads,
            },
            partitions,
        ))
    }

    /// `function` applied to every batch of `input`.
    pub fn map_batches(&mut self, input: NodeId, function: usize) -> NodeId {
        let partitions = self.partitions(input);
        self.push(Op::MapBatches { input, function }, partitions)
    }

    /// The partitions of `inputs`, one after another.
    pub fn union(&mut self, inputs: Vec<NodeId>) -> Result<NodeId, PlanError> {
        if inputs.is_empty() {
            return Err(PlanError::NoInputs);
        }
        let partitions = inputs.iter().map(|&i| self.partitions(i)).sum();
        Ok(self.push(Op::Union { inputs }, partitions))
    }

    /// Adds a node as it is; the optimizer uses this for fused nodes.
    pub(crate) fn push(&mut self, op: Op, partitions: usize) -> NodeId {
        self.nodes.push(Node { op, partitions });
        self.nodes.len() - 1
    }

    /// Replaces a node; only the optimizer does this, on its own copy of the DAG.
    pub(crate) fn replace(&mut self, id: NodeId, node: Node) {
        self.nodes[id] = node;
    }

    /// The partition count inputs share: all equal, ignoring one-partition inputs, which are
    /// broadcast.
    fn common_partitions(&self, inputs: &[NodeId]) -> Result<usize, PlanError> {
        let counts: Vec<usize> = inputs.iter().map(|&i| self.partitions(i)).collect();
        let wide: Vec<usize> = counts.iter().copied().filter(|&c| c != 1).collect();
        match wide.first() {
            None => Ok(1),
            Some(&first) if wide.iter().all(|&c| c == first) => Ok(first),
            Some(_) => Err(PlanError::Misaligned(counts)),
        }
    }

    /// Every node `target` depends on, itself included, in an order where inputs come first.
    pub fn ancestors(&self, target: NodeId) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut order = Vec::new();
        let mut stack = vec![(target, false)];
        while let Some((id, expanded)) = stack.pop() {
            if expanded {
                order.push(id);
                continue;
            }
            if std::mem::replace(&mut seen[id], true) {
                continue;
            }
            stack.push((id, true));
            for input in self.nodes[id].op.inputs().into_iter().rev() {
                if !seen[input] {
                    stack.push((input, false));
                }
            }
        }
        order
    }

    /// The DAG under `target`, one node per line, inputs indented below their consumer.
    pub fn explain(&self, target: NodeId) -> String {
        let mut out = String::new();
        self.explain_node(target, 0, &mut out);
        out
    }

    fn explain_node(&self, id: NodeId, depth: usize, out: &mut String) {
        let node = &self.nodes[id];
        let what = match &node.op {
            Op::Scan { source, pieces } => format!("Scan: source #{source}, {pieces} piece(s)"),
            Op::Regroup { .. } => "Regroup".to_string(),
            Op::Shuffle { scheme, .. } => format!("Shuffle: {}", scheme_text(scheme)),
            Op::Sql { queries, .. } => format!("Sql: {}", queries.join(" | ")),
            Op::MapBatches { function, .. } => format!("MapBatches: function #{function}"),
            Op::Union { .. } => "Union".to_string(),
        };
        let _ = writeln!(
            out,
            "{:indent$}#{id} {what} [{} partition(s)]",
            "",
            node.partitions,
            indent = depth * 2
        );
        for input in node.op.inputs() {
            self.explain_node(input, depth + 1, out);
        }
    }
}

/// A scheme as a user would write it.
pub fn scheme_text(scheme: &Scheme) -> String {
    match scheme {
        Scheme::Hash { columns } => format!("hash({})", columns.join(", ")),
        Scheme::Column { column } => format!("by {column}"),
        Scheme::Range {
            column,
            splits: Splits::Sampled,
        } => format!("range({column}, sampled)"),
        Scheme::Range {
            column,
            splits: Splits::Given(points),
        } => format!("range({column}, {} split points)", points.len()),
        Scheme::Rows => "by rows".to_string(),
        Scheme::Random => "random".to_string(),
        Scheme::Expert { column, replicas } => format!(
            "by expert {column} ({} experts, {} replicas)",
            replicas.len(),
            replicas.iter().map(Vec::len).sum::<usize>()
        ),
    }
}

fn positive(partitions: usize) -> Result<(), PlanError> {
    if partitions == 0 {
        Err(PlanError::ZeroPartitions)
    } else {
        Ok(())
    }
}

/// The input numbers `{i}` a query refers to.
pub fn placeholders(query: &str) -> Result<Vec<usize>, PlanError> {
    Ok(split_placeholders(query)?
        .into_iter()
        .filter_map(|(_, index)| index)
        .collect())
}

/// `query` with each `{i}` replaced by `names[i]`.
pub fn substitute(query: &str, names: &[String]) -> Result<String, PlanError> {
    let mut out = String::with_capacity(query.len());
    for (text, index) in split_placeholders(query)? {
        out.push_str(text);
        if let Some(index) = index {
            let name = names.get(index).ok_or(PlanError::Placeholder {
                index,
                inputs: names.len(),
            })?;
            out.push_str(name);
        }
    }
    Ok(out)
}

/// `query` cut at its placeholders: each piece of text with the `{i}` that follows it (none
/// after the last piece).
fn split_placeholders(query: &str) -> Result<Vec<(&str, Option<usize>)>, PlanError> {
    let bad = || PlanError::BadPlaceholder(query.to_string());
    let mut pieces = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or_else(bad)?;
        let index = after[..end].trim().parse().map_err(|_| bad())?;
        pieces.push((&rest[..start], Some(index)));
        rest = &after[end + 1..];
    }
    pieces.push((rest, None));
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_inputs_must_be_partitioned_alike_or_broadcast() {
        let mut dag = Dag::new();
        let a = dag.scan(0, 1);
        let a4 = dag.regroup(a, 4).unwrap();
        let b8 = dag.regroup(a, 8).unwrap();
        let joined = dag.sql(
            vec![a4, a],
            "SELECT * FROM {0} JOIN {1} USING (k)".into(),
            None,
        );
        assert_eq!(dag.partitions(joined.unwrap()), 4);
        let err = dag.sql(vec![a4, b8], "SELECT * FROM {0}, {1}".into(), None);
        assert_eq!(
            err.unwrap_err().to_string(),
            "partial_sql inputs must have the same number of partitions (or one), got 4, 8"
        );
        let err = dag
            .sql(vec![a4], "SELECT * FROM {1}".into(), None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the query refers to {1} but has 1 input(s)"
        );
    }

    #[test]
    fn placeholders_are_substituted() {
        let names = ["t0".to_string(), "t1".to_string()];
        assert_eq!(
            substitute("SELECT * FROM {0} JOIN { 1 } ON true", &names).unwrap(),
            "SELECT * FROM t0 JOIN t1 ON true"
        );
        assert!(substitute("SELECT '{x}' FROM {0}", &names).is_err());
    }

    #[test]
    fn range_split_points_must_match_partitions() {
        let mut dag = Dag::new();
        let a = dag.scan(0, 1);
        let splits = Splits::Given(vec![10.into(), 20.into()]);
        let scheme = Scheme::Range {
            column: "x".into(),
            splits,
        };
        assert!(dag.shuffle(a, 3, scheme.clone()).is_ok());
        assert_eq!(
            dag.shuffle(a, 4, scheme).unwrap_err().to_string(),
            "4 partitions need 3 split points, got 2"
        );
    }

    #[test]
    fn ancestors_list_inputs_first() {
        let mut dag = Dag::new();
        let a = dag.scan(0, 1);
        let b = dag.regroup(a, 2).unwrap();
        let c = dag
            .sql(vec![b, a], "SELECT * FROM {0}, {1}".into(), None)
            .unwrap();
        assert_eq!(dag.ancestors(c), vec![a, b, c]);
    }
}
