//! Views that read the tables their names name now, as DuckDB's do.
//!
//! DataFusion binds a view once: its plan holds the table it read when it was made. After
//! `DROP TABLE t; CREATE TABLE t AS ...`, `CREATE OR REPLACE TABLE t` or an `ALTER TABLE t`,
//! a view over `t` still read the old rows, silently. Here a view keeps the statement the user
//! wrote ([`with_written_definition`]; DataFusion kept the statement after Tarn's rewrites,
//! which names tables of the moment), and after each statement that can replace a table
//! ([`changes_tables`]) every view whose plan reads a table no longer in the catalog under its
//! name is planned again from that statement ([`refresh`]). A view whose statement no longer
//! plans (its table was dropped) stays listed, and fails with the reason when read, until a
//! later statement makes it plan again. A view over files read file by file is planned again
//! by each statement that reads it ([`relist`]), so that it reads the files there are now.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, TableReference};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{MemTable, TableType, ViewTable, source_as_provider};
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::parser::Statement as DFStatement;
use sqlparser::ast::Statement;
use sqlparser::parser::Parser;

use super::catalog_functions::{VIEWS, relations};
use super::dialect::TarnDialect;
use super::files::LISTED_ONCE;
use super::rewrite::FILES_SCHEMA;
use super::{SqlSession, parse_one};
use crate::error::{Result, TarnError};

/// `plan`, a CREATE VIEW's, keeping `written` (the statement as the user wrote it) as the
/// view's definition.
pub(super) fn with_written_definition(plan: LogicalPlan, written: &str) -> LogicalPlan {
    match plan {
        LogicalPlan::Ddl(DdlStatement::CreateView(mut create)) => {
            create.definition = Some(written.trim().to_string());
            LogicalPlan::Ddl(DdlStatement::CreateView(create))
        }
        other => other,
    }
}

/// A view's statement as sqlparser writes it back (`CREATE VIEW v (q) AS SELECT 1 AS x;`),
/// which is DuckDB's spelling; as written where sqlparser alone cannot read it (syntax Tarn
/// rewrites first).
pub(super) fn respelled(written: &str) -> String {
    match Parser::parse_sql(&TarnDialect, written) {
        Ok(statements) if statements.len() == 1 => format!("{};", statements[0]),
        _ => written.to_string(),
    }
}

/// Whether a statement starting with `first_word` can replace or drop a table or view, after
/// which views are refreshed.
pub(super) fn changes_tables(first_word: &str) -> bool {
    [
        "CREATE", "DROP", "ALTER", "ROLLBACK", "ABORT", "COMMIT", "END", "IMPORT", "ATTACH",
        "DETACH",
    ]
    .iter()
    .any(|word| first_word.eq_ignore_ascii_case(word))
}

/// Plans again every view that reads a table replaced since it was planned (see the module
/// documentation). A view over another view is planned after it, in a later round.
pub(super) async fn refresh(session: &SqlSession) -> Result<()> {
    let state = session.context().state();
    let views = relations(&state, VIEWS).await?;
    // Each round plans the views found stale; one over a view planned in this round is
    // found stale in the next. A view defined over itself stays stale: the rounds end.
    for _ in 0..=views.len() {
        let mut planned_any = false;
        for view in relations(&state, VIEWS).await? {
            if !is_stale(session, &view.table).await? {
                continue;
            }
            let name = TableReference::full(view.database, view.schema, view.name);
            planned_any |= plan_again(session, name, &view.table).await?;
        }
        if !planned_any {
            break;
        }
    }
    Ok(())
}

