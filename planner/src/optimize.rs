//! The optimizer: rewrites of the DAG under one target before it becomes tasks.
//!
//! Today it fuses SQL: a SQL node whose only input is another SQL node that nothing else reads
//! becomes one node running both queries, so `filter(...).map(...).partial_sql(...)` is one
//! DataFusion plan per partition, with no Parquet files written in between.

use crate::dag::{Dag, Node, NodeId, Op};

/// A copy of `dag` in which every chain of single-input SQL nodes under `target` is fused into
/// its last node. Node ids keep their meaning; nodes fused away are simply no longer read.
pub fn fuse_sql(dag: &Dag, target: NodeId) -> Dag {
    let order = dag.ancestors(target);
    let mut readers = vec![0usize; dag.len()];
    for &id in &order {
        for input in dag.node(id).op.inputs() {
            readers[input] += 1;
        }
    }
    let mut fused = dag.clone();
    for &id in &order {
        let Op::Sql {
            inputs, queries, ..
        } = &fused.node(id).op
        else {
            continue;
        };
        let [input] = inputs.as_slice() else {
            continue;
        };
        if readers[*input] != 1 {
            continue;
        }
        let Op::Sql {
            inputs: inner_inputs,
            queries: inner_queries,
            reads,
        } = &fused.node(*input).op
        else {
            continue;
        };
        let node = Node {
            op: Op::Sql {
                inputs: inner_inputs.clone(),
                queries: inner_queries.iter().chain(queries).cloned().collect(),
                reads: reads.clone(),
            },
            partitions: fused.partitions(id),
        };
        fused.replace(id, node);
    }
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_of_sql_fuse_into_their_last_node() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 1);
        let parts = dag.regroup(scan, 4).unwrap();
        let a = dag
            .sql(vec![parts], "SELECT * FROM {0} WHERE x > 1".into(), None)
            .unwrap();
        let b = dag
            .sql(vec![a], "SELECT x + 1 AS y FROM {0}".into(), None)
            .unwrap();
        let c = dag
            .sql(vec![b], "SELECT y FROM {0} ORDER BY y".into(), None)
            .unwrap();
        let fused = fuse_sql(&dag, c);
        let Op::Sql {
            inputs, queries, ..
        } = &fused.node(c).op
        else {
            panic!("still SQL")
        };
        assert_eq!(inputs, &vec![parts]);
        assert_eq!(queries.len(), 3);
        assert_eq!(fused.ancestors(c), vec![scan, parts, c]);
    }

    #[test]
    fn a_node_read_twice_is_not_fused_away() {
        let mut dag = Dag::new();
        let scan = dag.scan(0, 1);
        let a = dag
            .sql(vec![scan], "SELECT * FROM {0}".into(), None)
            .unwrap();
        let b = dag.sql(vec![a], "SELECT 1 FROM {0}".into(), None).unwrap();
        let both = dag
            .sql(vec![a, b], "SELECT * FROM {0}, {1}".into(), None)
            .unwrap();
        let fused = fuse_sql(&dag, both);
        assert!(fused.ancestors(both).contains(&a));
        // `a` is read by `b` and by `both`, so it keeps its own stage and `b` is not fused with it.
        let Op::Sql { inputs, .. } = &fused.node(b).op else {
            panic!()
        };
        assert_eq!(inputs, &vec![a]);
    }
}
