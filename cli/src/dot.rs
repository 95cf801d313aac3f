//! The shell's dot commands: `.help .tables .schema [table] .mode MODE .timer on|off .read FILE
//! .output [FILE] .maxrows N .quit`.

/// A parsed dot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DotCommand {
    Help,
    Tables,
    Schema(Option<String>),
    Mode(String),
    Timer(bool),
    Read(String),
    Output(Option<String>),
    MaxRows(usize),
    Quit,
}

pub const HELP: &str = "\
.help              Show this help
.tables            List the tables and views
.schema [TABLE]    Show the columns of one table, or of every table
.mode MODE         Output mode: box, markdown, csv, json, jsonl, line
.timer on|off      Print the time each statement takes
.read FILE         Run the statements in FILE
.output [FILE]     Send results to FILE, or back to standard output
.maxrows N         Rows shown in box mode before the middle is elided
.quit              Leave the shell (also Ctrl-D)";

impl DotCommand {
    /// Parses a line starting with `.`.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("");
        let argument = words.collect::<Vec<_>>().join(" ");
        let argument = argument.trim_matches(|c| c == '\'' || c == '"').to_string();
        let required = |what: &str| -> Result<String, String> {
            if argument.is_empty() {
                Err(format!("{name} needs {what}"))
            } else {
                Ok(argument.clone())
            }
        };
        Ok(match name {
            ".help" => DotCommand::Help,
            ".tables" => DotCommand::Tables,
            ".schema" => DotCommand::Schema((!argument.is_empty()).then(|| argument.clone())),
            ".mode" => DotCommand::Mode(required("a mode")?),
            ".timer" => match argument.to_ascii_lowercase().as_str() {
                "on" => DotCommand::Timer(true),
                "off" => DotCommand::Timer(false),
                _ => return Err(".timer takes on or off".into()),
            },
            ".read" => DotCommand::Read(required("a file name")?),
            ".output" | ".once" => {
                DotCommand::Output((!argument.is_empty()).then(|| argument.clone()))
            }
            ".maxrows" => DotCommand::MaxRows(
                required("a number")?
                    .parse()
                    .map_err(|_| format!(".maxrows takes a number, got '{argument}'"))?,
            ),
            ".quit" | ".exit" => DotCommand::Quit,
            other => return Err(format!("unknown command '{other}'; .help lists them")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_command() {
        assert_eq!(
            DotCommand::parse(".mode csv"),
            Ok(DotCommand::Mode("csv".into()))
        );
        assert_eq!(DotCommand::parse(".timer ON"), Ok(DotCommand::Timer(true)));
        assert_eq!(
            DotCommand::parse(".schema t"),
            Ok(DotCommand::Schema(Some("t".into())))
        );
        assert_eq!(DotCommand::parse(".output"), Ok(DotCommand::Output(None)));
        assert_eq!(DotCommand::parse(".maxrows 7"), Ok(DotCommand::MaxRows(7)));
        assert!(DotCommand::parse(".maxrows x").is_err());
        assert!(
            DotCommand::parse(".frobnicate")
                .unwrap_err()
                .contains(".frobnicate")
        );
    }
}
