//! A progress line on stderr for statements that run longer than about two seconds, shown only
//! when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Shows a spinner with elapsed time and rows received once a statement has run for 2 s.
pub struct Progress {
    bar: Option<ProgressBar>,
}

const DELAY: Duration = Duration::from_secs(2);

impl Progress {
    pub fn start() -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {pos} rows {msg}")
                .expect("the template is valid"),
        );
        Progress { bar: Some(bar) }
    }

    /// Records rows received so far; makes the bar visible once the delay has passed.
    pub fn rows(&self, rows: u64, elapsed: Duration) {
        if let Some(bar) = &self.bar {
            bar.set_position(rows);
            if elapsed >= DELAY && bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.enable_steady_tick(Duration::from_millis(120));
            }
        }
    }
}

/// The line goes away however the statement ends: finished, failed or cancelled with Ctrl-C.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
