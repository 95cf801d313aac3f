//! What DuckDB's readers tell from a file's first bytes when the query does not say: a CSV
//! file's delimiter and whether its first line is a header, and whether a JSON file is one
//! array of records or one record per line.

/// The delimiter candidates, in the order a tie goes.
const DELIMITERS: [u8; 4] = [b',', b'|', b';', b'\t'];
/// Lines of the sample a delimiter is judged on.
const SAMPLE_LINES: usize = 100;

/// The delimiter that splits the sample's lines into the same number of fields (the most
/// fields among those that do), `,` when none does. Quoted fields (`"a|b"`) are one field;
/// comment lines and the last line, when the sample may have cut it, are left out.
pub fn delimiter(sample: &[u8], complete: bool, comment: Option<u8>) -> u8 {
    let text = String::from_utf8_lossy(sample);
    let lines = sample_lines(&text, complete, comment);
    let mut best = (b',', 1);
    for candidate in DELIMITERS {
        let counts: Vec<usize> = lines.iter().map(|l| fields(l, candidate)).collect();
        let Some(&first) = counts.first() else {
            break;
        };
        if first > best.1 && counts.iter().all(|&c| c == first) {
            best = (candidate, first);
        }
    }
    best.0
}

/// The sample's lines a dialect is judged on: not blank, not comments, and not the last when
/// the sample may have cut it; the first [`SAMPLE_LINES`].
fn sample_lines(text: &str, complete: bool, comment: Option<u8>) -> Vec<&str> {
    let is_comment = |line: &str| comment.is_some_and(|c| line.as_bytes().first() == Some(&c));
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !is_comment(l))
        .collect();
    if !complete && lines.len() > 1 {
        lines.pop();
    }
    lines.truncate(SAMPLE_LINES);
    lines
}

/// Whether a CSV sample's first line is a header, as DuckDB's sniffer tells: it is not when
/// each of its fields reads as the type the column's later values share and one of those
/// types is not text (`0\n1\n2`, `1,a\n2,b`); it is otherwise (`id,name\n1,a`, and a file of
/// text alone, `name\nbob`). Reading a header-less file as headed loses its first row.
pub fn has_header(sample: &[u8], complete: bool, delimiter: u8, comment: Option<u8>) -> bool {
    let text = String::from_utf8_lossy(sample);
    let lines = sample_lines(&text, complete, comment);
    let Some((first, rest)) = lines.split_first() else {
        return true;
    };
    let first = field_values(first, delimiter);
    let rest: Vec<Vec<String>> = rest.iter().map(|l| field_values(l, delimiter)).collect();
    if rest.is_empty() || rest.iter().any(|row| row.len() != first.len()) {
        return true;
    }
    let kinds: Vec<Kind> = (0..first.len())
        .map(|c| Kind::shared(rest.iter().map(|row| row[c].as_str())))
        .collect();
    let fits = first
        .iter()
        .zip(&kinds)
        .all(|(value, kind)| value.is_empty() || kind.reads(value));
    !(fits && kinds.iter().any(|kind| *kind != Kind::Text))
}

/// What a CSV column's values read as, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boolean,
    Integer,
    Float,
    Date,
    Timestamp,
    Text,
}

impl Kind {
    const NARROWEST_FIRST: [Kind; 6] = [
        Kind::Boolean,
        Kind::Integer,
        Kind::Float,
        Kind::Date,
        Kind::Timestamp,
        Kind::Text,
    ];

    fn reads(self, value: &str) -> bool {
        let value = value.trim();
        match self {
            Kind::Boolean => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
            Kind::Integer => value.parse::<i64>().is_ok(),
            Kind::Float => value.parse::<f64>().is_ok_and(f64::is_finite),
            Kind::Date => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
            Kind::Timestamp => ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .any(|format| chrono::NaiveDateTime::parse_from_str(value, format).is_ok()),
            Kind::Text => true,
        }
    }

    /// The narrowest kind every non-empty value reads as.
    fn shared<'a>(values: impl Iterator<Item = &'a str> + Clone) -> Kind {
        let present = values.filter(|v| !v.is_empty());
        Kind::NARROWEST_FIRST
            .into_iter()
            .find(|kind| present.clone().all(|value| kind.reads(value)))
            .unwrap_or(Kind::Text)
    }
}

/// The fields of `line` split at `delimiter` outside double quotes, unquoted.
fn field_values(line: &str, delimiter: u8) -> Vec<String> {
    let mut values = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                values.last_mut().expect("one at least").push('"');
            }
            '"' => quoted = !quoted,
            c if !quoted && c as u32 == u32::from(delimiter) => values.push(String::new()),
            c => values.last_mut().expect("one at least").push(c),
        }
    }
    values
}

/// The fields `line` splits into at `delimiter`, outside double quotes.
fn fields(line: &str, delimiter: u8) -> usize {
    let mut quoted = false;
    let mut count = 1;
    for byte in line.bytes() {
        match byte {
            b'"' => quoted = !quoted,
            b if b == delimiter && !quoted => count += 1,
            _ => {}
        }
    }
    count
}

/// Whether a JSON sample starts an array (`[{...}, ...]`) rather than a record per line.
pub fn is_json_array(sample: &[u8]) -> bool {
    let text = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    text.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_that_splits_every_line_alike_wins() {
        let pipes = b"id|name|score\n1|\"a|b\"|0.5\n2||1\n";
        assert_eq!(delimiter(pipes, true, None), b'|');
        assert_eq!(delimiter(b"a;b\n1;2\n3;4", true, None), b';');
        // The most fields wins, a tie the first candidate.
        assert_eq!(delimiter(b"a\tb\tc,d\n1\t2\t3,4\n", true, None), b'\t');
        assert_eq!(delimiter(b"a\tb,c\n1\t2,3\n", true, None), b',');
        // Commas inside quotes do not count; a lone column stays comma-separated.
        assert_eq!(delimiter(b"text\n\"a, b\"\n", true, None), b',');
        // A line the sample cut short and comment lines are not judged.
        assert_eq!(delimiter(b"a|b|c\n1|2|3\n4|5", false, None), b'|');
        assert_eq!(delimiter(b"# a tool\na;b\n1;2\n", true, Some(b'#')), b';');
    }

    #[test]
    fn a_first_line_of_values_like_the_rest_is_no_header() {
        for (sample, header) in [
            (&b"0\n1\n2\n"[..], false),
            (b"1,a\n2,b\n", false),
            (b"1.5,2024-01-01\n2.5,2024-01-02\n", false),
            (b"true,,x\nfalse,3,y\n", false),
            (b"a,b\n1,2\n", true),
            (b"id,name\n1,a\n", true),
            (b"n\n1\n2\n", true),
            // Text alone, one line, or lines of another width: a header, as DuckDB reads them.
            (b"x,y\nz,w\n", true),
            (b"name\nbob\nalice\n", true),
            (b"1,2\n", true),
            (b"1,2\n3\n", true),
            (b"\"a,1\",2\n\"b,2\",3\n", false),
        ] {
            assert_eq!(
                has_header(sample, true, b',', None),
                header,
                "{}",
                String::from_utf8_lossy(sample)
            );
        }
    }

    #[test]
    fn an_array_is_told_by_its_first_bracket() {
        assert!(is_json_array(b"  \n[{\"a\": 1}]"));
        assert!(is_json_array(b"\xEF\xBB\xBF[]"));
        assert!(!is_json_array(b"{\"a\": [1]}\n{\"a\": [2]}"));
        assert!(!is_json_array(b""));
    }
}
