//! Orders each tree of inner joins so that its intermediate results are small.
//!
//! DataFusion joins tables in the order a query names them. In a star query that order often
//! joins the fact table to every dimension before the one filter that keeps 2 nations of 25
//! applies (TPC-H Q5, Q7, Q21), so every join carries twelve times the rows it needs to. DuckDB
//! orders joins by estimated cardinality; this rule does the same with what is known at the
//! logical level: each table's row count, key ranges and column statistics ([`TableStats`]) and
//! the filters on it ([`super::selectivity`]).
//!
//! It flattens a tree of plain inner joins into its inputs, their equi-join keys and the other join
//! conditions (keys equal through a third are joined too: Q9's `p_partkey = l_partkey` and
//! `ps_partkey = l_partkey` let part meet partsupp first), then rebuilds it as the bushy tree of
//! least total cost ([`join_cost`] of each join: its result rows, plus the inserts into the smaller
//! side's hash table and the probes into it, dearer as it outgrows the caches), weighing every
//! order of connected groups up to [`EXHAUSTIVE_INPUTS`] inputs (DPsub, as DuckDB's DPhyp does over
//! the same space), and beyond that greedily (GOO, Fegaras 1998: join the two groups whose join is
//! cheapest until one is left). For Q5 that is `supplier ⋈ ((((region ⋈ nation) ⋈ customer) ⋈
//! orders) ⋈ lineitem)`. The estimate of an equi-join of groups with `a` and `b` rows is `a·b / d`,
//! where `d`, the key's domain, is the smaller of the two tables' row counts and of the keys'
//! distinct bounds. Without a distinct bound that treats each row of the larger table as matching
//! one row of the smaller (a foreign key into a primary key, as in TPC-H and most star schemas),
//! and a filter on either side passes through in proportion; the bounds (an integer key's min..max
//! range) catch joins on small shared attributes such as a nation key. The smaller group goes on
//! the left, the side a hash join builds; physical planning may still swap sides from its own
//! statistics.
//!
//! A tree is left as it is when any input has no estimate (no row count, or a plan shape other
//! than filtered scans), when the inputs are not all connected by equi-join keys, or when the
//! order found is the order it already has. A new order is wrapped in a projection that puts the
//! columns back in the original order.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, Join, JoinConstraint, JoinType, LogicalPlan, Operator, Projection, TableScan,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::selectivity::{ColumnFacts, conjunction_selectivity};
use super::table_stats::{TableSize, TableStats};

/// The most inputs one tree may have: groups of inputs are sets of bits in a `u64`.
const MAX_INPUTS: usize = 64;

/// See the module documentation.
#[derive(Debug)]
pub struct JoinOrder {
    tables: Arc<TableStats>,
}

impl JoinOrder {
    pub fn new(tables: Arc<TableStats>) -> Self {
        Self { tables }
    }

    /// `plan` with every tree of inner joins in it ordered; subqueries included.
    fn order_all(&self, plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        plan.transform_down_with_subqueries(|node| {
            if !is_plain_inner_join(&node) {
                return Ok(Transformed::no(node));
            }
            match self.order_tree(&node)? {
                // The tree's inputs were ordered inside; its own joins are not visited again.
                Some(ordered) => Ok(Transformed::new(
                    ordered.data,
                    ordered.transformed,
                    TreeNodeRecursion::Jump,
                )),
                None => Ok(Transformed::no(node)),
            }
        })
    }

