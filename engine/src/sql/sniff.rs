//! What DuckDB's readers tell from a file's first bytes when the query does not say: a CSV
//! file's delimiter, and whether a JSON file is one array of records or one record per line.

/// The delimiter candidates, in the order a tie goes.
const DELIMITERS: [u8; 4] = [b',', b'|', b';', b'\t'];
/// Lines of the sample a delimiter is judged on.
const SAMPLE_LINES: usize = 100;

/// The delimiter that splits the sample's lines into the same number of fields (the most
/// fields among those that do), `,` when none does. Quoted fields (`"a|b"`) are one field;
/// comment lines and the last line, when the sample may have cut it, are left out.
pub fn delimiter(sample: &[u8], complete: bool, comment: Option<u8>) -> u8 {
    let text = String::from_utf8_lossy(sample);
    let is_comment = |line: &str| comment.is_some_and(|c| line.as_bytes().first() == Some(&c));
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !is_comment(l))
        .collect();
    if !complete && lines.len() > 1 {
        lines.pop();
    }
    lines.truncate(SAMPLE_LINES);
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
    fn an_array_is_told_by_its_first_bracket() {
        assert!(is_json_array(b"  \n[{\"a\": 1}]"));
        assert!(is_json_array(b"\xEF\xBB\xBF[]"));
        assert!(!is_json_array(b"{\"a\": [1]}\n{\"a\": [2]}"));
        assert!(!is_json_array(b""));
    }
}
