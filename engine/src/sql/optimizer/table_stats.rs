//! How big each table a query scans is, for the join-order rule's estimates.
//!
//! DataFusion's optimizer rules are synchronous and see no statistics: a `ListingTable` reports
//! none at the logical level, and its row counts and column ranges sit in the Parquet footers
//! that physical planning reads later. So the SQL layer reads them first, after planning a
//! statement and before optimizing it, and leaves them here, where [`super::JoinOrder`] looks
//! them up. Each file table keeps what it read in the session's statistics cache, so physical
//! planning does not read the footers again.
//!
//! A size belongs to one table object, found by address. Entries hold the table weakly (a
//! dropped table's memory is not kept) and the weak reference keeps the address from being
//! reused, so a size can never be looked up for a different table.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingTable, PartitionedFile};
use datafusion::datasource::{MemTable, ViewTable, source_as_provider};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator, TableScan};

use super::dictionary_sizes::DictionarySizes;
use super::selectivity::as_number;

/// The sizes read for the tables of recent queries.
#[derive(Debug, Default)]
pub struct TableStats {
    sizes: Mutex<Vec<(Weak<dyn TableProvider>, TableSize)>>,
    dictionaries: DictionarySizes,
}

/// What is known of one table's size.
#[derive(Debug, Clone)]
pub(super) struct TableSize {
    pub rows: usize,
    /// Per column of the table's schema, its distinct values when known: the statistic itself,
    /// the width of an integer column's min..max range (an upper bound), or for a column the
    /// query compares with constants, its largest Parquet dictionary (an estimate).
    pub distinct: Vec<Option<usize>>,
    /// Per column, its least and greatest values as numbers ([`as_number`]) when its statistics
    /// give them and its type orders like numbers.
    pub ranges: Vec<Option<(f64, f64)>>,
}

impl TableStats {
    /// Reads the size of every table `plan` scans, views' tables included, when it scans enough
    /// tables for join order to matter. A table whose size cannot be read is left out: sizes
    /// only steer optimization, and the query reports any real problem when it runs.
    pub async fn collect(&self, plan: &LogicalPlan, state: &SessionState) {
        let tables = scanned_tables(plan);
        if tables.len() < 3 {
            return;
        }
        let compared = compared_columns(plan);
        for table in tables {
            if let Some(size) = self.table_size(table.as_ref(), state, &compared).await {
                self.insert(&table, size);
            }
        }
    }

    /// The size last read for the table `scan` reads, if any.
    pub(super) fn of_scan(&self, scan: &TableScan) -> Option<TableSize> {
        let table = source_as_provider(&scan.source).ok()?;
        let sizes = self.sizes.lock().expect("table sizes lock");
        sizes
            .iter()
            .find(|(known, _)| std::ptr::addr_eq(known.as_ptr(), Arc::as_ptr(&table)))
            .map(|(_, size)| size.clone())
    }

    /// The distinct values of `column` over the Parquet `files`, as their dictionaries gave them
    /// when a query compared the column with constants before ([`DictionarySizes::cached`]).
    pub(super) fn cached_distinct(
        &self,
        files: &[&PartitionedFile],
        column: &str,
    ) -> Option<usize> {
        self.dictionaries.cached(files, column)
    }

    /// A table's size: from the file footers for file tables (and, for the Parquet table's
    /// columns in `compared`, from their dictionaries), by counting rows for in-memory ones,
    /// from the table's own statistics for the rest.
    async fn table_size(
        &self,
        table: &dyn TableProvider,
        state: &SessionState,
        compared: &HashSet<String>,
    ) -> Option<TableSize> {
        let Some(files) = table.downcast_ref::<ListingTable>() else {
            let statistics = match table.downcast_ref::<MemTable>() {
                Some(memory) => {
                    let rows = memory_rows(memory).await;
                    Statistics::new_unknown(&table.schema()).with_num_rows(Precision::Exact(rows))
                }
                None => table.statistics()?,
            };
            return size_of(&statistics);
        };
        let listed = files.list_files_for_scan(state, &[], None).await.ok()?;
        let mut size = size_of(&listed.statistics)?;
        if files
            .options()
            .format
            .downcast_ref::<ParquetFormat>()
            .is_some()
        {
            let parts: Vec<&PartitionedFile> = listed
                .file_groups
                .iter()
                .flat_map(|group| group.iter())
                .collect();
            self.count_dictionaries(files, state, &parts, compared, &mut size)
                .await;
        }
        Some(size)
    }