    /// `root`, a tree of inner joins, in its best order with its inputs ordered too; `None` when
    /// the tree cannot be estimated, so that its smaller trees are tried on their own.
    fn order_tree(&self, root: &LogicalPlan) -> Result<Option<Transformed<LogicalPlan>>> {
        let Some(join) = inner_join_below(root) else {
            return Ok(None);
        };
        let mut tree = JoinTree::default();
        let shape = tree.flatten(join);
        if tree.inputs.len() < 3 || tree.inputs.len() > MAX_INPUTS {
            return Ok(None);
        }
        let Some(graph) = tree.graph(&self.tables) else {
            return Ok(None);
        };
        let Some(best) = graph.best_shape() else {
            return Ok(None);
        };

        let mut inputs_changed = false;
        let mut inputs = Vec::with_capacity(tree.inputs.len());
        for input in tree.inputs.drain(..) {
            let ordered = self.order_all(input)?;
            inputs_changed |= ordered.transformed;
            inputs.push(ordered.data);
        }
        if best == shape {
            if !inputs_changed {
                return Ok(Some(Transformed::no(root.clone())));
            }
            let rebuilt = with_inputs(root, &mut inputs.into_iter())?;
            return Ok(Some(Transformed::yes(rebuilt)));
        }

        let mut pending: Vec<(u64, Option<Expr>)> = graph
            .conditions
            .into_iter()
            .map(|(inputs_read, condition)| (inputs_read, Some(condition)))
            .collect();
        let (joined, _) = build(&best, &inputs, &graph.edges, &mut pending)?;
        // Every condition reads inputs of the tree only, so the root has applied all of them.
        debug_assert!(pending.iter().all(|(_, condition)| condition.is_none()));
        let columns = root.schema().columns().into_iter().map(Expr::Column);
        let restored = Projection::try_new(columns.collect(), Arc::new(joined))?;
        Ok(Some(Transformed::yes(LogicalPlan::Projection(restored))))
    }
}

impl OptimizerRule for JoinOrder {
    fn name(&self) -> &str {
        "tarn_join_order"
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        self.order_all(plan)
    }
}

/// An inner join that may change places with its neighbours: equi-keys that never match nulls,
/// written with `ON` (a `USING` join's schema depends on its sides' order).
fn is_plain_inner_join(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Join(join)
        if join.join_type == JoinType::Inner
            && join.join_constraint == JoinConstraint::On
            && join.null_equality == NullEquality::NullEqualsNothing
            && !join.null_aware)
}

/// The plain inner join `plan` is, or selects columns of: DataFusion prunes columns between
/// joins with projections, which belong to the tree rather than ending it.
fn inner_join_below(plan: &LogicalPlan) -> Option<&Join> {
    match plan {
        LogicalPlan::Join(join) if is_plain_inner_join(plan) => Some(join),
        LogicalPlan::Projection(projection)
            if projection.expr.iter().all(|e| matches!(e, Expr::Column(_))) =>
        {
            inner_join_below(&projection.input)
        }
        _ => None,
    }
}

/// Which inputs joined in which order: a tree over indexes into the inputs.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Input(usize),
    Join(Box<Shape>, Box<Shape>),
}

/// A tree of inner joins taken apart.
#[derive(Default)]
struct JoinTree {
    inputs: Vec<LogicalPlan>,
    /// The `ON` key pairs of every join in the tree.
    keys: Vec<(Expr, Expr)>,
    /// The conjuncts of every join's non-equi filter.
    filters: Vec<Expr>,
}

impl JoinTree {
    /// Collects the inputs, keys and filters of `join` and the joins below it, and returns
    /// their shape.
    fn flatten(&mut self, join: &Join) -> Shape {
        let side = |tree: &mut Self, side: &LogicalPlan| match inner_join_below(side) {
            Some(join) => tree.flatten(join),
            None => {
                tree.inputs.push(side.clone());
                Shape::Input(tree.inputs.len() - 1)
            }
        };
        let left = side(self, &join.left);
        let right = side(self, &join.right);
        self.keys.extend(join.on.iter().cloned());
        if let Some(filter) = &join.filter {
            self.filters
                .extend(split_conjunction(filter).into_iter().cloned());
        }
        Shape::Join(Box::new(left), Box::new(right))
    }

