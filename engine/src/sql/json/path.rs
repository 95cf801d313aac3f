//! DuckDB's ways to say where in a document to look:
//!
//! * a JSONPath: `$` then `.key`, `."quoted key"`, `[n]` (negative or `[#-n]` from the end),
//!   and the wildcards `.*` (every member), `[*]` (every element) and `..key` (the member
//!   `key` at any depth);
//! * a JSON Pointer (RFC 6901): `/a/0/b`, with `~1` for `/` and `~0` for `~` in a key;
//! * any other text: one key, as written (`'a.b'` is the key `a.b`); `''` is the document;
//! * an integer: an array element, negative from the end.
//!
//! A path with a wildcard selects a list of values; any other selects at most one.

use super::value::Json;

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    pub(super) steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Member(String),
    Element(i64),
    /// A JSON Pointer token: a member of an object, or an element of an array when it is a
    /// number.
    Token(String),
    EveryMember,
    EveryElement,
    /// `..key` (or `..*` for every value) at any depth below, the starting value included.
    Descendants(Option<String>),
}

/// A path that cannot be read, with the text from where it goes wrong.
#[derive(Debug, PartialEq)]
pub struct BadPath {
    pub near: String,
}

impl JsonPath {
    /// Reads a path given as text.
    pub fn parse(text: &str) -> Result<JsonPath, BadPath> {
        if let Some(rest) = text.strip_prefix('$') {
            return parse_json_path(rest).map(|steps| JsonPath { steps });
        }
        let steps = match text.strip_prefix('/') {
            Some(pointer) => pointer
                .split('/')
                .map(|token| Step::Token(token.replace("~1", "/").replace("~0", "~")))
                .collect(),
            None if text.is_empty() => vec![],
            None => vec![Step::Member(text.to_string())],
        };
        Ok(JsonPath { steps })
    }

    /// The path to element `index` of an array.
    pub fn element(index: i64) -> JsonPath {
        JsonPath {
            steps: vec![Step::Element(index)],
        }
    }

    /// Whether the path can select several values (and so gives a list).
    pub fn is_wildcard(&self) -> bool {
        self.steps.iter().any(|step| {
            matches!(
                step,
                Step::EveryMember | Step::EveryElement | Step::Descendants(_)
            )
        })
    }

    /// The values the path selects in `doc`, in document order.
    pub fn select<'a>(&self, doc: &'a Json) -> Vec<&'a Json> {
        self.steps.iter().fold(vec![doc], |found, step| {
            found
                .into_iter()
                .flat_map(|value| step.apply(value))
                .collect()
        })
    }
}

impl Step {
    fn apply<'a>(&self, value: &'a Json) -> Vec<&'a Json> {
        match self {
            Step::Member(key) => value.member(key).into_iter().collect(),
            Step::Element(index) => value.element(*index).into_iter().collect(),
            Step::Token(token) => match (value, token.parse::<u32>()) {
                (Json::Array(_), Ok(index)) => value.element(index.into()).into_iter().collect(),
                _ => value.member(token).into_iter().collect(),
            },
            Step::EveryMember => match value {
                Json::Object(members) => members.iter().map(|(_, v)| v).collect(),
                _ => vec![],
            },
            Step::EveryElement => match value {
                Json::Array(items) => items.iter().collect(),
                _ => vec![],
            },
            Step::Descendants(key) => {
                let mut found = Vec::new();
                descend(value, key.as_deref(), &mut found);
                found
            }
        }
    }
}

/// Collects, in document order, the members named `key` (every member and element when
/// `None`) of `value` and of every value inside it.
fn descend<'a>(value: &'a Json, key: Option<&str>, found: &mut Vec<&'a Json>) {
    match (key, value) {
        (Some(key), Json::Object(_)) => found.extend(value.member(key)),
        (None, _) => found.extend(value.children()),
        _ => {}
    }
    for child in value.children() {
        descend(child, key, found);
    }
}

