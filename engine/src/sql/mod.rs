//! The DuckDB-like SQL layer: one [`SqlSession`] runs statements one at a time, rewriting the
//! DuckDB syntax DataFusion lacks (file paths in FROM, `COPY ... (FORMAT ...)`, `SUMMARIZE`,
//! `DESCRIBE`, `ATTACH`, settings) and handing the rest to DataFusion with the duckdb dialect.

mod age;
mod alias_reuse;
mod alter_table;
mod approx_quantile;
mod arg_best;
pub(crate) mod args;
mod array_value;
pub(crate) mod asof_join;
mod attach;
mod bar;
mod bigint_counts;
mod bits;
mod byte_codecs;
mod byte_sizes;
mod call_comparisons;
mod cast_names;
mod catalog_functions;
mod check_constraints;
mod checked_reads;
mod checked_sum;
mod collation;
mod column_lambdas;
mod comments;
mod contains;
mod copy;
mod copy_files;
mod copy_from;
mod csv_formats;
mod cte_hints;
mod current_schema;
mod current_time;
mod date_diff;
mod date_part_list;
mod date_periods;
mod date_trunc;
mod decimal_avg;
mod describe;
pub(crate) mod dialect;
mod digests;
mod duckdb_functions;
mod duckdb_hash;
mod duckdb_keywords;
pub mod duckdb_text;
mod eplb_table;
mod epoch;
mod error_function;
mod expand;
mod explain;
mod export_database;
mod expression_names;
mod file_contents;
mod file_schemas;
pub(crate) mod files;
mod filter_clause;
mod float_extremes;
mod format;
mod function_names;
mod functions;
mod generated_columns;
mod glob_match;
mod implicit_operands;
mod indexes;
mod insert_by_name;
mod insert_casts;
mod insert_defaults;
pub(crate) mod integer_text;
mod interval_times;
mod json;
mod json_tables;
mod kahan_sum;
mod lateral_limit;
mod lateral_unnest;
mod like_patterns;
mod limit_percent;
mod list_aggregate;
mod list_concat;
mod list_lambdas;
mod list_reduce;
mod list_sum;
mod macros;
mod map_concat;
mod map_extract;
mod map_from_entries;
mod map_types;
mod merge;
mod metadata;
mod name_case;
mod named_windows;
mod natural_join;
mod near_duplicates;
mod nested_rounding;
mod next_after;
mod null_treatment;
mod numbered_rows;
mod octet_length;
pub(crate) mod optimizer;
mod ordered_aggregates;
mod ordinality;
mod partial_aliases;
mod path_parts;
mod pivot;
mod positional_join;
mod qualify_windows;
mod quantified_comparisons;
mod random_seed;
mod repeat;
mod returning;
mod rewrite;
mod routing;
mod row_in_subquery;
mod row_structs;
mod samples;
mod scalar_args;
mod schema_views;
mod scoring;
mod sequences;
mod series_times;
mod set_operations;
mod settings;
mod sign;
mod slice;
mod sniff;
mod split;
mod square_root;
mod statement_tables;
mod statistics;
mod string_split;
mod strptime;
mod struct_fields;
mod struct_subscripts;
mod substring;
mod table_functions;
mod table_keys;
mod text_functions;
mod time_bucket;
mod to_base;
mod to_timestamp;
mod tokens;
mod transactions;
mod try_expr;
pub mod types;
mod undefined_statistics;
mod unnest_levels;
mod upsert;
mod user_macros;
mod using_join;
mod uuid_v7;
mod values_names;
mod variables;
mod vector_metrics;
mod vectors;
mod views;
mod weight_files;

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemTable, MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::config::{ExecutionOptions, OptimizerOptions};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{AggregateUDF, HigherOrderUDF, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use futures::StreamExt;
use sqlparser::ast::{DescribeAlias, Expr, ObjectType, Set, Statement, TableFactor, Use, Value};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

pub use split::{is_blank, is_complete, split_statements};
pub use table_functions::{TABLE_FUNCTIONS, parse_sql_type};

use crate::config::TarnConfig;
use crate::error::{Result, TarnError};

/// The catalog and schema tables are created in, named as DuckDB names them.
pub const DEFAULT_CATALOG: &str = "memory";
pub const DEFAULT_SCHEMA: &str = "main";

/// A SQL session: a DataFusion context configured like DuckDB, plus Tarn's settings.
pub struct SqlSession {
    ctx: SessionContext,
    config: TarnConfig,
    /// The macros CREATE MACRO defined, expanded in every statement planned afterwards.
    macros: user_macros::UserMacros,
    /// The sequences CREATE SEQUENCE defined, which `nextval` and `currval` read.
    sequences: Arc<sequences::Sequences>,
    /// The transaction BEGIN opened, until COMMIT or ROLLBACK.
    transaction: Option<transactions::Transaction>,
    /// The values SET VARIABLE gave, which `getvariable` reads.
    variables: Arc<variables::Variables>,
    /// The names CREATE INDEX recorded (Tarn keeps no index structures).
    indexes: indexes::Indexes,
}

impl SqlSession {
    /// A session with the given settings and an empty `memory.main` schema.
    pub fn new(config: TarnConfig) -> Result<Self> {
        let runtime = runtime_env(&config)?;
        Self::with_runtime(config, runtime)
    }

    /// A session that shares `runtime` (its memory pool, spill folder and object stores) with
    /// others: each task of a partitioned job gets its own session over the job's runtime.
    pub fn with_runtime(config: TarnConfig, runtime: Arc<RuntimeEnv>) -> Result<Self> {
        let mut session_config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema(DEFAULT_CATALOG, DEFAULT_SCHEMA);
        session_config = with_resources(session_config, &config, &config);
        let options = session_config.options_mut();
        options.set("datafusion.sql_parser.dialect", "duckdb")?;
        options.set("datafusion.sql_parser.default_null_ordering", "nulls_last")?;
        // `0.1 + 0.2` is exactly 0.3 in DuckDB: its decimal literals are DECIMAL, not DOUBLE.
        options.set("datafusion.sql_parser.parse_float_as_decimal", "true")?;
        options.set("datafusion.explain.format", "tree")?;
        // A folder means every file under it, hive partition folders included.
        options.set(
            "datafusion.execution.listing_table_ignore_subdirectory",
            "false",
        )?;
        let state = tarn_state(session_config, runtime);
        keep_insertion_order(&state, config.preserve_insertion_order);
        let ctx = match &config.cluster {
            None => SessionContext::new_with_state(state),
            Some(url) => {
                // Ballista's planner sends each query's plan to the scheduler; the upgrade
                // replaces the state's functions with DataFusion's, so Tarn's go back in.
                let ctx = SessionContext::new_with_state(crate::cluster::remote_state(state, url)?);
                register_functions(&ctx);
                ctx
            }
        };
        ctx.catalog(DEFAULT_CATALOG)
            .expect("the default catalog exists")
            .register_schema(rewrite::FILES_SCHEMA, Arc::new(MemorySchemaProvider::new()))?;
        let sequences = Arc::new(sequences::Sequences::default());
        sequences.register(&ctx);
        let variables = Arc::new(variables::Variables::default());
        variables.register(&ctx);
        Ok(SqlSession {
            ctx,
            config,
            macros: user_macros::UserMacros::default(),
            sequences,
            transaction: None,
            variables,
            indexes: indexes::Indexes::default(),
        })
    }

    /// The DataFusion context, for registering tables and functions.
    /// Whether a transaction BEGIN opened is still open.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The settings in force.
    pub fn config(&self) -> &TarnConfig {
        &self.config
    }

    /// Runs every statement in `sql` and returns the last one's rows.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut last = Vec::new();
        for statement in split_statements(sql)? {
            let stream = self.execute(&statement).await?;
            last = collect(stream).await?;
        }
        Ok(last)
    }

    /// Runs one statement (without its semicolon) and streams its result; statements with no
    /// result (DDL, settings) give an empty stream with an empty schema. Inside a transaction
    /// (`transactions`), a statement that fails aborts it.
    pub async fn execute(&mut self, statement: &str) -> Result<SendableRecordBatchStream> {
        if let Some(control) = transactions::Control::of(statement) {
            let result = self.control_transaction(control).await;
            if views::changes_tables(split_first_word(statement).0) {
                // A rollback puts back the tables a view read before it.
                Box::pin(views::refresh(self)).await?;
            }
            return result;
        }
        if self.transaction.as_ref().is_some_and(|t| t.is_aborted()) {
            return Err(transactions::aborted_error());
        }
        // Boxed: its future would swell every caller's.
        let result = Box::pin(self.execute_statement(statement)).await;
        if views::changes_tables(split_first_word(statement).0) {
            // Boxed: it plans views, and that future would swell every caller's.
            Box::pin(views::refresh(self)).await?;
        }
        match (&self.transaction, result) {
            (Some(open), Err(err)) => {
                open.abort();
                Err(err)
            }
            (Some(open), Ok(stream)) => Ok(open.watch(stream)),
            (None, result) => result,
        }
    }

    /// BEGIN, COMMIT or ROLLBACK, with DuckDB's answers where one comes out of turn (a COMMIT
    /// of an aborted transaction rolls it back).
    async fn control_transaction(
        &mut self,
        control: transactions::Control,
    ) -> Result<SendableRecordBatchStream> {
        use transactions::Control;
        let refused = |message: &str| Err(TarnError::Transaction(message.to_string()));
        match (control, self.transaction.take()) {
            (Control::Begin, None) => {
                let open =
                    transactions::Transaction::begin(&self.ctx, DEFAULT_CATALOG, &self.macros)
                        .await?;
                self.transaction = Some(open);
            }
            (Control::Begin, Some(open)) => {
                open.abort();
                self.transaction = Some(open);
                return refused("cannot start a transaction within a transaction");
            }
            (Control::Commit, Some(open)) if !open.is_aborted() => {}
            (Control::Commit | Control::Rollback, Some(open)) => {
                self.macros = open.roll_back().await?;
            }
            (Control::Commit, None) => return refused("cannot commit - no transaction is active"),
            (Control::Rollback, None) => {
                return refused("cannot rollback - no transaction is active");
            }
        }
        Ok(empty_stream())
    }

    /// `SET VARIABLE name = expr` (the expression's one value stored) or `RESET VARIABLE name`.
    async fn run_variable_statement(
        &self,
        statement: variables::VariableStatement,
    ) -> Result<SendableRecordBatchStream> {
        match statement {
            variables::VariableStatement::Set(name, expr) => {
                let select = parse_one(&format!("SELECT {expr}"))?;
                let batches = collect(self.run_statement(select).await?).await?;
                let value = match batches.iter().find(|b| b.num_rows() > 0) {
                    Some(batch) if batch.num_columns() == 1 => {
                        ScalarValue::try_from_array(batch.column(0), 0)?
                    }
                    _ => {
                        return Err(TarnError::Invalid(format!(
                            "SET VARIABLE {name}: the value must be one expression"
                        )));
                    }
                };
                self.variables.set(&name, value);
            }
            variables::VariableStatement::Reset(name) => self.variables.reset(&name),
        }
        Ok(empty_stream())
    }

    /// [`Self::execute`] outside of transaction control.
    async fn execute_statement(&mut self, statement: &str) -> Result<SendableRecordBatchStream> {
        if let Some(variable) = variables::VariableStatement::of(statement) {
            return self.run_variable_statement(variable).await;
        }
        if let Some(replaced) = statement_tables::replace(self, statement).await? {
            let result = Box::pin(self.execute_statement(&replaced.sql)).await;
            statement_tables::forget(self, &replaced.answers)?;
            return result;
        }
        let (first, rest) = split_first_word(statement);
        match first.to_ascii_uppercase().as_str() {
            "SUMMARIZE" => return describe::summarize(self, rest).await,
            // DuckDB's `SHOW name` describes a table; `SHOW ALL TABLES` lists them all,
            // `SHOW DATABASES` the databases. Any other name is a setting, for DataFusion to
            // show.
            "SHOW" => {
                let target = rest.trim().trim_end_matches(';').trim();
                if target.eq_ignore_ascii_case("ALL TABLES") {
                    return describe::show_all_tables(self).await;
                }
                if target.eq_ignore_ascii_case("DATABASES") {
                    let query = "SELECT database_name FROM duckdb_databases() ORDER BY 1";
                    return Ok(self.dataframe(query).await?.execute_stream().await?);
                }
                if !target.eq_ignore_ascii_case("TABLES")
                    && self.ctx.table_exist(target).unwrap_or(false)
                {
                    let query = format!("SELECT * FROM {target}");
                    return describe::describe(self, &query, Some(target)).await;
                }
            }
            "COPY" => {
                return match copy_from::as_insert(statement)? {
                    Some(copy) => {
                        let insert = parse_one(&copy.insert)?;
                        self.run_statement(insert)
                            .await
                            .map_err(|e| copy.explain(e))
                    }
                    None => copy::copy(self, statement).await,
                };
            }
            "EXPORT" | "IMPORT" => match export_database::DatabaseStatement::of(statement)? {
                Some(export_database::DatabaseStatement::Export { folder, format }) => {
                    export_database::export(self, &folder, format).await?;
                    return Ok(empty_stream());
                }
                Some(export_database::DatabaseStatement::Import { folder }) => {
                    Box::pin(export_database::import(self, &folder)).await?;
                    return Ok(empty_stream());
                }
                None => {}
            },
            "MERGE" | "WITH" if merge::is_merge(statement) => {
                // Boxed: its future would swell every statement's.
                return Box::pin(merge::merge(self, statement)).await;
            }
            "PIVOT" => return pivot::pivot(self, statement).await,
            "UNPIVOT" => return pivot::unpivot(self, statement).await,
            "INSERT" => {
                if let Some(insert) = insert_by_name::plain_insert(self, statement).await? {
                    return self.run_statement(parse_one(&insert)?).await;
                }
            }
            "CREATE" if self.sequences.create(statement)? => return Ok(empty_stream()),
            "DROP" => {
                if let Some((name, if_exists)) = user_macros::drop_macro_statement(rest) {
                    self.macros.drop(&name, if_exists)?;
                    return Ok(empty_stream());
                }
            }
            _ => {}
        }
        let written = statement;
        let mut statement = parse_one(statement)?;
        current_schema::qualify_from_search_path(&mut statement, &self.ctx);
        match statement {
            create @ Statement::CreateView(_) => {
                let plan = views::with_written_definition(self.plan(create).await?, written);
                self.run_plan(plan).await
            }
            Statement::ExplainTable {
                describe_alias: DescribeAlias::Describe | DescribeAlias::Desc,
                table_name,
                ..
            } => {
                let table = table_name.to_string();
                describe::describe(self, &format!("SELECT * FROM {table}"), Some(&table)).await
            }
            Statement::Explain {
                describe_alias: DescribeAlias::Describe | DescribeAlias::Desc,
                statement,
                ..
            } => describe::describe(self, &statement.to_string(), None).await,
            Statement::Explain {
                describe_alias: DescribeAlias::Explain,
                analyze: true,
                statement,
                ..
            } => explain::explain_analyze(self, &statement.to_string()).await,
            Statement::ShowTables { .. } => describe::show_tables(self).await,
            Statement::Drop {
                object_type: ObjectType::Sequence,
                if_exists,
                names,
                ..
            } => {
                for name in &names {
                    self.sequences.remove(name, if_exists)?;
                }
                Ok(empty_stream())
            }
            Statement::CreateIndex(create) => {
                self.indexes.create(self, &create).await?;
                Ok(empty_stream())
            }
            Statement::Drop {
                object_type: ObjectType::Index,
                if_exists,
                names,
                ..
            } => {
                self.indexes.drop(&names, if_exists)?;
                Ok(empty_stream())
            }
            Statement::AlterTable(alter) => alter_table::alter_table(self, alter).await,
            // A session's tables are all in memory and its own: a temporary one is a table.
            Statement::CreateTable(mut create) => {
                create.temporary = false;
                // IF NOT EXISTS leaves a table that exists as it was declared.
                let name = create.name.to_string();
                let exists = create.if_not_exists && self.ctx.table_exist(name.as_str())?;
                let made_by_query = create.query.is_some() && !exists;
                name_case::keep_declared_case(&mut create);
                create
                    .columns
                    .iter()
                    .try_for_each(generated_columns::refuse_generated_column)?;
                let checks = check_constraints::take(&mut create);
                let result = self.run_statement(Statement::CreateTable(create)).await?;
                if made_by_query {
                    alter_table::take_nulls(self, &name).await?;
                }
                if !checks.is_empty() && !exists {
                    let table = self.ctx.table_provider(name.as_str()).await?;
                    if let Some(kept) = self
                        .ctx
                        .state()
                        .config()
                        .get_extension::<check_constraints::TableChecks>()
                    {
                        kept.record(&table, checks);
                    }
                }
                Ok(result)
            }
            Statement::CreateMacro {
                or_replace,
                name,
                args,
                definition,
                ..
            } => {
                self.macros.create(&name, or_replace, args, definition)?;
                Ok(empty_stream())
            }
            Statement::AttachDuckDBDatabase {
                database_path,
                database_alias,
                ..
            } => {
                let alias = database_alias.map(|a| a.value);
                attach::attach(self, &database_path.value, alias.as_deref()).await
            }
            Statement::Comment {
                object_type,
                object_name,
                comment,
                if_exists,
            } => {
                comments::comment_on(self, object_type, &object_name, comment, if_exists).await?;
                Ok(empty_stream())
            }
            Statement::Use(Use::Object(name)) => {
                current_schema::use_schema(self, &name)?;
                Ok(empty_stream())
            }
            Statement::Set(Set::SingleAssignment {
                variable, values, ..
            }) if values.len() == 1 => {
                let name = variable.to_string();
                let value = setting_text(&values[0]);
                if current_schema::is_schema_setting(&name) {
                    current_schema::set(self, &name, &value)?;
                    return Ok(empty_stream());
                }
                let mut config = self.config.clone();
                if config.set(&name, &value)? {
                    self.apply_config(config)?;
                    Ok(empty_stream())
                } else {
                    self.run_statement(Statement::Set(Set::SingleAssignment {
                        scope: None,
                        hivevar: false,
                        variable,
                        values,
                    }))
                    .await
                }
            }
            other => self.run_statement(other).await,
        }
    }

    /// Plans a query text as DuckDB would read it and returns it as a DataFusion DataFrame.
    pub async fn dataframe(&self, query: &str) -> Result<DataFrame> {
        let plan = self.plan(parse_one(query)?).await?;
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// The names of the tables and views in the default schema, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names = self
            .ctx
            .catalog(DEFAULT_CATALOG)
            .and_then(|c| c.schema(DEFAULT_SCHEMA))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    async fn run_statement(&self, statement: Statement) -> Result<SendableRecordBatchStream> {
        if numbered_rows::runs_here(&statement) {
            // Boxed: its future would swell every statement's.
            return Box::pin(numbered_rows::run(self, &statement)).await;
        }
        if matches!(statement, Statement::Insert(_) | Statement::Update(_)) {
            // Boxed: its future would swell every statement's.
            return Box::pin(self.run_on_table_rules(statement)).await;
        }
        self.run_plan(self.plan(statement).await?).await
    }

    /// Runs `query` with `table` known as `name` in the files schema while it is planned:
    /// how a statement reads rows the layer holds aside (a table's rows numbered, the rows
    /// a statement changed). The plan holds the table, so the name is dropped once planned.
    async fn query_over(
        &self,
        name: &str,
        table: Arc<dyn TableProvider>,
        query: &str,
    ) -> Result<SendableRecordBatchStream> {
        let files = files_schema(&self.ctx);
        files.register_table(name.to_string(), table)?;
        let plan = async { self.plan(parse_one(query)?).await }.await;
        files.deregister_table(name)?;
        self.run_plan(plan?).await
    }

    async fn run_plan(&self, plan: LogicalPlan) -> Result<SendableRecordBatchStream> {
        let frame = self.ctx.execute_logical_plan(plan).await?;
        Ok(frame.execute_stream().await?)
    }

    /// Runs an INSERT or UPDATE, checking the rows it leaves where its table has keys or NOT
    /// NULL columns, or the INSERT has a conflict clause.
    async fn run_on_table_rules(&self, statement: Statement) -> Result<SendableRecordBatchStream> {
        let checked = match &statement {
            Statement::Insert(insert) => upsert::insert(self, insert).await?,
            Statement::Update(update) => {
                let rules = match &update.table.relation {
                    TableFactor::Table { name, .. } => {
                        table_keys::TableRules::of(&self.ctx, &name.to_string()).await?
                    }
                    _ => None,
                };
                match rules {
                    Some(rules) if !rules.is_free() => {
                        let run = async || {
                            let plan = self.plan(statement.clone()).await?;
                            collect(self.run_plan(plan).await?).await
                        };
                        Some(table_keys::guarded_update(&rules, run).await?)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match checked {
            Some(stream) => Ok(stream),
            None => self.run_plan(self.plan(statement).await?).await,
        }
    }

    /// Rewrites a statement, resolves the files it names and plans it, the views it reads
    /// listing their files again where they must ([`views::relist`]).
    async fn plan(&self, mut statement: Statement) -> Result<LogicalPlan> {
        // Before the views it reads are looked up by name.
        current_schema::qualify_from_search_path(&mut statement, &self.ctx);
        // Boxed: it plans views, and that future would swell every caller's.
        Box::pin(views::relist(self, &statement)).await?;
        self.plan_without_relisting(statement).await
    }

    /// [`Self::plan`] with the views as they are, for planning a view itself; its names are
    /// qualified from the search path already.
    async fn plan_without_relisting(&self, mut statement: Statement) -> Result<LogicalPlan> {
        let ctx = &self.ctx;
        limit_percent::resolve(&mut statement, self).await?;
        self.macros.expand(&mut statement)?;
        row_in_subquery::as_exists(&mut statement)?;
        insert_defaults::fill_defaults(&mut statement, ctx).await?;
        json_tables::as_unnests(&mut statement)?;
        let rewritten = rewrite::rewrite(&mut statement, &|name| {
            ctx.table_exist(name).unwrap_or(false)
        })?;
        let state = ctx.state();
        let files = files_schema(ctx);
        let mut registered = Vec::with_capacity(rewritten.files.len());
        let result = async {
            for (placeholder, function) in &rewritten.files {
                let table = function.resolve(&state).await?;
                files.register_table(placeholder.clone(), table)?;
                registered.push(placeholder.clone());
            }
            name_case::match_case(&mut statement, &state).await?;
            insert_casts::cast_nested_text(&mut statement, &state).await?;
            named_windows::inline(&mut statement)?;
            // Boxed: it plans aliased relations, and that future would swell `plan`'s.
            Box::pin(partial_aliases::complete(&mut statement, &state)).await?;
            // Boxed: it plans the joined relations, and that future would swell `plan`'s.
            Box::pin(natural_join::as_using(&mut statement, &state)).await?;
            using_join::merge_using_columns(&mut statement)?;
            name_case::match_qualified(&mut statement, &state).await?;
            // Boxed: it plans the tables lateral factors read, and that future would swell
            // `plan`'s.
            Box::pin(lateral_unnest::inline(&mut statement, &state, &|name| {
                state.aggregate_functions().contains_key(name)
            }))
            .await?;
            // Boxed: it plans the joined relations, and that future would swell `plan`'s.
            Box::pin(asof_join::qualify_bare_names(&mut statement, &state)).await?;
            asof_join::plan_as_joins(&mut statement)?;
            positional_join::plan_as_joins(&mut statement, &|name| {
                state.aggregate_functions().contains_key(name)
            })?;
            lateral_limit::rank_limits(&mut statement)?;
            samples::seeded_positions(&mut statement, &state).await?;
            pivot::standard_forms(&mut statement, &state).await?;
            expand::expand_select_lists(&mut statement, &state).await?;
            rewrite::name_columns(&mut statement);
            quantified_comparisons::as_exists(&mut statement)?;
            // After the columns are named, so that they keep the call's name.
            settings::current_settings(&mut statement, &state)?;
            // Boxed: it plans the unnested values, and that future would swell `plan`'s.
            Box::pin(unnest_levels::nest_unnests(&mut statement, &state)).await?;
            alias_reuse::substitute_aliases(&mut statement, &state).await?;
            rewrite::duckdb_operators(&mut statement)?;
            collation::mark_collations(&mut statement)?;
            function_names::duckdb_calls(&mut statement, &|name| {
                state.higher_order_functions().contains_key(name)
            });
            scalar_args::positional_settings(&mut statement)?;
            cast_names::name_casts(&mut statement);
            // Boxed: they plan the inputs, and those futures would swell every `plan`'s.
            Box::pin(set_operations::match_names_by_case(&mut statement, &state)).await?;
            Box::pin(set_operations::count_duplicates(&mut statement, &state)).await?;
            expand::order_by_all_over_stars(&mut statement, &state).await?;
            qualify_windows::name_select_window(&mut statement)?;
            let plan = state
                .statement_to_plan(DFStatement::Statement(Box::new(statement)))
                .await?;
            let plan = optimizer::written_casts(plan)?;
            let plan = optimizer::literal_types(plan)?;
            if let Some(tables) = state.config().get_extension::<optimizer::TableStats>() {
                tables.collect(&plan, &state).await;
            }
            match self.config.cluster {
                Some(_) => crate::cluster::ready_for_cluster(plan, &state).await,
                None => Ok::<_, TarnError>(plan),
            }
        }
        .await;
        // The plan holds the tables it scans; the names were only needed while planning.
        for placeholder in registered {
            files.deregister_table(&placeholder)?;
        }
        result
    }

    /// Rebuilds the context's resources for new settings (`SET threads | memory_limit |
    /// temp_directory`), keeping its catalogs, tables and functions.
    fn apply_config(&mut self, config: TarnConfig) -> Result<()> {
        let state = self.ctx.state();
        // The catalogs carry over from the old state; a fresh default one would hide them.
        let session_config = with_resources(state.config().clone(), &self.config, &config)
            .with_create_default_catalog_and_schema(false);
        let state = SessionStateBuilder::new_from_existing(state)
            .with_config(session_config)
            .with_runtime_env(runtime_env(&config)?)
            .build();
        keep_insertion_order(&state, config.preserve_insertion_order);
        self.ctx = SessionContext::new_with_state(state);
        self.config = config;
        Ok(())
    }
}

/// A DataFusion state with what Tarn adds to SQL: its optimizer rules and functions. A cluster's
/// scheduler and executors build their sessions with it too, so plans mean the same there.
pub(crate) fn tarn_state(session_config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionState {
    // The session reads table sizes into `tables` before optimizing; the join-order rule reads
    // them there.
    let tables = Arc::new(optimizer::TableStats::default());
    // The session sets it from `SET preserve_insertion_order`; the insertion-order rule reads it.
    let keep_order = Arc::new(optimizer::KeepInsertionOrder::default());
    let session_config = session_config
        .with_extension(Arc::clone(&tables))
        .with_extension(Arc::clone(&keep_order))
        .with_extension(Arc::new(check_constraints::TableChecks::default()))
        .with_extension(Arc::new(comments::Comments::default()));
    let mut state = SessionStateBuilder::new()
        .with_config(session_config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_query_planner(Arc::new(asof_join::TarnQueryPlanner))
        .with_type_planner(Arc::new(types::DuckDbTypes));
    // Before DataFusion's, which would plan `text[i]` as a list's element, compare a map's
    // keys with a constant of another type, read a NULL list in `||` as an empty one, and
    // refuse a number beside `||` or `AND`.
    if let Some(planners) = state.expr_planners() {
        planners.insert(0, Arc::new(implicit_operands::ImplicitOperands));
        planners.insert(0, Arc::new(slice::TextSubscripts::default()));
        planners.insert(0, Arc::new(map_extract::MapSubscripts));
        planners.insert(0, Arc::new(struct_subscripts::StructSubscripts));
        planners.insert(0, Arc::new(list_concat::ListConcatenation));
    }
    state = state.with_analyzer_rules(optimizer::analyzer_rules());
    state = state
        .with_physical_optimizer_rules(optimizer::physical_rules(Arc::clone(&tables), keep_order));
    for rule in optimizer::rules(tables) {
        state = state.with_optimizer_rule(rule);
    }
    let ctx = SessionContext::new_with_state(state.build());
    register_functions(&ctx);
    series_times::register(&ctx);
    ctx.state()
}

/// Passes `preserve_insertion_order` on to the rule of `state` that reads it.
fn keep_insertion_order(state: &SessionState, keep: bool) {
    if let Some(setting) = state
        .config()
        .get_extension::<optimizer::KeepInsertionOrder>()
    {
        setting.set(keep);
    }
}

/// Tarn's SQL functions: DuckDB's division and `avg`, vectors and embeddings, MoE routing.
fn register_functions(ctx: &SessionContext) {
    function_names::register_aliases(ctx);
    functions::register(ctx);
    asof_join::register(ctx);
    statistics::register(ctx);
    text_functions::register(ctx);
    format::register(ctx);
    json::register(ctx);
    byte_codecs::register(ctx);
    byte_sizes::register(ctx);
    epoch::register(ctx);
    integer_text::register(ctx);
    cast_names::register(ctx);
    checked_reads::register(ctx);
    collation::register(ctx);
    time_bucket::register(ctx);
    random_seed::register(ctx);
    let functions = [
        ScalarUDF::from(list_sum::ListSum::new()),
        ScalarUDF::from(array_value::ArrayValue::new()),
        ScalarUDF::from(slice::TextOrList::new(slice::Subscript::Slice)),
        ScalarUDF::from(slice::TextOrList::new(slice::Subscript::Element)),
        ScalarUDF::from(repeat::Repeat::new()),
        ScalarUDF::from(contains::Contains::new()),
        ScalarUDF::from(to_base::ToBase::new()),
        ScalarUDF::from(error_function::ErrorFunction::new()),
        ScalarUDF::from(uuid_v7::UuidV7::new()),
        ScalarUDF::from(schema_views::SqlTypeName::new()),
        ScalarUDF::from(age::Age::new()),
        ScalarUDF::from(bits::BitCount::new()),
        ScalarUDF::from(bits::BitwiseNot::new()),
        ScalarUDF::from(glob_match::GlobMatch::new()),
        ScalarUDF::from(next_after::NextAfter::new()),
        ScalarUDF::from(square_root::SquareRoot::new()),
        ScalarUDF::from(sign::Sign::new()),
        ScalarUDF::from(current_time::Now::new()),
        ScalarUDF::from(to_timestamp::ToTimestamp::new()),
        ScalarUDF::from(octet_length::OctetLength::new()),
        ScalarUDF::from(digests::Sha1Digest::new()),
        ScalarUDF::from(digests::Md5Number::new(digests::Md5Part::Whole)),
        ScalarUDF::from(digests::Md5Number::new(digests::Md5Part::Upper)),
        ScalarUDF::from(digests::Md5Number::new(digests::Md5Part::Lower)),
        ScalarUDF::from(map_from_entries::MapFromEntries::new()),
        ScalarUDF::from(map_concat::MapConcat::new()),
        ScalarUDF::from(map_extract::MapExtract::new()),
        ScalarUDF::from(duckdb_hash::DuckDbHash::new()),
        ScalarUDF::from(duckdb_text::DuckDbText::new()),
        ScalarUDF::from(date_diff::DateDiff::new(date_diff::Counting::Boundaries)),
        ScalarUDF::from(date_diff::DateDiff::new(date_diff::Counting::WholeParts)),
        ScalarUDF::from(date_trunc::DateTrunc::new()),
        ScalarUDF::from(substring::DuckSubstring::new()),
        ScalarUDF::from(strptime::Strptime::new(false)),
        ScalarUDF::from(strptime::Strptime::new(true)),
        ScalarUDF::from(interval_times::IntervalTimes::new()),
        ScalarUDF::from(bar::Bar::new()),
        ScalarUDF::from(struct_fields::StructJoin::new(
            struct_fields::Joined::Insert,
        )),
        ScalarUDF::from(struct_fields::StructJoin::new(
            struct_fields::Joined::Concat,
        )),
        ScalarUDF::from(struct_fields::StructKeys::new()),
    ];
    for function in functions.into_iter().chain(path_parts::functions()) {
        ctx.register_udf(function);
    }
    ctx.register_higher_order_function(Arc::new(HigherOrderUDF::new_from_impl(
        list_reduce::ListReduce::new(),
    )));
    for list_lambda in [
        list_lambdas::ListLambda::transform(),
        list_lambdas::ListLambda::filter(),
    ] {
        ctx.register_higher_order_function(Arc::new(HigherOrderUDF::new_from_impl(list_lambda)));
    }
    ctx.register_higher_order_function(Arc::new(HigherOrderUDF::new_from_impl(
        try_expr::TryOrNull::new(),
    )));
    ctx.register_udf(ScalarUDF::from(list_concat::ListConcat::new()));
    ctx.register_udaf(AggregateUDF::from(kahan_sum::KahanSum::new()));
    for extreme in float_extremes::functions() {
        ctx.register_udaf(extreme);
    }
    for best in [arg_best::Best::Max, arg_best::Best::Min] {
        ctx.register_udaf(AggregateUDF::from(arg_best::ArgBest::new(best)));
    }
    ctx.register_udaf(AggregateUDF::from(approx_quantile::ApproxQuantile::new()));
    for undefined_as_nan in [
        datafusion::functions_aggregate::correlation::corr_udaf(),
        datafusion::functions_aggregate::regr::regr_slope_udaf(),
    ] {
        let wrapped = undefined_statistics::NanWhenUndefined::new(undefined_as_nan);
        ctx.register_udaf(AggregateUDF::from(wrapped));
    }
    vectors::register(ctx);
    vector_metrics::register(ctx);
    routing::register(ctx);
    scoring::register(ctx);
    near_duplicates::register(ctx);
    bigint_counts::register(ctx);
    // Last: it runs any aggregate registered before it.
    list_aggregate::register(ctx);
}

/// Build-side rows (over all threads) up to which a hash join builds one shared table; see
/// [`with_resources`].
const SHARED_BUILD_ROWS: usize = 20_000_000;

/// The largest build side, in rows and in bytes, that gets one shared hash table on `threads`.
fn shared_build_limits(threads: usize) -> (usize, usize) {
    let rows = SHARED_BUILD_ROWS / threads.max(1);
    (rows, 100 * rows)
}

/// Bytes, over all threads, that the key-indexed arrays of one join may take; see
/// [`direct_lookup_range`].
const DIRECT_LOOKUP_BYTES: usize = 32 << 20;

/// The widest range of build-side keys (max - min) for which a hash join on one integer key
/// answers each probe row from an array indexed by key (DataFusion's "perfect hash join", 4
/// bytes per key in the range) rather than from its hash table.
///
/// DataFusion takes the array only for ranges under 1024 keys or keys filling 15% of their
/// range. Its hash table is slow to miss when small and full: TPC-H Q17 probes 6M lineitem rows
/// against the 204 parts of one brand and container, 49 ms of join time on 2 threads where 93
/// parts took 21 ms and 111 took 68 ms (SF1), while the array over all 200K part keys answers
/// in 10 ms and Q17 runs in 0.75 of the time. The range is bounded so that the arrays of one
/// join (one per thread when the build side is partitioned) stay within
/// [`DIRECT_LOOKUP_BYTES`] and a sixteenth of the memory limit.
fn direct_lookup_range(config: &TarnConfig) -> usize {
    let limit = config
        .memory_limit
        .map_or(usize::MAX, |bytes| bytes as usize / 16);
    let bytes = DIRECT_LOOKUP_BYTES.min(limit) / config.threads.max(1);
    let datafusion_default = ExecutionOptions::default().perfect_hash_join_small_build_threshold;
    (bytes / size_of::<u32>()).max(datafusion_default)
}

/// Partitions per query follow `threads`; each sort's merge reservation is scaled down under a
/// small memory limit (DataFusion reserves 10 MB per partition, which alone would exhaust a
/// 24 MB limit before anything spills).
///
/// A hash join builds one table for all threads ("collect left") up to a build side of
/// [`SHARED_BUILD_ROWS`] rows (and as many hundred bytes) divided by the thread count, where
/// DataFusion's defaults (128K rows, 1 MB) hash-repartition both sides beyond that: on few
/// threads, moving every probe row between threads costs more than building the table on one
/// (TPC-H at SF10 on 2 threads: Q3, Q5, Q8, Q9 and Q18 13-16% faster, none slower). A join on
/// one integer key looks its keys up in an array over their range up to
/// [`direct_lookup_range`]. Limits a user set with `SET datafusion…` stay: each is replaced
/// only while it holds DataFusion's default or the value `previous` settings gave it.
fn with_resources(
    session_config: SessionConfig,
    previous: &TarnConfig,
    config: &TarnConfig,
) -> SessionConfig {
    let mut session_config = session_config.with_target_partitions(config.threads);
    let options = session_config.options_mut();
    let optimizer = &mut options.optimizer;
    let limits = (
        optimizer.hash_join_single_partition_threshold_rows,
        optimizer.hash_join_single_partition_threshold,
    );
    let defaults = OptimizerOptions::default();
    let datafusion_defaults = (
        defaults.hash_join_single_partition_threshold_rows,
        defaults.hash_join_single_partition_threshold,
    );
    if limits == datafusion_defaults || limits == shared_build_limits(previous.threads) {
        (
            optimizer.hash_join_single_partition_threshold_rows,
            optimizer.hash_join_single_partition_threshold,
        ) = shared_build_limits(config.threads);
    }
    let execution = &mut options.execution;
    let range = execution.perfect_hash_join_small_build_threshold;
    if range == ExecutionOptions::default().perfect_hash_join_small_build_threshold
        || range == direct_lookup_range(previous)
    {
        execution.perfect_hash_join_small_build_threshold = direct_lookup_range(config);
    }
    // While insertion order is kept, so is a subquery's or a CTE's ORDER BY, as DuckDB keeps
    // it (`WITH ranked AS (... ORDER BY score DESC) SELECT * FROM ranked LIMIT 10` is the ten
    // best); DataFusion's planner drops it. Where nothing above needs the order (an aggregate,
    // a join's build side), the physical planner drops the sort itself.
    session_config
        .options_mut()
        .sql_parser
        .enable_subquery_sort_elimination = !config.preserve_insertion_order;
    if let Some(limit) = config.memory_limit {
        let per_partition = (limit as usize / (4 * config.threads)).clamp(1 << 20, 10 << 20);
        session_config
            .options_mut()
            .execution
            .sort_spill_reservation_bytes = per_partition;
    }
    // For `duckdb_settings()` and `current_setting`.
    session_config.with_extension(Arc::new(config.clone()))
}

/// The runtime resources for a configuration: a fair spilling memory pool when there is a
/// limit (so sorts and aggregates spill instead of failing), and the spill folder.
pub(crate) fn runtime_env(config: &TarnConfig) -> Result<Arc<RuntimeEnv>> {
    // DataFusion keeps every folder listing for the life of the runtime by default, so files
    // written into a folder after a first query would stay invisible: list afresh each time, as
    // DuckDB does.
    let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
    let mut builder = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(crate::stores::TarnStoreRegistry::default()))
        .with_cache_manager(caches);
    if let Some(limit) = config.memory_limit {
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(limit as usize),
            NonZeroUsize::new(3).expect("3 is not zero"),
        );
        builder = builder.with_memory_pool(Arc::new(pool));
    }
    if let Some(dir) = &config.temp_directory {
        std::fs::create_dir_all(dir)
            .map_err(|e| TarnError::io("create", dir.display().to_string(), e))?;
        builder = builder.with_temp_file_path(dir);
    }
    Ok(builder.build_arc()?)
}

fn files_schema(ctx: &SessionContext) -> Arc<dyn SchemaProvider> {
    ctx.catalog(DEFAULT_CATALOG)
        .and_then(|c| c.schema(rewrite::FILES_SCHEMA))
        .expect("the files schema is registered at session start")
}

/// Parses exactly one statement with the DuckDB dialect.
pub(crate) fn parse_one(sql: &str) -> Result<Statement> {
    let sql = asof_join::mark(&filter_clause::insert_where(sql)?)?;
    let sql = positional_join::mark(&sql)?;
    let sql = cte_hints::drop_materialized(&null_treatment::after_the_call(&sql)?)?;
    let sql = column_lambdas::star_conditions(&samples::normalize(&sql)?)?;
    let sql = limit_percent::mark(&expand::mark_renames(&sql)?)?;
    let sql = map_types::as_marked_structs(&sql)?;
    let mut statements = Parser::parse_sql(&dialect::TarnDialect, &sql)
        .map_err(|e| TarnError::Parse(parser_message(&e.to_string(), &sql)))?;
    match statements.len() {
        1 => {
            let mut statement = statements.remove(0);
            call_comparisons::as_comparisons(&mut statement);
            Ok(statement)
        }
        0 => Err(TarnError::Parse("empty statement".into())),
        n => Err(TarnError::Parse(format!(
            "expected one statement, found {n}"
        ))),
    }
}

/// The parser's message, with the position of the end of input when it ran out of text (the
/// parser gives no position then).
fn parser_message(message: &str, sql: &str) -> String {
    let message = message.trim_start_matches("sql parser error: ");
    if message.contains("Line:") {
        return message.to_string();
    }
    let line = sql.lines().count().max(1);
    let column = sql.lines().last().map_or(0, |l| l.chars().count()) + 1;
    format!("{message} at Line: {line}, Column: {column}")
}

fn split_first_word(statement: &str) -> (&str, &str) {
    let trimmed = statement.trim_start();
    let end = trimmed
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(trimmed.len());
    (&trimmed[..end], &trimmed[end..])
}

/// A setting's value as text: strings unquoted, numbers and words as written.
fn setting_text(value: &Expr) -> String {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// One batch from named columns (every column nullable), for results the layer computes itself.
pub(crate) fn batch_of(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(
        columns
            .iter()
            .map(|(name, array)| {
                datafusion::arrow::datatypes::Field::new(*name, array.data_type().clone(), true)
            })
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect())
        .map_err(|e| TarnError::DataFusion(e.into()))
}

/// A one-batch in-memory table from named columns.
pub(crate) fn memory_table(columns: Vec<(&str, ArrayRef)>) -> Result<Arc<dyn TableProvider>> {
    let batch = batch_of(columns)?;
    Ok(Arc::new(MemTable::try_new(
        batch.schema(),
        vec![vec![batch]],
    )?))
}

/// Whether a schema is one Tarn keeps for itself (DataFusion's `information_schema`, and the
/// one file references resolve through while a statement is planned) rather than the user's.
pub(crate) fn is_internal_schema(schema: &str) -> bool {
    schema == "information_schema" || schema == rewrite::FILES_SCHEMA
}

/// A stream of one computed batch.
pub(crate) fn batch_stream(batch: RecordBatch) -> SendableRecordBatchStream {
    batches_stream(batch.schema(), vec![batch])
}

/// Tokenizes with the DuckDB dialect, a tokenizer error being a parse error.
pub(crate) fn tokenize(sql: &str) -> Result<Vec<datafusion::sql::sqlparser::tokenizer::Token>> {
    datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&DuckDbDialect {}, sql)
        .tokenize()
        .map_err(|e| TarnError::Parse(e.to_string()))
}

/// A stream of the given batches.
pub(crate) fn batches_stream(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> SendableRecordBatchStream {
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter(batches.into_iter().map(Ok)),
    ))
}

fn empty_stream() -> SendableRecordBatchStream {
    batches_stream(
        Arc::new(datafusion::arrow::datatypes::Schema::empty()),
        vec![],
    )
}

/// Collects a stream into batches.
pub async fn collect(mut stream: SendableRecordBatchStream) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        batches.push(batch?);
    }
    Ok(batches)
}

/// `name` as a SQL identifier in double quotes (doubling any inside), so that any column name
/// can be written into generated SQL.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