    /// The inputs' estimates and the conditions between them; `None` when an input has no
    /// estimate or a column is not in exactly one input.
    fn graph(&self, tables: &TableStats) -> Option<JoinGraph> {
        let estimates = self
            .inputs
            .iter()
            .map(|input| estimate(input, tables))
            .collect::<Option<Vec<_>>>()?;
        let mut graph = JoinGraph {
            estimates,
            edges: Vec::new(),
            conditions: Vec::new(),
        };
        let mut keys = KeyClasses::default();
        let mut written = Vec::new();
        for (left, right) in &self.keys {
            let (left_inputs, right_inputs) = (self.inputs_of(left)?, self.inputs_of(right)?);
            if left_inputs.count_ones() == 1
                && right_inputs.count_ones() == 1
                && left_inputs != right_inputs
            {
                keys.equate((left_inputs, left), (right_inputs, right));
                written.push(((left_inputs, left), (right_inputs, right)));
            } else {
                let equal = Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(left.clone()),
                    Operator::Eq,
                    Box::new(right.clone()),
                ));
                graph.conditions.push((left_inputs | right_inputs, equal));
            }
        }
        let classes = keys.classes();
        for (a, b) in written {
            let class = KeyClasses::class_of(&classes, a);
            let edge = self.edge(class, a, b, &graph.estimates, tables);
            graph.edges.push(edge);
        }
        // Every two keys of one class are equal, written in the query or not (Q9 equates
        // `p_partkey` and `ps_partkey` only through `l_partkey`): an edge each, so that part and
        // partsupp may meet before lineitem does.
        for (class, members) in classes.iter().enumerate() {
            for (i, (x, kx)) in members.iter().enumerate() {
                for (y, ky) in &members[i + 1..] {
                    let joined = |edge: &Edge| {
                        let [a, b] = edge.inputs;
                        edge.class == class && ((a, b) == (*x, *y) || (a, b) == (*y, *x))
                    };
                    if x != y && !graph.edges.iter().any(joined) {
                        let edge = self.edge(class, (*x, kx), (*y, ky), &graph.estimates, tables);
                        graph.edges.push(Edge {
                            derived: true,
                            ..edge
                        });
                    }
                }
            }
        }
        for filter in &self.filters {
            graph
                .conditions
                .push((self.inputs_of(filter)?, filter.clone()));
        }
        Some(graph)
    }

    /// The edge between two keys (each with its input) of `class`, as written.
    fn edge(
        &self,
        class: usize,
        (x, kx): (u64, &Expr),
        (y, ky): (u64, &Expr),
        estimates: &[Estimate],
        tables: &TableStats,
    ) -> Edge {
        let domain = self
            .key_domain(x, kx, estimates, tables)
            .min(self.key_domain(y, ky, estimates, tables))
            .max(1.0);
        Edge {
            inputs: [x, y],
            keys: [kx.clone(), ky.clone()],
            domain,
            class,
            derived: false,
        }
    }

    /// How many values the key `key` of the input `input` (a one-bit set) can take: its table's
    /// rows, or fewer when its values' range is narrower.
    fn key_domain(
        &self,
        input: u64,
        key: &Expr,
        estimates: &[Estimate],
        tables: &TableStats,
    ) -> f64 {
        let input = input.trailing_zeros() as usize;
        let table_rows = estimates[input].table_rows;
        match key.try_as_col() {
            Some(column) => PlanFacts {
                plan: &self.inputs[input],
                tables,
            }
            .distinct(column)
            .map_or(table_rows, |bound| bound.min(table_rows)),
            None => table_rows,
        }
    }

    /// The set of inputs whose columns `expr` reads; `None` when a column is in no input or in
    /// several.
    fn inputs_of(&self, expr: &Expr) -> Option<u64> {
        let mut set = 0;
        for column in expr.column_refs() {
            set |= 1 << self.input_of(column)?;
        }
        Some(set)
    }

    /// The one input that has `column`; `None` when none or several do (an unqualified name
    /// two inputs share), since a condition could then land on the wrong side.
    fn input_of(&self, column: &Column) -> Option<usize> {
        let mut holders = self
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, input)| input.schema().has_column(column))
            .map(|(index, _)| index);
        match (holders.next(), holders.next()) {
            (Some(index), None) => Some(index),
            _ => None,
        }
    }
}

