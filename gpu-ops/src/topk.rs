//! Top-k selection with one documented tie rule, shared by the operators: larger values first,
//! and among equal values the lower index first (a stable order, so results never depend on the
//! sort's implementation).

use std::cmp::Ordering;

/// The indices of the `k` largest values, largest first; ties go to the lower index. NaN sorts
/// below every number.
pub fn top_k(values: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| descending(values[a], values[b]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Larger first, NaN last.
pub fn descending(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.partial_cmp(&a).expect("neither is NaN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_first_and_ties_to_the_lower_index() {
        assert_eq!(top_k(&[0.5, 2.0, 0.5, f64::NAN, 2.0], 4), [1, 4, 0, 2]);
        assert_eq!(top_k(&[1.0], 3), [0]);
    }
}
