//! The task graph: the optimized DAG cut into stages of tasks, one task per partition.
//!
//! Only shuffles, SQL and batch functions run tasks. Scans, regroups and unions never move data,
//! so they dissolve into the inputs of the tasks that read them: a task's [`Input`] lists the
//! files of a scan or the partition folders of an earlier stage it reads. The graph is plain
//! data; the executor turns each task into a DataFusion plan over those files.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::dag::{Dag, NodeId, Op, Scheme, scheme_text};
use crate::optimize::fuse_sql;

/// What the task graph needs to know about where it will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// How many producers a shuffle of a one-partition input gets (the executor's concurrency):
    /// the input is split between them by files, or by byte ranges when it has fewer files.
    pub producers: usize,
}

/// The position of a stage in its [`TaskGraph`].
pub type StageId = usize;

/// What every task of a stage does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Work {
    /// Runs the queries in order: the first reads the task's inputs as `{0}`, `{1}`, ...; each
    /// later one reads its predecessor's result as `{0}`.
    Sql { queries: Vec<String> },
    /// Writes one file per target partition, choosing each row's partition by `scheme`.
    Shuffle {
        scheme: Scheme,
        /// The only columns its readers use (`None`: all), so only those are written.
        columns: Option<Vec<String>>,
    },
    /// Applies the session's function to every batch.
    MapBatches { function: usize },
}

/// One piece of a task's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// Pieces `start..end` (files or in-memory batches) of a source.
    Scan {
        source: usize,
        start: usize,
        end: usize,
    },
    /// Everything a stage wrote for one of its output partitions.
    Output { stage: StageId, partition: usize },
}

/// Where an input's rows come from, so that an empty input still has a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    Source(usize),
    Stage(StageId),
}

/// Which share of its parts a task reads: byte range `index` of `count` equal ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    pub index: usize,
    pub count: usize,
}

/// What a task reads for one placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub parts: Vec<Part>,
    pub origin: Origin,
    pub slice: Option<Slice>,
}

/// One unit of work: a stage's work on one set of inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub inputs: Vec<Input>,
}

/// The tasks of one DAG node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Stable across runs of the same job: the node id and what it does (`n07-sql`).
    pub name: String,
    pub node: NodeId,
    pub work: Work,
    /// How many partitions the stage writes (for a shuffle, files per producer).
    pub partitions: usize,
    pub tasks: Vec<Task>,
    /// Stages whose output the tasks read.
    pub depends_on: Vec<StageId>,
}

/// Stages in an order where every stage comes after those it reads, and how to read the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskGraph {
    pub stages: Vec<Stage>,
    /// What reading the target's partition `p` means.
    pub output: Vec<Input>,
}

impl TaskGraph {
    /// Fuses the DAG under `target` and cuts it into stages.
    pub fn build(dag: &Dag, target: NodeId, options: PlanOptions) -> TaskGraph {
        let dag = fuse_sql(dag, target);
        let order = dag.ancestors(target);
        let mut builder = Builder {
            dag: &dag,
            order: &order,
            target,
            stage_of: HashMap::new(),
            stages: Vec::new(),
            producers: options.producers.max(1),
        };
        for &id in &order {
            if dag.node(id).op.runs_tasks() {
                builder.add_stage(id);
            }
        }
        let output = (0..dag.partitions(target))
            .map(|p| builder.input(target, p))
            .collect();
        TaskGraph {
            stages: builder.stages,
            output,
        }
    }

    /// The number of tasks over all stages.
    pub fn task_count(&self) -> usize {
        self.stages.iter().map(|s| s.tasks.len()).sum()
    }

    /// One line per stage: its name, work, task count and the stages it reads.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for stage in &self.stages {
            let work = match &stage.work {
                Work::Sql { queries } => match queries.len() {
                    1 => "sql (1 query)".to_string(),
                    n => format!("sql ({n} fused queries)"),
                },
                Work::Shuffle { scheme, columns } => format!(
                    "shuffle {} into {}{}",
                    scheme_text(scheme),
                    stage.partitions,
                    match columns {
                        Some(columns) => format!(" keeping {}", columns.join(", ")),
                        None => String::new(),
                    }
                ),
                Work::MapBatches { function } => format!("map_batches #{function}"),
            };
            let reads: Vec<&str> = stage
                .depends_on
                .iter()
                .map(|&s| self.stages[s].name.as_str())
                .collect();
            let _ = writeln!(
                out,
                "{}: {work}, {} task(s){}",
                stage.name,
                stage.tasks.len(),
                if reads.is_empty() {
                    String::new()
                } else {
                    format!(", reads {}", reads.join(", "))
                }
            );
        }
        out
    }
}