/// The inputs of a join tree as a graph: estimated rows at the nodes, equi-join keys on the edges.
struct JoinGraph {
    estimates: Vec<Estimate>,
    edges: Vec<Edge>,
    /// Every other condition, with the set of inputs it reads.
    conditions: Vec<(u64, Expr)>,
}

/// An equi-join key between two inputs, each given as a one-bit set.
struct Edge {
    inputs: [u64; 2],
    keys: [Expr; 2],
    /// How many values the key can take where both sides meet.
    domain: f64,
    /// The class of keys equal to one another that both keys are in.
    class: usize,
    /// Implied by the written edges of its class rather than written: a join uses it only where
    /// no other edge of the class joins the same two sides.
    derived: bool,
}

/// Join keys (each with its input, a one-bit set) grouped into classes of keys equal to one
/// another.
#[derive(Default)]
struct KeyClasses {
    keys: Vec<(u64, Expr)>,
    /// For each key, the index of a key in its class (union-find).
    parent: Vec<usize>,
}

impl KeyClasses {
    fn equate(&mut self, a: (u64, &Expr), b: (u64, &Expr)) {
        let (a, b) = (self.index(a), self.index(b));
        let (a, b) = (self.root(a), self.root(b));
        self.parent[a] = b;
    }

    fn index(&mut self, (input, key): (u64, &Expr)) -> usize {
        if let Some(i) = self.keys.iter().position(|(x, k)| *x == input && k == key) {
            return i;
        }
        self.keys.push((input, key.clone()));
        self.parent.push(self.parent.len());
        self.keys.len() - 1
    }

    fn root(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    /// Which of `classes` holds `key` of `input` (one of those equated).
    fn class_of(classes: &[Vec<(u64, Expr)>], (input, key): (u64, &Expr)) -> usize {
        classes
            .iter()
            .position(|members| members.iter().any(|(x, k)| *x == input && k == key))
            .expect("every equated key has a class")
    }

    /// The classes, each key in the order it was first seen.
    fn classes(&self) -> Vec<Vec<(u64, Expr)>> {
        let mut roots: Vec<usize> = Vec::new();
        let mut classes: Vec<Vec<(u64, Expr)>> = Vec::new();
        for (i, key) in self.keys.iter().enumerate() {
            let root = self.root(i);
            let class = match roots.iter().position(|&r| r == root) {
                Some(class) => class,
                None => {
                    roots.push(root);
                    classes.push(Vec::new());
                    classes.len() - 1
                }
            };
            classes[class].push(key.clone());
        }
        classes
    }
}

/// Hash-table entries up to which probing a join's table costs about the same per row, however
/// large (TPC-H Q5 on 2 threads, ns per probe including the rows out: 60M lineitem rows into
/// 20K suppliers 7.5, into 457K orders 15, and 12M into 2.27M orders 42; 6M into 2K and into
/// 46K both 5-7.5).
const CACHED_BUILD_ROWS: f64 = 175_000.0;

/// What joining two groups into `rows` rows costs: those rows, plus the inserts of the smaller
/// group's rows into a hash table and the probes of the larger's into it, each dearer by one
/// probe's time for every doubling of that table past [`CACHED_BUILD_ROWS`], as they start to
/// miss the caches. (Fitted to the probes above: twice the time at 457K entries, five times
/// at 2.27M. Building a table of the 457K orders of Q8's two years took 28 ms at SF1; without
/// the inserts counted, 43K probes into it looked cheaper than probing the orders of a region's
/// 30K customers first.)
fn join_cost(rows: f64, a: &Group, b: &Group) -> f64 {
    let (build, probe) = (a.rows.min(b.rows), a.rows.max(b.rows));
    let per_probe = 1.0 + (build / CACHED_BUILD_ROWS).max(1.0).log2();
    rows + (build + probe) * per_probe
}

/// Inputs joined so far in the search.
struct Group {
    inputs: u64,
    rows: f64,
    shape: Shape,
}

/// The most inputs whose every join order is weighed; 3^n splits of subsets are tried, about
/// 530K at 12.
const EXHAUSTIVE_INPUTS: usize = 12;

/// Groups `a` and `b` joined into `rows` rows, the smaller on the left (the side a hash join
/// builds).
fn joined(a: &Group, b: &Group, rows: f64) -> Group {
    let (build, probe) = if b.rows < a.rows { (b, a) } else { (a, b) };
    Group {
        inputs: build.inputs | probe.inputs,
        rows,
        shape: Shape::Join(Box::new(build.shape.clone()), Box::new(probe.shape.clone())),
    }
}

impl JoinGraph {
    /// The cheapest join order: found exhaustively up to [`EXHAUSTIVE_INPUTS`] inputs, greedily
    /// beyond; `None` when the inputs are not all connected.
    fn best_shape(&self) -> Option<Shape> {
        if self.estimates.len() <= EXHAUSTIVE_INPUTS {
            self.cheapest_shape()
        } else {
            self.greedy_shape()
        }
    }

