//! DuckDB's `bar(x, min, max [, width])`: `x` drawn as a bar of block characters `width`
//! wide (80 by default), in eighths of a character, padded with spaces: a histogram in the
//! shell (`SELECT lang, bar(count(*), 0, 1000, 30) FROM docs GROUP BY lang`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::text_functions::{arrays, call_value};
use super::types::sql_type_name;

/// The partial blocks, by eighths (none, then one eighth to seven).
const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const FULL: char = '█';
const DEFAULT_WIDTH: i64 = 80;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Bar {
    signature: Signature,
}

impl Bar {
    pub fn new() -> Self {
        Bar {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Bar {
    fn name(&self) -> &str {
        "bar"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!("bar takes (x, min, max [, width])");
        }
        if let Some(bad) = arg_types.iter().find(|t| !t.is_numeric() && !t.is_null()) {
            return plan_err!("bar draws numbers, not {}", sql_type_name(bad));
        }
        let mut types = vec![DataType::Float64; 3];
        if arg_types.len() == 4 {
            types.push(DataType::Int64);
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args.args, args.number_rows)?;
        let [x, min, max] = [0, 1, 2].map(|i| arrays[i].as_primitive::<Float64Type>());
        let widths = arrays.get(3).map(|a| a.as_primitive::<Int64Type>());
        let mut out = StringBuilder::with_capacity(x.len(), x.len() * 8);
        for row in 0..x.len() {
            let width = match widths {
                Some(w) if w.is_null(row) => {
                    out.append_null();
                    continue;
                }
                Some(w) => w.value(row),
                None => DEFAULT_WIDTH,
            };
            if !(1..=1000).contains(&width) {
                return exec_err!("bar: the width must be from 1 to 1000, not {width}");
            }
            if x.is_null(row) || min.is_null(row) || max.is_null(row) {
                out.append_null();
                continue;
            }
            out.append_value(draw(
                x.value(row),
                min.value(row),
                max.value(row),
                width as usize,
            ));
        }
        call_value(&args.args, Arc::new(out.finish()))
    }
}

/// The bar for `x` between `min` and `max`, `width` characters wide.
fn draw(x: f64, min: f64, max: f64, width: usize) -> String {
    let share = match max > min {
        true => ((x - min) / (max - min)).clamp(0.0, 1.0),
        false => 0.0,
    };
    let eighths = (share * width as f64 * 8.0).floor() as usize;
    let mut bar: String = std::iter::repeat_n(FULL, eighths / 8).collect();
    if eighths / 8 < width {
        bar.push(EIGHTHS[eighths % 8]);
    }
    let drawn = bar.chars().count();
    bar.extend(std::iter::repeat_n(' ', width - drawn));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_as_duckdb_draws() {
        // DuckDB 2.0's answers.
        assert_eq!(draw(3.3, 0.0, 10.0, 10), "███▎      ");
        assert_eq!(draw(9.99, 0.0, 10.0, 10), "█████████▉");
        assert_eq!(draw(20.0, 0.0, 10.0, 10), "██████████");
        assert_eq!(draw(-1.0, 0.0, 10.0, 10), "          ");
        assert_eq!(draw(5.0, 10.0, 0.0, 10), "          ");
        assert_eq!(draw(1.0 / 16.0, 0.0, 1.0, 1), " ");
        assert_eq!(draw(5.0, 0.0, 10.0, 80).chars().count(), 80);
    }
}
