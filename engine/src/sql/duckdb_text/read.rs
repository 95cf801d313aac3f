//! DuckDB's text for lists, structs and maps read back: `[a, 'b, c', NULL]`, `{'a': 1, 'b': x}`
//! (or `{a: 1}`), `(1, x)` for a struct's fields in order, `{k1=1, k2=2}`, as DuckDB casts such
//! text to a nested type and as Tarn writes it (casts to text, CSV). The text is rewritten, as
//! the target type directs, into the JSON that the typed JSON reader (`json::typed`) takes: an
//! item becomes a JSON string, or a number or boolean where the type wants one and the item is
//! one, and an unquoted `NULL` becomes `null`.
//!
//! Items are quoted as DuckDB quotes them: between `'` (or `"`), with `\` escaping the next
//! character; unquoted, an item runs to the next `,`, bracket or brace, without the white space
//! around it.

use datafusion::arrow::datatypes::{DataType, Fields};

/// `text`, DuckDB's text for a value of `target`, as JSON; `None` where it is not such text.
pub fn as_json(text: &str, target: &DataType) -> Option<String> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
    };
    let mut json = String::new();
    reader.value(target, &mut json)?;
    reader.skip_space();
    (reader.at == reader.chars.len()).then_some(json)
}

struct Reader {
    chars: Vec<char>,
    at: usize,
}

/// An item as written: its text, and whether it was quoted (so `'NULL'` is text).
struct Item {
    text: String,
    quoted: bool,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// Takes `c` (after white space) if it comes next.
    fn take(&mut self, c: char) -> bool {
        self.skip_space();
        let found = self.peek() == Some(c);
        if found {
            self.at += 1;
        }
        found
    }

    /// Reads one value of `target` and appends it to `out` as JSON.
    fn value(&mut self, target: &DataType, out: &mut String) -> Option<()> {
        self.skip_space();
        if self.null_ahead() {
            out.push_str("null");
            return Some(());
        }
        match target {
            DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
                self.list(item.data_type(), out)
            }
            DataType::Struct(fields) => self.structure(fields, out),
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => {
                    self.map(kv[0].data_type(), kv[1].data_type(), out)
                }
                _ => None,
            },
            scalar => {
                let item = self.item(&[',', ']', '}', ')'])?;
                push_scalar(&item, scalar, out);
                Some(())
            }
        }
    }

    /// Whether an unquoted `NULL` stands here (and takes it).
    fn null_ahead(&mut self) -> bool {
        let word: String = self.chars[self.at..].iter().take(4).collect();
        let ends = self
            .chars
            .get(self.at + 4)
            .is_none_or(|c| c.is_whitespace() || [',', ']', '}', ')'].contains(c));
        let null = word.eq_ignore_ascii_case("null") && ends;
        if null {
            self.at += 4;
        }
        null
    }

    /// `[item, ...]` as a JSON array.
    fn list(&mut self, item: &DataType, out: &mut String) -> Option<()> {
        if !self.take('[') {
            return None;
        }
        out.push('[');
        if !self.take(']') {
            loop {
                self.value(item, out)?;
                if self.take(']') {
                    break;
                }
                if !self.take(',') {
                    return None;
                }
                out.push(',');
            }
        }
        out.push(']');
        Some(())
    }

    /// `{'name': value, ...}` by name, or `(value, ...)` in the fields' order, as a JSON object.
    fn structure(&mut self, fields: &Fields, out: &mut String) -> Option<()> {
        out.push('{');
        if self.take('(') {
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    if !self.take(',') {
                        return None;
                    }
                    out.push(',');
                }
                push_string(field.name(), out);
                out.push(':');
                self.value(field.data_type(), out)?;
            }
            if !self.take(')') {
                return None;
            }
        } else {
            if !self.take('{') {
                return None;
            }
            let mut first = true;
            while !self.take('}') {
                if !first && !self.take(',') {
                    return None;
                }
                let name = self.item(&[':'])?.text;
                if !self.take(':') {
                    return None;
                }
                let field = fields
                    .iter()
                    .find(|field| field.name().eq_ignore_ascii_case(&name))?;
                if !first {
                    out.push(',');
                }
                first = false;
                push_string(field.name(), out);
                out.push(':');
                self.value(field.data_type(), out)?;
            }
        }
        out.push('}');
        Some(())
    }

    /// `{key=value, ...}` as a JSON object (the reader casts each key's text to the key type).
    fn map(&mut self, key: &DataType, value: &DataType, out: &mut String) -> Option<()> {
        if !self.take('{') {
            return None;
        }
        out.push('{');
        let mut first = true;
        while !self.take('}') {
            if !first {
                if !self.take(',') {
                    return None;
                }
                out.push(',');
            }
            first = false;
            if key.is_nested() {
                return None;
            }
            let key = self.item(&['='])?;
            push_string(&key.text, out);
            if !self.take('=') {
                return None;
            }
            out.push(':');
            self.value(value, out)?;
        }
        out.push('}');
        Some(())
    }

    /// One item: quoted, or running to one of `ends` (or a bracket) without the white space
    /// around it.
    fn item(&mut self, ends: &[char]) -> Option<Item> {
        self.skip_space();
        if let Some(quote @ ('\'' | '"')) = self.peek() {
            self.at += 1;
            let mut text = String::new();
            loop {
                match self.peek()? {
                    '\\' => {
                        text.push(*self.chars.get(self.at + 1)?);
                        self.at += 2;
                    }
                    c if c == quote => {
                        self.at += 1;
                        return Some(Item { text, quoted: true });
                    }
                    c => {
                        text.push(c);
                        self.at += 1;
                    }
                }
            }
        }
        let start = self.at;
        while let Some(c) = self.peek() {
            if ends.contains(&c) || ['[', ']', '{', '}', '(', ')', ','].contains(&c) {
                break;
            }
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        Some(Item {
            text: text.trim().to_string(),
            quoted: false,
        })
    }
}