    /// The order of least total [`join_cost`] over every bushy tree of connected groups, by
    /// dynamic programming over the subsets of inputs (DPsub): each subset's cheapest plan is the
    /// cheapest join of two of its connected parts. Greedy choice misses plans whose first join
    /// is not the cheapest: in TPC-H Q5, the 2,000 suppliers of one region are the cheapest
    /// first join, but the region's nation filters the 150K customers just as well (to 30K),
    /// which shrinks orders and then lineitem to a fifth before any supplier is met, and only one
    /// of the two can have it.
    fn cheapest_shape(&self) -> Option<Shape> {
        let n = self.estimates.len();
        let all = (1u64 << n) - 1;
        let mut best: Vec<Option<(f64, Group)>> = (0..=all).map(|_| None).collect();
        for (i, estimate) in self.estimates.iter().enumerate() {
            let group = Group {
                inputs: 1 << i,
                rows: estimate.rows.max(1.0),
                shape: Shape::Input(i),
            };
            best[1 << i] = Some((0.0, group));
        }
        for set in 1..=all {
            if set.count_ones() < 2 {
                continue;
            }
            let lowest = set & set.wrapping_neg();
            let mut cheapest: Option<(f64, Group)> = None;
            // Every split of `set` in two, once each: `others` is the part without its lowest
            // input, each non-empty subset of the rest in turn.
            let rest = set & !lowest;
            let mut others = rest;
            while others != 0 {
                let first = set & !others;
                if let (Some((cost_a, a)), Some((cost_b, b))) =
                    (&best[first as usize], &best[others as usize])
                    && let Some(rows) = self.join_rows(a, b)
                {
                    let cost = cost_a + cost_b + join_cost(rows, a, b);
                    if cheapest.as_ref().is_none_or(|(least, _)| cost < *least) {
                        cheapest = Some((cost, joined(a, b, rows)));
                    }
                }
                others = (others - 1) & rest;
            }
            best[set as usize] = cheapest;
        }
        best[all as usize].take().map(|(_, group)| group.shape)
    }

    /// The greedy join order; `None` when the inputs are not all connected.
    fn greedy_shape(&self) -> Option<Shape> {
        let mut groups: Vec<Group> = self
            .estimates
            .iter()
            .enumerate()
            .map(|(i, estimate)| Group {
                inputs: 1 << i,
                rows: estimate.rows.max(1.0),
                shape: Shape::Input(i),
            })
            .collect();
        while groups.len() > 1 {
            let mut best: Option<(usize, usize, f64, f64)> = None;
            for i in 0..groups.len() {
                for j in i + 1..groups.len() {
                    let Some(rows) = self.join_rows(&groups[i], &groups[j]) else {
                        continue;
                    };
                    let cost = join_cost(rows, &groups[i], &groups[j]);
                    if best.is_none_or(|(_, _, _, least)| cost < least) {
                        best = Some((i, j, rows, cost));
                    }
                }
            }
            let (i, j, rows, _) = best?;
            let second = groups.remove(j);
            let first = groups.remove(i);
            groups.push(joined(&first, &second, rows));
        }
        groups.pop().map(|group| group.shape)
    }

