//! Semantic deduplication: which vectors of a set are near-duplicates of an earlier one.
//!
//! Two vectors are near-duplicates when their cosine similarity is at least the threshold, and
//! a cluster is a connected set of such pairs (single linkage: a chain of near-duplicates is one
//! cluster, as in SemDeDup's connected components). Each cluster keeps its first vector in the
//! given order; every other member is a duplicate. The result depends only on the vectors and
//! their order, so a rerun over the same rows keeps the same ones.
//!
//! The similarities come from blocked products of the L2-normalised vectors (`BLOCK` rows
//! against `BLOCK` rows through the f32 GEMM), only the blocks on and above the diagonal, so
//! memory stays at one block of similarities however many vectors there are; the work is
//! quadratic in the set's size, which is why a pipeline dedups inside each partition (each
//! MoE expert's rows, say) rather than across a whole corpus.

use crate::matmul::matmul_nt;

/// Vectors per side of a block of similarities: 1024 × 1024 f32 is 4 MB.
const BLOCK: usize = 1024;

/// How far below the threshold an f32 similarity may fall and still count: the rounding of
/// normalising and summing `dim` products, so that two copies of one vector (similarity 1,
/// computed as 0.99999..) meet a threshold of 1.
const ROUNDING: f32 = 1e-5;

/// For each of the `vectors.len() / dim` vectors (row-major), whether it is a near-duplicate
/// of an earlier one: its cluster (vectors joined by cosine similarity ≥ `threshold`, up to
/// [`ROUNDING`]) has a member before it. A vector of zero length (or with a NaN) is similar to
/// nothing.
pub fn near_duplicates(vectors: &[f32], dim: usize, threshold: f32) -> Vec<bool> {
    assert!(
        dim > 0 && vectors.len().is_multiple_of(dim),
        "near_duplicates: {} values are not rows of {dim}",
        vectors.len()
    );
    let rows = vectors.len() / dim;
    let unit = normalised(vectors, dim);
    let threshold = threshold - ROUNDING;
    let mut clusters = Clusters::new(rows);
    for first in (0..rows).step_by(BLOCK) {
        let height = BLOCK.min(rows - first);
        let block = &unit[first * dim..(first + height) * dim];
        for other in (first..rows).step_by(BLOCK) {
            let width = BLOCK.min(rows - other);
            let similarities = matmul_nt(
                block,
                height,
                &unit[other * dim..(other + width) * dim],
                width,
                dim,
            );
            for (i, row) in similarities.chunks_exact(width).enumerate() {
                let a = first + i;
                for (j, &similarity) in row.iter().enumerate() {
                    let b = other + j;
                    if b > a && similarity >= threshold {
                        clusters.join(a, b);
                    }
                }
            }
        }
    }
    (0..rows).map(|row| clusters.root(row) != row).collect()
}

/// The vectors scaled to length 1; a vector of length 0 (or NaN) becomes zeros, whose
/// similarity with anything is 0.
fn normalised(vectors: &[f32], dim: usize) -> Vec<f32> {
    let mut unit = vectors.to_vec();
    for row in unit.chunks_exact_mut(dim) {
        let length = row
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        let scale = if length > 0.0 && length.is_finite() {
            (1.0 / length) as f32
        } else {
            0.0
        };
        row.iter_mut().for_each(|x| *x *= scale);
    }
    unit
}

/// Union-find over row numbers whose root is always the cluster's first row.
struct Clusters {
    parent: Vec<usize>,
}

impl Clusters {
    fn new(rows: usize) -> Self {
        Clusters {
            parent: (0..rows).collect(),
        }
    }

    /// The first row of `row`'s cluster (halving the path on the way).
    fn root(&mut self, mut row: usize) -> usize {
        while self.parent[row] != row {
            self.parent[row] = self.parent[self.parent[row]];
            row = self.parent[row];
        }
        row
    }

    /// Merges the clusters of `a` and `b` under the earlier of their first rows.
    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            let (first, later) = if a < b { (a, b) } else { (b, a) };
            self.parent[later] = first;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_of_near_duplicates_keeps_its_first_vector() {
        // 0 ≈ 2 (cos 0.995), 2 ≈ 3 (cos 0.995) but 0 and 3 further apart; 1 stands alone;
        // 4 is 1 scaled (cosine 1); 5 is zero.
        let vectors = [
            1.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, //
            1.0, 0.1, 0.0, //
            1.0, 0.2, 0.02, //
            0.0, 3.0, 0.0, //
            0.0, 0.0, 0.0,
        ];
        assert_eq!(
            near_duplicates(&vectors, 3, 0.99),
            [false, false, true, true, true, false]
        );
        assert_eq!(
            near_duplicates(&vectors, 3, 0.9999),
            [false, false, false, false, true, false]
        );
    }

    #[test]
    fn blocks_past_the_first_find_the_same_clusters() {
        // 2,500 vectors (three blocks) in 50 directions (a spike of one of four heights on one
        // of 16 axes; any two at cosine ≤ 0.991), each used 50 times in a scrambled order:
        // every vector but the first of each direction is a duplicate.
        let (rows, dim, directions) = (2500, 16, 50);
        let direction = |row: usize| (row * 37) % directions;
        let vectors: Vec<f32> = (0..rows)
            .flat_map(|row| {
                let d = direction(row);
                let spike = (2 + d / dim) as f32;
                (0..dim).map(move |i| if i == d % dim { spike } else { 0.25 })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let expected: Vec<bool> = (0..rows).map(|row| !seen.insert(direction(row))).collect();
        assert_eq!(near_duplicates(&vectors, dim, 0.9999), expected);
    }
}