    /// Fills in the distinct values of the columns in `compared` that have none yet, from
    /// their dictionaries in the Parquet files `parts` ([`DictionarySizes`]).
    async fn count_dictionaries(
        &self,
        files: &ListingTable,
        state: &SessionState,
        parts: &[&PartitionedFile],
        compared: &HashSet<String>,
        size: &mut TableSize,
    ) {
        let schema = files.schema();
        let wanted: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| size.distinct[i].is_none() && compared.contains(schema.field(i).name()))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let Some(Ok(store)) = files
            .table_paths()
            .first()
            .map(|url| state.runtime_env().object_store(url))
        else {
            return;
        };
        for i in wanted {
            let name = schema.field(i).name();
            size.distinct[i] = self.dictionaries.distinct(state, &store, parts, name).await;
        }
    }

    fn insert(&self, table: &Arc<dyn TableProvider>, size: TableSize) {
        let mut sizes = self.sizes.lock().expect("table sizes lock");
        sizes.retain(|(known, _)| {
            known.strong_count() > 0 && !std::ptr::addr_eq(known.as_ptr(), Arc::as_ptr(table))
        });
        sizes.push((Arc::downgrade(table), size));
    }
}

/// The tables `plan` scans, each once; a view counts as the tables it scans.
fn scanned_tables(plan: &LogicalPlan) -> Vec<Arc<dyn TableProvider>> {
    let mut tables: Vec<Arc<dyn TableProvider>> = Vec::new();
    let mut plans = vec![plan.clone()];
    while let Some(plan) = plans.pop() {
        // The closure never fails, so neither does the walk.
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && let Ok(table) = source_as_provider(&scan.source)
                && !tables.iter().any(|known| Arc::ptr_eq(known, &table))
            {
                match table.downcast_ref::<ViewTable>() {
                    Some(view) => plans.push(view.logical_plan().clone()),
                    None => tables.push(table),
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    tables
}

/// The columns `plan` compares with constants (`p_type = 'X'`, `x IN (1, 2)`), by name: those
/// whose distinct values its filters' estimates use.
fn compared_columns(plan: &LogicalPlan) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut note = |expr: &Expr| {
        let _ = expr.apply(|e| {
            let column = match e {
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::Eq,
                    right,
                }) => match (left.as_ref(), right.as_ref()) {
                    (Expr::Column(c), Expr::Literal(..)) | (Expr::Literal(..), Expr::Column(c)) => {
                        Some(c)
                    }
                    _ => None,
                },
                Expr::InList(list) => match list.expr.as_ref() {
                    Expr::Column(c) => Some(c),
                    _ => None,
                },
                _ => None,
            };
            names.extend(column.map(|c| c.name.clone()));
            Ok(TreeNodeRecursion::Continue)
        });
    };
    let _ = plan.apply_with_subqueries(|node| {
        node.expressions().iter().for_each(&mut note);
        if let LogicalPlan::TableScan(scan) = node {
            scan.filters.iter().for_each(&mut note);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

/// A table's size as its statistics give it, if they count its rows.
fn size_of(statistics: &Statistics) -> Option<TableSize> {
    Some(TableSize {
        rows: *statistics.num_rows.get_value()?,
        distinct: statistics
            .column_statistics
            .iter()
            .map(distinct_bound)
            .collect(),
        ranges: statistics
            .column_statistics
            .iter()
            .map(value_range)
            .collect(),
    })
}

/// An upper bound on a column's distinct values, from its statistics.
fn distinct_bound(column: &ColumnStatistics) -> Option<usize> {
    if let Some(distinct) = column.distinct_count.get_value() {
        return Some(*distinct);
    }
    let (min, max) = (column.min_value.get_value()?, column.max_value.get_value()?);
    let width = max
        .cast_to(&DataType::Int64)
        .ok()?
        .sub(min.cast_to(&DataType::Int64).ok()?)
        .ok()?;
    match (min.data_type().is_integer(), width) {
        (true, ScalarValue::Int64(Some(width))) => usize::try_from(width).ok()?.checked_add(1),
        _ => None,
    }
}

/// A column's least and greatest values, as numbers, from its statistics.
pub(super) fn value_range(column: &ColumnStatistics) -> Option<(f64, f64)> {
    let min = as_number(column.min_value.get_value()?)?;
    let max = as_number(column.max_value.get_value()?)?;
    (min <= max).then_some((min, max))
}

/// The rows an in-memory table holds.
pub async fn memory_rows(memory: &MemTable) -> usize {
    let mut rows = 0;
    for partition in &memory.batches {
        rows += partition
            .read()
            .await
            .iter()
            .map(|batch| batch.num_rows())
            .sum::<usize>();
    }
    rows
}