    /// The estimated rows of joining two groups; `None` when no key connects them. Several
    /// keys together (a composite key) can take as many values as their domains multiplied, but
    /// no more than the widest of them does in the tables that hold it.
    fn join_rows(&self, a: &Group, b: &Group) -> Option<f64> {
        let mut domain: Option<f64> = None;
        let mut widest_table = 0.0_f64;
        let mut classes = Vec::new();
        for edge in &self.edges {
            let [x, y] = edge.inputs;
            let connects = (x & a.inputs != 0 && y & b.inputs != 0)
                || (x & b.inputs != 0 && y & a.inputs != 0);
            if connects && !classes.contains(&edge.class) {
                classes.push(edge.class);
                domain = Some(domain.map_or(edge.domain, |d| d * edge.domain));
                let tables = edge
                    .inputs
                    .map(|set| self.estimates[set.trailing_zeros() as usize].table_rows);
                widest_table = widest_table.max(tables[0].min(tables[1]));
            }
        }
        let domain = domain?.min(widest_table).max(1.0);
        Some((a.rows * b.rows / domain).max(1.0))
    }
}

/// The plan of `shape` over `inputs`, each join with the keys between its sides and the
/// conditions it is the first to have all inputs for; also the set of inputs it joins.
fn build(
    shape: &Shape,
    inputs: &[LogicalPlan],
    edges: &[Edge],
    pending: &mut [(u64, Option<Expr>)],
) -> Result<(LogicalPlan, u64)> {
    let (left, right) = match shape {
        Shape::Input(i) => return Ok((inputs[*i].clone(), 1 << i)),
        Shape::Join(left, right) => (left, right),
    };
    let (left, left_inputs) = build(left, inputs, edges, pending)?;
    let (right, right_inputs) = build(right, inputs, edges, pending)?;
    let mut on = Vec::new();
    let mut classes = Vec::new();
    for edge in edges {
        let [x, y] = edge.inputs;
        let [kx, ky] = &edge.keys;
        let pair = if x & left_inputs != 0 && y & right_inputs != 0 {
            (kx.clone(), ky.clone())
        } else if y & left_inputs != 0 && x & right_inputs != 0 {
            (ky.clone(), kx.clone())
        } else {
            continue;
        };
        if !edge.derived || !classes.contains(&edge.class) {
            classes.push(edge.class);
            on.push(pair);
        }
    }
    let joined = left_inputs | right_inputs;
    let mut filters = Vec::new();
    for (inputs_read, condition) in pending.iter_mut() {
        if *inputs_read & !joined == 0 {
            filters.extend(condition.take());
        }
    }
    let join = Join::try_new(
        Arc::new(left),
        Arc::new(right),
        on,
        conjunction(filters),
        JoinType::Inner,
        JoinConstraint::On,
        NullEquality::NullEqualsNothing,
        false,
    )?;
    Ok((LogicalPlan::Join(join), joined))
}

/// `tree` with its inputs, in flattening order, replaced by `inputs`.
fn with_inputs(
    tree: &LogicalPlan,
    inputs: &mut impl Iterator<Item = LogicalPlan>,
) -> Result<LogicalPlan> {
    let children = tree
        .inputs()
        .into_iter()
        .map(|child| match inner_join_below(child) {
            Some(_) => with_inputs(child, inputs),
            None => Ok(inputs.next().expect("one input per leaf")),
        })
        .collect::<Result<Vec<_>>>()?;
    tree.with_new_exprs(tree.expressions(), children)
}

/// An input's estimated rows, and the rows of the table it filters (its key's domain).
#[derive(Debug, Clone, Copy)]
struct Estimate {
    rows: f64,
    table_rows: f64,
}

/// Estimates filtered scans of tables with known row counts, seen through renames.
fn estimate(plan: &LogicalPlan, tables: &TableStats) -> Option<Estimate> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let size = tables.of_scan(scan)?;
            let table_rows = size.rows as f64;
            let filters: Vec<&Expr> = scan.filters.iter().collect();
            let kept = conjunction_selectivity(&filters, &ScanFacts { scan, size: &size });
            let rows = scan.fetch.map_or(table_rows * kept, |fetch| {
                (table_rows * kept).min(fetch as f64)
            });
            Some(Estimate { rows, table_rows })
        }
        LogicalPlan::Filter(filter) => {
            let input = estimate(&filter.input, tables)?;
            // A filter pushed into the scan below it is also kept above it; count it once.
            let pushed: &[Expr] = match filter.input.as_ref() {
                LogicalPlan::TableScan(scan) => &scan.filters,
                _ => &[],
            };
            let conjuncts: Vec<&Expr> = split_conjunction(&filter.predicate)
                .into_iter()
                .filter(|conjunct| !pushed.contains(conjunct))
                .collect();
            let facts = PlanFacts {
                plan: &filter.input,
                tables,
            };
            Some(Estimate {
                rows: input.rows * conjunction_selectivity(&conjuncts, &facts),
                ..input
            })
        }
        LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) => {
            estimate(plan.inputs()[0], tables)
        }
        _ => None,
    }
}