/// `n07-sql`: the node and its kind. A shuffle that writes only some columns gets a hash of
/// them too, since the same node read whole (by another action of the session) is other work
/// with other files. The hash is stable for a given build of Tarn; a new build may name the
/// stage anew, which only means it runs again.
fn stage_name(id: NodeId, kind: &str, work: &Work) -> String {
    match work {
        Work::Shuffle {
            columns: Some(columns),
            ..
        } => {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            columns.hash(&mut hasher);
            format!("n{id:02}-{kind}-{:08x}", hasher.finish() as u32)
        }
        _ => format!("n{id:02}-{kind}"),
    }
}

struct Builder<'a> {
    dag: &'a Dag,
    /// The nodes under the target, inputs first.
    order: &'a [NodeId],
    target: NodeId,
    stage_of: HashMap<NodeId, StageId>,
    stages: Vec<Stage>,
    producers: usize,
}

impl Builder<'_> {
    fn add_stage(&mut self, id: NodeId) {
        let node = self.dag.node(id);
        let (work, tasks, kind) = match &node.op {
            Op::Sql {
                inputs, queries, ..
            } => {
                let tasks = (0..node.partitions)
                    .map(|p| Task {
                        inputs: inputs
                            .iter()
                            .map(|&input| {
                                let broadcast = self.dag.partitions(input) == 1;
                                self.input(input, if broadcast { 0 } else { p })
                            })
                            .collect(),
                    })
                    .collect();
                let work = Work::Sql {
                    queries: queries.clone(),
                };
                (work, tasks, "sql")
            }
            Op::MapBatches { input, function } => {
                let tasks = (0..node.partitions)
                    .map(|p| Task {
                        inputs: vec![self.input(*input, p)],
                    })
                    .collect();
                let work = Work::MapBatches {
                    function: *function,
                };
                (work, tasks, "map")
            }
            Op::Shuffle { input, scheme } => {
                let tasks = self.producers(*input);
                let work = Work::Shuffle {
                    scheme: scheme.clone(),
                    columns: self.columns_read(id),
                };
                (work, tasks, "shuffle")
            }
            Op::Scan { .. } | Op::Regroup { .. } | Op::Union { .. } => {
                unreachable!("only nodes that run tasks become stages")
            }
        };
        let mut depends_on: Vec<StageId> = tasks
            .iter()
            .flat_map(|t: &Task| &t.inputs)
            .flat_map(|i| &i.parts)
            .filter_map(|part| match part {
                Part::Output { stage, .. } => Some(*stage),
                Part::Scan { .. } => None,
            })
            .collect();
        depends_on.sort_unstable();
        depends_on.dedup();
        self.stage_of.insert(id, self.stages.len());
        self.stages.push(Stage {
            name: stage_name(id, kind, &work),
            node: id,
            work,
            partitions: node.partitions,
            tasks,
            depends_on,
        });
    }

    /// The columns the readers of node `id` use, when every reader is SQL that says which; `None`
    /// when one reads everything or the node is the target (its rows are read whole).
    fn columns_read(&self, id: NodeId) -> Option<Vec<String>> {
        if id == self.target {
            return None;
        }
        let mut columns: Vec<String> = Vec::new();
        for &reader in self.order {
            let op = &self.dag.node(reader).op;
            for (k, input) in op.inputs().into_iter().enumerate() {
                if input != id {
                    continue;
                }
                let Op::Sql {
                    reads: Some(reads), ..
                } = op
                else {
                    return None;
                };
                for column in &reads[k] {
                    if !columns.contains(column) {
                        columns.push(column.clone());
                    }
                }
            }
        }
        Some(columns)
    }

    /// A shuffle's producers: one per input partition; a one-partition input is split between
    /// `self.producers` tasks, by pieces when a scan has enough of them, else by byte ranges.
    fn producers(&self, input: NodeId) -> Vec<Task> {
        let width = self.dag.partitions(input);
        if width > 1 {
            return (0..width)
                .map(|p| Task {
                    inputs: vec![self.input(input, p)],
                })
                .collect();
        }
        let whole = self.input(input, 0);
        if let [Part::Scan { source, start, end }] = whole.parts.as_slice()
            && end - start >= self.producers
        {
            let pieces = end - start;
            return (0..self.producers)
                .map(|t| Task {
                    inputs: vec![Input {
                        parts: vec![Part::Scan {
                            source: *source,
                            start: start + t * pieces / self.producers,
                            end: start + (t + 1) * pieces / self.producers,
                        }],
                        origin: whole.origin,
                        slice: None,
                    }],
                })
                .collect();
        }
        (0..self.producers)
            .map(|index| Task {
                inputs: vec![Input {
                    slice: Some(Slice {
                        index,
                        count: self.producers,
                    }),
                    ..whole.clone()
                }],
            })
            .collect()
    }

    /// What reading partition `p` of node `id` means.
    fn input(&self, id: NodeId, p: usize) -> Input {
        let node = self.dag.node(id);
        match &node.op {
            _ if node.op.runs_tasks() => {
                let stage = self.stage_of[&id];
                Input {
                    parts: vec![Part::Output {
                        stage,
                        partition: p,
                    }],
                    origin: Origin::Stage(stage),
                    slice: None,
                }
            }
            Op::Scan { source, pieces } => Input {
                parts: vec![Part::Scan {
                    source: *source,
                    start: 0,
                    end: *pieces,
                }],
                origin: Origin::Source(*source),
                slice: None,
            },
            Op::Regroup { input } => {
                let n = node.partitions;
                let from = self.dag.node(*input);
                if let Op::Scan { source, pieces } = from.op {
                    return Input {
                        parts: vec![Part::Scan {
                            source,
                            start: p * pieces / n,
                            end: (p + 1) * pieces / n,
                        }],
                        origin: Origin::Source(source),
                        slice: None,
                    };
                }
                let m = from.partitions;
                let mut merged = self.input(*input, 0);
                merged.parts = (p * m / n..(p + 1) * m / n)
                    .flat_map(|q| self.input(*input, q).parts)
                    .collect();
                merged
            }
            Op::Union { inputs } => {
                let mut offset = p;
                for &input in inputs {
                    let width = self.dag.partitions(input);
                    if offset < width {
                        return self.input(input, offset);
                    }
                    offset -= width;
                }
                unreachable!("partition {p} is within the union's {}", node.partitions)
            }
            Op::Shuffle { .. } | Op::Sql { .. } | Op::MapBatches { .. } => {
                unreachable!("nodes that run tasks are handled above")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: PlanOptions = PlanOptions { producers: 4 };

    #[test]
    fn regrouping_a_scan_deals_out_its_files() {
        let mut dag = Dag::new();
        let scan = dag.scan(7, 10);
        let parts = dag.regroup(scan, 4).unwrap();
        let graph = TaskGraph::build(&dag, parts, OPTIONS);
        assert!(graph.stages.is_empty());
        let ranges: Vec<_> = graph
            .output
            .iter()
            .map(|i| match i.parts[..] {
                [Part::Scan { start, end, .. }] => (start, end),
                _ => panic!("{i:?}"),
            })
            .collect();
        assert_eq!(ranges, [(0, 2), (2, 5), (5, 7), (7, 10)]);
    }

    #[test]
    fn more_partitions_than_files_leaves_empty_partitions_with_an_origin() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 2);
        let parts = dag.regroup(scan, 5).unwrap();
        let graph = TaskGraph::build(&dag, parts, OPTIONS);
        let empty = graph
            .output
            .iter()
            .filter(|i| matches!(i.parts[..], [Part::Scan { start, end, .. }] if start == end))
            .count();
        assert_eq!(empty, 3);
        assert!(graph.output.iter().all(|i| i.origin == Origin::Source(0)));
    }

    #[test]
    fn a_shuffle_of_one_file_still_gets_several_producers() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 1);
        let hashed = dag
            .shuffle(
                scan,
                8,
                Scheme::Hash {
                    columns: vec!["url".into()],
                },
            )
            .unwrap();
        let graph = TaskGraph::build(&dag, hashed, OPTIONS);
        let producers = &graph.stages[0].tasks;
        assert_eq!(producers.len(), 4);
        assert_eq!(
            producers[3].inputs[0].slice,
            Some(Slice { index: 3, count: 4 })
        );
        // Consumer p reads folder p of the shuffle.
        assert_eq!(
            graph.output[5].parts,
            [Part::Output {
                stage: 0,
                partition: 5
            }]
        );
    }

    #[test]
    fn a_shuffle_of_many_files_splits_them_between_producers() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 9);
        let hashed = dag.shuffle(scan, 3, Scheme::Random).unwrap();
        let graph = TaskGraph::build(&dag, hashed, OPTIONS);
        let slices: Vec<_> = graph.stages[0]
            .tasks
            .iter()
            .map(|t| t.inputs[0].parts.clone())
            .collect();
        assert_eq!(slices.len(), 4);
        assert_eq!(
            slices[0],
            [Part::Scan {
                source: 0,
                start: 0,
                end: 2
            }]
        );
        assert!(
            graph.stages[0]
                .tasks
                .iter()
                .all(|t| t.inputs[0].slice.is_none())
        );
    }

    #[test]
    fn sql_stages_read_their_inputs_partition_by_partition_and_broadcast_one() {
        let mut dag = Dag::new();
        let big = dag.scan(0, 8);
        let big = dag.regroup(big, 4).unwrap();
        let small = dag.scan(1, 1);
        let joined = dag
            .sql(
                vec![big, small],
                "SELECT * FROM {0} JOIN {1} USING (k)".into(),
                None,
            )
            .unwrap();
        let graph = TaskGraph::build(&dag, joined, OPTIONS);
        assert_eq!(graph.stages.len(), 1);
        let task = &graph.stages[0].tasks[2];
        assert_eq!(
            task.inputs[0].parts,
            [Part::Scan {
                source: 0,
                start: 4,
                end: 6
            }]
        );
        assert_eq!(
            task.inputs[1].parts,
            [Part::Scan {
                source: 1,
                start: 0,
                end: 1
            }]
        );
    }

    #[test]
    fn a_shuffle_writes_only_the_columns_its_readers_use() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 4);
        let hashed = dag
            .shuffle(
                scan,
                4,
                Scheme::Hash {
                    columns: vec!["k".into()],
                },
            )
            .unwrap();
        let reads = Some(vec![vec!["k".to_string(), "v".to_string()]]);
        let summed = dag
            .sql(
                vec![hashed],
                "SELECT k, sum(v) FROM {0} GROUP BY k".into(),
                reads,
            )
            .unwrap();
        let graph = TaskGraph::build(&dag, summed, OPTIONS);
        let Work::Shuffle { columns, .. } = &graph.stages[0].work else {
            panic!()
        };
        assert_eq!(
            columns.as_deref(),
            Some(&["k".to_string(), "v".to_string()][..])
        );
        // Read whole when it is itself the result.
        let graph = TaskGraph::build(&dag, hashed, OPTIONS);
        let Work::Shuffle { columns, .. } = &graph.stages[0].work else {
            panic!()
        };
        assert_eq!(columns, &None);
    }

    #[test]
    fn union_concatenates_partitions() {
        let mut dag = Dag::new();
        let a = dag.scan(0, 2);
        let a = dag.regroup(a, 2).unwrap();
        let b = dag.scan(1, 1);
        let both = dag.union(vec![a, b]).unwrap();
        let graph = TaskGraph::build(&dag, both, OPTIONS);
        assert_eq!(graph.output.len(), 3);
        assert_eq!(graph.output[2].origin, Origin::Source(1));
    }

    #[test]
    fn tens_of_thousands_of_partitions_plan() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 1000);
        let hashed = dag
            .shuffle(
                scan,
                50_000,
                Scheme::Hash {
                    columns: vec!["k".into()],
                },
            )
            .unwrap();
        let dedup = dag
            .sql(vec![hashed], "SELECT DISTINCT * FROM {0}".into(), None)
            .unwrap();
        let graph = TaskGraph::build(&dag, dedup, OPTIONS);
        assert_eq!(graph.task_count(), 4 + 50_000);
        assert_eq!(
            graph.stages[1].tasks[49_999].inputs[0].parts,
            [Part::Output {
                stage: 0,
                partition: 49_999
            }]
        );
    }
}