/// Plans again each view `statement` reads, directly or through other views, whose files were
/// listed when it was planned: DuckDB lists a view's files at each query, so a file written
/// since (a new shard under `'shards/*.parquet'`) is read. A scan of files that keeps its own
/// listing (DataFusion's listing table, which lists at each scan) is left as it is; one read
/// file by file (`filename = true`, files named out of order, a narrowed glob) is not, and
/// the views over a view planned again are planned again after it ([`refresh`]). A view that
/// did not plan is tried again.
pub(super) async fn relist(session: &SqlSession, statement: &Statement) -> Result<()> {
    // Run for every statement planned: the state is read in place, not copied.
    let shared_state = session.context().state_ref();
    let statement = DFStatement::Statement(Box::new(statement.clone()));
    let mut pending = shared_state.read().resolve_table_references(&statement)?;
    let mut seen: Vec<Arc<dyn TableProvider>> = Vec::new();
    let mut listed_once = Vec::new();
    while let Some(name) = pending.pop() {
        let Ok(table) = session.context().table_provider(name.clone()).await else {
            continue;
        };
        if seen.iter().any(|known| Arc::ptr_eq(known, &table)) {
            continue;
        }
        seen.push(Arc::clone(&table));
        // A view that did not plan (its files were gone) is tried again.
        if table.downcast_ref::<UnboundView>().is_some() {
            listed_once.push((name, table));
            continue;
        }
        let Some(plan) = table.get_logical_plan() else {
            continue;
        };
        let mut reads_listed_once = false;
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let name = &scan.table_name;
                if name.table() == LISTED_ONCE {
                    reads_listed_once = true;
                } else if name.schema() == Some(FILES_SCHEMA) {
                    // Files read through another kind of table than DataFusion's listing.
                    reads_listed_once |= source_as_provider(&scan.source)
                        .is_ok_and(|read| read.downcast_ref::<ListingTable>().is_none());
                } else {
                    pending.push(name.clone());
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if reads_listed_once && table.get_table_definition().is_some() {
            listed_once.push((name, table));
        }
    }
    if listed_once.is_empty() {
        return Ok(());
    }
    let defaults = shared_state.read().config_options().catalog.clone();
    for (name, view) in listed_once {
        let name = name.resolve(&defaults.default_catalog, &defaults.default_schema);
        let name = TableReference::full(name.catalog, name.schema, name.table);
        plan_again(session, name, &view).await?;
    }
    Box::pin(refresh(session)).await
}

/// Plans `view` again from its definition and registers the new plan as `name`, or, where it
/// no longer plans, a view that fails with the reason when read; false for a view without a
/// definition, left as it is.
async fn plan_again(
    session: &SqlSession,
    name: TableReference,
    view: &Arc<dyn TableProvider>,
) -> Result<bool> {
    let Some(definition) = view.get_table_definition().map(str::to_string) else {
        return Ok(false);
    };
    let fresh: Arc<dyn TableProvider> = match planned_view(session, &definition).await {
        Ok(plan) => Arc::new(ViewTable::new(plan, Some(definition))),
        Err(err) => Arc::new(UnboundView {
            schema: view.schema(),
            definition,
            reason: Arc::new(err.into()),
        }),
    };
    let ctx = session.context();
    ctx.deregister_table(name.clone())?;
    ctx.register_table(name, Arc::clone(&fresh))?;
    super::comments::carry(ctx, view, &fresh, None);
    Ok(true)
}

/// The plan of a CREATE VIEW statement's query.
async fn planned_view(session: &SqlSession, definition: &str) -> Result<LogicalPlan> {
    let mut statement = parse_one(definition)?;
    super::current_schema::qualify_from_search_path(&mut statement, session.context());
    match session.plan_without_relisting(statement).await? {
        LogicalPlan::Ddl(DdlStatement::CreateView(create)) => Ok(create.input.as_ref().clone()),
        _ => Err(TarnError::Invalid(format!(
            "a view's definition is not a CREATE VIEW: {definition}"
        ))),
    }
}

/// Whether `view` reads a table that its name no longer stands for: one dropped, or replaced
/// by another. Scans of files (the files schema) and of table functions are not the catalog's,
/// and never stale; a view that did not plan always is, to be tried again.
async fn is_stale(session: &SqlSession, view: &Arc<dyn TableProvider>) -> Result<bool> {
    if view.downcast_ref::<UnboundView>().is_some() {
        return Ok(true);
    }
    let Some(plan) = view.get_logical_plan() else {
        return Ok(false);
    };
    let mut scans = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            scans.push((scan.table_name.clone(), Arc::clone(&scan.source)));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    for (name, source) in scans {
        if name.schema() == Some(FILES_SCHEMA) {
            continue;
        }
        let Ok(read) = source_as_provider(&source) else {
            continue;
        };
        let catalogs = read.downcast_ref::<MemTable>().is_some()
            || read.downcast_ref::<ViewTable>().is_some()
            || read.downcast_ref::<UnboundView>().is_some();
        if !catalogs {
            continue;
        }
        match session.context().table_provider(name).await {
            Ok(now) if Arc::ptr_eq(&now, &read) => {}
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// A view whose statement no longer plans: listed with its columns and definition, failing
/// with the reason when read.
#[derive(Debug)]
struct UnboundView {
    schema: SchemaRef,
    definition: String,
    /// Why its statement did not plan, shared by every read.
    reason: Arc<DataFusionError>,
}

#[async_trait]
impl TableProvider for UnboundView {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn get_table_definition(&self) -> Option<&str> {
        Some(&self.definition)
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Shared(Arc::clone(&self.reason)))
    }
}
