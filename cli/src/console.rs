//! Runs statements and dot commands for every way SQL reaches `tarn sql` (-c, -f, standard
//! input, the interactive shell): splits scripts, renders results, keeps the dot-command state.

use std::io::Write;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::{FutureExt, StreamExt};
use tarn_engine::sql::{is_blank, is_complete, split_statements};
use tarn_engine::{SqlSession, TarnError};

use crate::dot::{DotCommand, HELP};
use crate::progress::Progress;
use crate::render::{OutputMode, RenderOptions, render};

/// The state of one `tarn sql` run.
pub struct Console {
    session: SqlSession,
    render: RenderOptions,
    keep_going: bool,
    timer: bool,
    /// `.output FILE` redirects results here; `None` is standard output.
    output: Option<std::fs::File>,
    failed: bool,
    quit: bool,
}

impl Console {
    pub fn new(session: SqlSession, mode: OutputMode, keep_going: bool, terminal: bool) -> Self {
        let width = terminal.then(terminal_width).flatten();
        Console {
            session,
            render: RenderOptions {
                mode,
                max_rows: 40,
                width,
            },
            keep_going,
            timer: false,
            output: None,
            failed: false,
            quit: false,
        }
    }

    pub fn session(&self) -> &SqlSession {
        &self.session
    }

    /// Whether every statement so far succeeded.
    pub fn all_succeeded(&self) -> bool {
        !self.failed
    }

    /// Whether `.quit` was given.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Runs a script of statements and dot commands (a dot command must start a line). Returns
    /// false when it stopped early: at the first error (unless --keep-going) or at `.quit`.
    pub async fn run_script(&mut self, text: &str) -> bool {
        let mut buffer = String::new();
        for line in text.lines() {
            if is_blank(&buffer) && line.trim_start().starts_with('.') {
                buffer.clear();
                let result = self.run_dot(line.trim()).await;
                if !self.report(result) || self.quit {
                    return false;
                }
                continue;
            }
            buffer.push_str(line);
            buffer.push('\n');
            if is_complete(&buffer) && !self.run_statements(&std::mem::take(&mut buffer)).await {
                return false;
            }
        }
        is_blank(&buffer) || self.run_statements(&buffer).await
    }

    /// Runs the complete statements in `text`; false if one failed and we must stop.
    pub async fn run_statements(&mut self, text: &str) -> bool {
        let statements = match split_statements(text) {
            Ok(statements) => statements,
            Err(err) => return self.report(Err(err.into())),
        };
        for statement in statements {
            let result = self.run_statement(&statement).await;
            if !self.report(result) {
                return false;
            }
        }
        true
    }

    /// Prints an error as one line; returns whether to carry on.
    fn report(&mut self, result: anyhow::Result<()>) -> bool {
        match result {
            Ok(()) => true,
            Err(err) => {
                eprintln!("Error: {}", one_line(&err.to_string()));
                self.failed = true;
                self.keep_going
            }
        }
    }

    async fn run_statement(&mut self, statement: &str) -> anyhow::Result<()> {
        let start = Instant::now();
        // A panic inside the engine is a bug, but it must still end as one error line for this
        // statement, not a backtrace that takes the shell down.
        let run = std::panic::AssertUnwindSafe(collect_with_progress(
            &mut self.session,
            statement,
            start,
        ))
        .catch_unwind();
        let (schema, batches) = tokio::select! {
            result = run => match result {
                Ok(result) => result?,
                Err(panic) => anyhow::bail!("internal error: {}", panic_message(panic.as_ref())),
            },
            _ = tokio::signal::ctrl_c() => anyhow::bail!("Interrupted"),
        };
        let elapsed = start.elapsed();
        self.write_result(&schema, &batches)?;
        if self.timer {
            eprintln!("Run Time (s): real {:.3}", elapsed.as_secs_f64());
        }
        Ok(())
    }

    fn write_result(&mut self, schema: &SchemaRef, batches: &[RecordBatch]) -> anyhow::Result<()> {
        match &mut self.output {
            Some(file) => render(file, schema, batches, &self.render),
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                render(&mut lock, schema, batches, &self.render)?;
                lock.flush()?;
                Ok(())
            }
        }
    }

    async fn run_dot(&mut self, line: &str) -> anyhow::Result<()> {
        match DotCommand::parse(line).map_err(anyhow::Error::msg)? {
            DotCommand::Help => println!("{HELP}"),
            DotCommand::Tables => {
                for name in self.session.table_names() {
                    self.write_line(&name)?;
                }
            }
            DotCommand::Schema(table) => {
                let tables = match table {
                    Some(table) => vec![table],
                    None => self.session.table_names(),
                };
                for table in tables {
                    let frame = self
                        .session
                        .dataframe(&format!("SELECT * FROM {table}"))
                        .await?;
                    let columns: Vec<String> = frame
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| {
                            format!(
                                "{} {}",
                                f.name(),
                                tarn_engine::sql::types::sql_type_name(f.data_type())
                            )
                        })
                        .collect();
                    self.write_line(&format!("CREATE TABLE {table}({});", columns.join(", ")))?;
                }
            }
            DotCommand::Mode(mode) => {
                self.render.mode = mode.parse().map_err(anyhow::Error::msg)?;
            }
            DotCommand::Timer(on) => self.timer = on,
            DotCommand::Read(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("cannot read '{path}': {e}"))?;
                if !Box::pin(self.run_script(&text)).await && !self.quit {
                    anyhow::bail!("stopped reading '{path}' after an error");
                }
            }
            DotCommand::Output(path) => {
                self.output = match path {
                    Some(path) => Some(
                        std::fs::File::create(&path)
                            .map_err(|e| anyhow::anyhow!("cannot write '{path}': {e}"))?,
                    ),
                    None => None,
                }
            }
            DotCommand::MaxRows(rows) => self.render.max_rows = rows,
            DotCommand::Quit => self.quit = true,
        }
        Ok(())
    }

    fn write_line(&mut self, line: &str) -> anyhow::Result<()> {
        match &mut self.output {
            Some(file) => writeln!(file, "{line}")?,
            None => println!("{line}"),
        }
        Ok(())
    }
}

/// Runs a statement and collects its rows, updating the progress line as batches arrive.
async fn collect_with_progress(
    session: &mut SqlSession,
    statement: &str,
    start: Instant,
) -> anyhow::Result<(SchemaRef, Vec<RecordBatch>)> {
    let progress = Progress::start();
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    let mut rows = 0u64;
    let execute = session.execute(statement);
    tokio::pin!(execute);
    let mut stream = loop {
        tokio::select! {
            stream = &mut execute => break stream?,
            _ = ticker.tick() => progress.rows(rows, start.elapsed()),
        }
    };
    let schema = stream.schema();
    let mut batches = Vec::new();
    loop {
        tokio::select! {
            next = stream.next() => match next {
                Some(batch) => {
                    // As the engine's error, so that it reads as one line with DuckDB's prefix.
                    let batch = batch.map_err(TarnError::from)?;
                    rows += batch.num_rows() as u64;
                    batches.push(batch);
                }
                None => break,
            },
            _ = ticker.tick() => progress.rows(rows, start.elapsed()),
        }
    }
    Ok((schema, batches))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the engine panicked".to_string())
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn terminal_width() -> Option<u16> {
    comfy_table::Table::new().width()
}
