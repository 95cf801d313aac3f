//! Finding one value by path while the text is read, as `j ->> 'score'` wants it: only the
//! value the path leads to is built, and every other member and element is checked and
//! skipped without allocating. Parsing whole documents into trees made extraction several
//! times slower than DuckDB on metadata columns.
//!
//! The whole text is still read, so a malformed document is an error wherever its fault is.
//! Paths a single pass cannot follow (a wildcard, or an index from the end of an array) are
//! answered from the parsed document.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::path::{JsonPath, Step};
use super::value::{Json, Malformed};

impl JsonPath {
    /// The first value the path selects in the document `text`.
    pub fn find(&self, text: &str) -> Result<Option<Json>, Malformed> {
        if !self.steps.iter().all(Seek::follows) {
            let doc = Json::parse(text)?;
            return Ok(self.select(&doc).first().map(|&found| found.clone()));
        }
        let mut reader = serde_json::Deserializer::from_str(text);
        let found = Seek(&self.steps)
            .deserialize(&mut reader)
            .and_then(|found| reader.end().map(|()| found));
        found.map_err(|err| Malformed::new(text, &err))
    }
}

/// The steps still to take from the value being read.
struct Seek<'p>(&'p [Step]);

impl Seek<'_> {
    /// Whether one pass can take this step: it names one member or a counted element.
    fn follows(step: &Step) -> bool {
        match step {
            Step::Member(_) | Step::Token(_) => true,
            Step::Element(index) => *index >= 0,
            _ => false,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = Option<Json>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<Json>, D::Error> {
        match self.0 {
            [] => de::Deserialize::deserialize(deserializer).map(Some),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = Option<Json>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Json>, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<Json>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<Json>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<Json>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<Json>, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<Json>, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Json>, A::Error> {
        let (step, rest) = self.0.split_first().expect("a step to take");
        let wanted = match step {
            Step::Element(index) => usize::try_from(*index).ok(),
            Step::Token(token) => token.parse::<u32>().ok().map(|index| index as usize),
            _ => None,
        };
        let mut found = None;
        let mut at = 0;
        loop {
            let more = match Some(at) == wanted {
                true => seq
                    .next_element_seed(Seek(rest))?
                    .map(|value| found = value),
                false => seq.next_element::<IgnoredAny>()?.map(drop),
            };
            if more.is_none() {
                return Ok(found);
            }
            at += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Json>, A::Error> {
        let (step, rest) = self.0.split_first().expect("a step to take");
        let key = match step {
            Step::Member(key) | Step::Token(key) => Some(key.as_str()),
            _ => None,
        };
        // The first member of that name, as `Json::member` answers.
        let mut found = None;
        let mut seen = false;
        while let Some(matches) = map.next_key_seed(KeyIs(key))? {
            match matches && !seen {
                true => {
                    seen = true;
                    found = map.next_value_seed(Seek(rest))?;
                }
                false => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(found)
    }
}

/// Reads a member's key, answering whether it is the one wanted.
struct KeyIs<'k>(Option<&'k str>);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(self.0 == Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `find` answers, and what selecting in the parsed document answers.
    fn both(doc: &str, path: &str) -> (Option<String>, Option<String>) {
        let path = JsonPath::parse(path).unwrap();
        let found = path.find(doc).unwrap().map(|v| v.to_text());
        let selected = path
            .select(&Json::parse(doc).unwrap())
            .first()
            .map(|v| v.to_text());
        (found, selected)
    }

    #[test]
    fn finds_what_selecting_in_the_parsed_document_finds() {
        let doc = r#"{"a":{"b":1.5,"c":[1,2,{"d":"x"}]},"a":7,"e\"q":[[0,1]],"n":null,"0":"zero"}"#;
        for path in [
            "$.a",
            "$.a.b",
            "$.a.c[2].d",
            "$.a.c[5]",
            "$.a.c[-1]",
            "$.a.c.d",
            "$.a.b.c",
            "/e\"q",
            "/a/c/1",
            "/0",
            "$.n",
            "$.zz",
            "",
            "$.a.c[*]",
        ] {
            let (found, selected) = both(doc, path);
            assert_eq!(found, selected, "{path}");
        }
        assert_eq!(both(doc, "$.a.c[2].d").0.as_deref(), Some(r#""x""#));
        assert_eq!(both("[1,[2,3]]", "/1/0").0.as_deref(), Some("2"));
    }

    #[test]
    fn a_fault_after_the_value_is_still_an_error() {
        let path = JsonPath::parse("$.a").unwrap();
        for bad in [r#"{"a":1,"b":tru}"#, r#"{"a":1} x"#, r#"{"a":1,"b":"\q"}"#] {
            assert!(path.find(bad).is_err(), "{bad}");
        }
        let err = path.find(r#"{"a":1, x}"#).unwrap_err();
        assert_eq!(err.byte, Json::parse(r#"{"a":1, x}"#).unwrap_err().byte);
    }
}