/// An item of a type that is not nested, as JSON: a number or boolean where the type wants one
/// and the text is one, a string otherwise (the reader then casts it, or says it does not fit).
fn push_scalar(item: &Item, target: &DataType, out: &mut String) {
    let text = item.text.as_str();
    let number =
        target.is_numeric() && !item.quoted && text.parse::<f64>().is_ok_and(f64::is_finite);
    let boolean = *target == DataType::Boolean && !item.quoted;
    match () {
        () if number => out.push_str(text),
        () if boolean && text.eq_ignore_ascii_case("true") => out.push_str("true"),
        () if boolean && text.eq_ignore_ascii_case("false") => out.push_str("false"),
        () => push_string(text, out),
    }
}

fn push_string(text: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(text.to_string()).to_string());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;

    use super::*;

    fn list(item: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("item", item, true)))
    }

    #[test]
    fn duckdb_text_reads_as_json_of_the_type() {
        let pair = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let cases = [
            (
                "[a, b c, NULL, 'NULL', '']",
                list(DataType::Utf8),
                r#"["a","b c",null,"NULL",""]"#,
            ),
            (
                r#"['x, y', 'it\'s', "q"]"#,
                list(DataType::Utf8),
                r#"["x, y","it's","q"]"#,
            ),
            ("[1, 2.5, x]", list(DataType::Float64), r#"[1,2.5,"x"]"#),
            ("[[1], []]", list(list(DataType::Int32)), "[[1],[]]"),
            ("{'a': 1, 'b': q}", pair.clone(), r#"{"a":1,"b":"q"}"#),
            ("{A: NULL}", pair.clone(), r#"{"a":null}"#),
            ("(7, 'x y')", pair.clone(), r#"{"a":7,"b":"x y"}"#),
            ("[{'a': 1}, NULL]", list(pair.clone()), r#"[{"a":1},null]"#),
            ("[true, FALSE]", list(DataType::Boolean), "[true,false]"),
        ];
        for (text, target, json) in cases {
            assert_eq!(as_json(text, &target).as_deref(), Some(json), "{text}");
        }
        for (text, target) in [
            ("[1, 2", list(DataType::Int32)),
            ("{'c': 1}", pair.clone()),
            ("(1)", pair),
            ("[1] x", list(DataType::Int32)),
        ] {
            assert_eq!(as_json(text, &target), None, "{text}");
        }
    }

    #[test]
    fn maps_read_key_by_key() {
        let map = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Int32, true),
                ])),
                false,
            )),
            false,
        );
        assert_eq!(
            as_json("{k1=1, 'k 2'=NULL}", &map).as_deref(),
            Some(r#"{"k1":1,"k 2":null}"#)
        );
    }
}