/// The steps of a JSONPath after its `$`.
fn parse_json_path(mut rest: &str) -> Result<Vec<Step>, BadPath> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        let near = || BadPath {
            near: rest.to_string(),
        };
        let (step, after) = if let Some(after) = rest.strip_prefix("..") {
            let (key, after) = read_key(after).ok_or_else(near)?;
            (Step::Descendants(key), after)
        } else if let Some(after) = rest.strip_prefix('.') {
            match read_key(after).ok_or_else(near)? {
                (Some(key), after) => (Step::Member(key), after),
                (None, after) => (Step::EveryMember, after),
            }
        } else if let Some(after) = rest.strip_prefix('[') {
            let (inside, after) = after.split_once(']').ok_or_else(near)?;
            (read_index(inside.trim()).ok_or_else(near)?, after)
        } else {
            return Err(near());
        };
        steps.push(step);
        rest = after;
    }
    Ok(steps)
}

/// A key after `.`: `*` (`None`), `"quoted"`, or the text up to the next `.` or `[`.
fn read_key(text: &str) -> Option<(Option<String>, &str)> {
    if let Some(after) = text.strip_prefix('*') {
        return Some((None, after));
    }
    if let Some(quoted) = text.strip_prefix('"') {
        let (key, after) = quoted.split_once('"')?;
        return Some((Some(key.to_string()), after));
    }
    let end = text.find(['.', '[']).unwrap_or(text.len());
    (end > 0).then(|| (Some(text[..end].to_string()), &text[end..]))
}

/// What is inside `[...]`: `*`, `n`, `-n` or `#-n`.
fn read_index(inside: &str) -> Option<Step> {
    if inside == "*" {
        return Some(Step::EveryElement);
    }
    let from_end = inside.strip_prefix('#');
    let index: i64 = from_end.unwrap_or(inside).trim().parse().ok()?;
    match from_end {
        Some(_) if index < 0 => Some(Step::Element(index)),
        Some(_) => None,
        None => Some(Step::Element(index)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(doc: &str, path: &str) -> Vec<String> {
        let doc = Json::parse(doc).unwrap();
        let path = JsonPath::parse(path).unwrap();
        path.select(&doc).iter().map(|v| v.to_text()).collect()
    }

    #[test]
    fn every_form_of_path_finds_duckdbs_values() {
        let doc = r#"{"a":{"b":1.5,"c":[1,2,{"d":"x"}]},"a.b":7,"a b":8,"m~n":9,"p/q":10}"#;
        assert_eq!(select(doc, "$.a.b"), ["1.5"]);
        assert_eq!(select(doc, "$.a.c[2].d"), [r#""x""#]);
        assert_eq!(select(doc, "$.a.c[-1].d"), [r#""x""#]);
        assert_eq!(select(doc, "$.a.c[#-3]"), ["1"]);
        assert_eq!(select(doc, r#"$."a b""#), ["8"]);
        assert_eq!(select(doc, "a.b"), ["7"]);
        assert_eq!(select(doc, "/a/c/1"), ["2"]);
        assert_eq!(select(doc, "/m~0n"), ["9"]);
        assert_eq!(select(doc, "/p~1q"), ["10"]);
        assert_eq!(select(doc, "$.a.zz"), Vec::<String>::new());
        assert_eq!(select("[1,2]", ""), ["[1,2]"]);
    }

    #[test]
    fn wildcards_select_lists() {
        assert_eq!(select(r#"{"a":[{"b":1},{"b":2}]}"#, "$.a[*].b"), ["1", "2"]);
        assert_eq!(select(r#"{"a":{"x":1,"y":2}}"#, "$.a.*"), ["1", "2"]);
        assert_eq!(select(r#"{"a":{"x":1}}"#, "$.a[*]"), Vec::<String>::new());
        assert_eq!(
            select(r#"{"a":{"b":{"a":2}}}"#, "$..a"),
            [r#"{"b":{"a":2}}"#, "2"]
        );
        assert!(JsonPath::parse("$..a").unwrap().is_wildcard());
        assert!(!JsonPath::parse("$.a[1]").unwrap().is_wildcard());
    }

    #[test]
    fn a_bad_path_says_where() {
        for (path, near) in [("$a", "a"), ("$.a[", "["), ("$.a[x]", "[x]"), ("$.", ".")] {
            assert_eq!(
                JsonPath::parse(path),
                Err(BadPath { near: near.into() }),
                "{path}"
            );
        }
    }
}