/// What a table's statistics say of the columns a scan of it reads.
struct ScanFacts<'a> {
    scan: &'a TableScan,
    size: &'a TableSize,
}

impl ScanFacts<'_> {
    fn index(&self, column: &Column) -> Option<usize> {
        self.scan.source.schema().index_of(&column.name).ok()
    }
}

impl ColumnFacts for ScanFacts<'_> {
    fn distinct(&self, column: &Column) -> Option<f64> {
        self.size.distinct[self.index(column)?].map(|d| d as f64)
    }

    fn range(&self, column: &Column) -> Option<(f64, f64)> {
        self.size.ranges[self.index(column)?]
    }
}

/// What the statistics of the tables under `plan` say of its columns, each traced through
/// renames and filters to the table it comes from.
struct PlanFacts<'a> {
    plan: &'a LogicalPlan,
    tables: &'a TableStats,
}

impl PlanFacts<'_> {
    /// `f` of the facts of the scan `column` comes from, and its name there.
    fn traced<T>(
        &self,
        column: &Column,
        f: impl Fn(&ScanFacts, &Column) -> Option<T>,
    ) -> Option<T> {
        let (scan, name) = source_column(self.plan, &column.name)?;
        let size = self.tables.of_scan(scan)?;
        f(&ScanFacts { scan, size: &size }, &Column::from_name(name))
    }
}

impl ColumnFacts for PlanFacts<'_> {
    fn distinct(&self, column: &Column) -> Option<f64> {
        self.traced(column, |facts, column| facts.distinct(column))
    }

    fn range(&self, column: &Column) -> Option<(f64, f64)> {
        self.traced(column, |facts, column| facts.range(column))
    }
}

/// The scan the column `name` of `plan` comes from, through renames and filters, and its name
/// there.
fn source_column<'a>(plan: &'a LogicalPlan, name: &str) -> Option<(&'a TableScan, String)> {
    match plan {
        LogicalPlan::TableScan(scan) => Some((scan, name.to_string())),
        LogicalPlan::Filter(filter) => source_column(&filter.input, name),
        LogicalPlan::SubqueryAlias(alias) => source_column(&alias.input, name),
        LogicalPlan::Projection(projection) => {
            let fields = projection.schema.fields();
            let position = fields.iter().position(|field| field.name() == name)?;
            match projection.expr[position].clone().unalias() {
                Expr::Column(column) => source_column(&projection.input, &column.name),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::col;

    use super::*;

    fn edge(inputs: [usize; 2], domain: f64, class: usize) -> Edge {
        Edge {
            inputs: inputs.map(|i| 1 << i),
            keys: [col(format!("k{class}_a")), col(format!("k{class}_b"))],
            domain,
            class,
            derived: false,
        }
    }

    fn input(i: usize) -> Box<Shape> {
        Box::new(Shape::Input(i))
    }

    /// Lineitem, orders and suppliers as in TPC-H Q5 at SF10: lineitem (60M) meets the filtered
    /// orders (est. 1.66M of 15M) in a smaller result than the suppliers of one region (20,000
    /// of 100,000), but every lineitem row would probe a hash table of 1.66M orders, far past
    /// the caches; the suppliers' table fits, and only the 12M rows that meet a supplier probe
    /// the orders.
    #[test]
    fn a_fact_table_probes_the_small_table_first_when_the_results_are_close() {
        let graph = JoinGraph {
            estimates: vec![
                Estimate {
                    rows: 6e7,
                    table_rows: 6e7,
                },
                Estimate {
                    rows: 1.66e6,
                    table_rows: 1.5e7,
                },
                Estimate {
                    rows: 2e4,
                    table_rows: 1e5,
                },
            ],
            edges: vec![edge([0, 1], 1.5e7, 0), edge([0, 2], 1e5, 1)],
            conditions: Vec::new(),
        };
        assert_eq!(
            graph.best_shape(),
            Some(Shape::Join(
                input(1),
                Box::new(Shape::Join(input(2), input(0)))
            ))
        );
    }

    /// With every table in the caches, the smaller result goes first, as before.
    #[test]
    fn small_tables_join_in_order_of_their_results() {
        let graph = JoinGraph {
            estimates: vec![
                Estimate {
                    rows: 6e4,
                    table_rows: 6e4,
                },
                Estimate {
                    rows: 1.6e3,
                    table_rows: 1.5e4,
                },
                Estimate {
                    rows: 2e2,
                    table_rows: 1e3,
                },
            ],
            edges: vec![edge([0, 1], 1.5e4, 0), edge([0, 2], 1e3, 1)],
            conditions: Vec::new(),
        };
        // 6e4 × 1.6e3 / 1.5e4 = 6.4e3 rows against 6e4 × 2e2 / 1e3 = 1.2e4.
        assert_eq!(
            graph.best_shape(),
            Some(Shape::Join(
                input(2),
                Box::new(Shape::Join(input(1), input(0)))
            ))
        );
    }

    /// TPC-H Q5 at SF1: customer (0), orders (1, one year of seven), lineitem (2), supplier (3),
    /// nation (4) and region (5, one of five). The suppliers of the region are the cheapest
    /// first join, and greedy choice takes them; the whole search instead lets the region's
    /// nations filter the customers (through `c_nationkey = s_nationkey = n_nationkey`), so that
    /// orders and lineitem shrink before any supplier is met, and supplier comes last.
    #[test]
    fn the_whole_search_finds_a_plan_whose_first_join_is_not_the_cheapest() {
        let estimate = |rows: f64, table_rows: f64| Estimate { rows, table_rows };
        let mut nation_key = edge([0, 3], 25.0, 3);
        nation_key.keys = [col("c_nationkey"), col("s_nationkey")];
        let mut derived = edge([0, 4], 25.0, 3);
        derived.derived = true;
        let graph = JoinGraph {
            estimates: vec![
                estimate(1.5e5, 1.5e5),
                estimate(1.66e5, 1.5e6),
                estimate(6e6, 6e6),
                estimate(1e4, 1e4),
                estimate(25.0, 25.0),
                estimate(1.0, 5.0),
            ],
            edges: vec![
                edge([0, 1], 1.5e5, 0),
                edge([1, 2], 1.5e6, 1),
                edge([2, 3], 1e4, 2),
                nation_key,
                edge([3, 4], 25.0, 3),
                derived,
                edge([4, 5], 5.0, 4),
            ],
            conditions: Vec::new(),
        };
        let joined_last = |shape: Option<Shape>| match shape {
            Some(Shape::Join(left, right)) => {
                [*left, *right].into_iter().find_map(|side| match side {
                    Shape::Input(i) => Some(i),
                    Shape::Join(..) => None,
                })
            }
            _ => None,
        };
        assert_eq!(joined_last(graph.best_shape()), Some(3));
        assert_ne!(joined_last(graph.greedy_shape()), Some(3));
    }
}
