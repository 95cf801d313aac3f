//! Attention's softmax, shared by MLA decode and dense encoder attention, and dense attention
//! with a key-padding mask (for encoders such as MiniLM), on the CPU.
//!
//! A query attends to a run of keys through a [`Partial`]: the scores' maximum, the sum of
//! `exp(score - max)` and the values weighted by those exponentials, kept unnormalised so that
//! partials over disjoint key ranges combine exactly. This is the split-KV scheme of
//! FlashAttention and FlashMLA (each GPU block attends to one slice of the keys and a combine
//! step merges the slices); the CPU reference uses it the same way so that the two paths share
//! one definition of the result, including its edge: a query that sees no key gets zeros and a
//! logsumexp of +inf. Sums run in f64.
//!
//! [`attention_fast`] is the path encoders run on the CPU: per sequence and head, the scores
//! and the weighted values are two f32 matrix products, checked against [`attention`].

use gemm::Parallelism;
use rayon::prelude::*;

use crate::matmul::{nn_into, nt_general_into};

/// Attention over one run of keys, before normalisation.
#[derive(Debug, Clone)]
pub(crate) struct Partial {
    /// Largest scaled score; -inf when the run had no keys.
    max: f64,
    /// Σ exp(score - max).
    sum: f64,
    /// Σ exp(score - max) · value.
    acc: Vec<f64>,
}

impl Partial {
    /// Attention of `query` over `(key, value)` pairs, scores scaled by `scale`; values are `dv`
    /// wide.
    pub(crate) fn over<'a>(
        query: &[f32],
        pairs: impl IntoIterator<Item = (&'a [f32], &'a [f32])>,
        scale: f32,
        dv: usize,
    ) -> Self {
        let pairs: Vec<(&[f32], &[f32])> = pairs.into_iter().collect();
        let scores: Vec<f64> = pairs
            .iter()
            .map(|(key, _)| {
                let dot: f64 = query
                    .iter()
                    .zip(*key)
                    .map(|(q, k)| f64::from(*q) * f64::from(*k))
                    .sum();
                dot * f64::from(scale)
            })
            .collect();
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        let mut acc = vec![0.0f64; dv];
        for ((_, value), score) in pairs.iter().zip(&scores) {
            let weight = (score - max).exp();
            sum += weight;
            for (a, v) in acc.iter_mut().zip(*value) {
                *a += weight * f64::from(*v);
            }
        }
        Partial { max, sum, acc }
    }

    /// The partial over both runs of keys: the combine step of split-KV attention.
    pub(crate) fn combine(self, other: Partial) -> Partial {
        if other.max == f64::NEG_INFINITY {
            return self;
        }
        if self.max == f64::NEG_INFINITY {
            return other;
        }
        let max = self.max.max(other.max);
        let (mine, theirs) = ((self.max - max).exp(), (other.max - max).exp());
        Partial {
            max,
            sum: self.sum * mine + other.sum * theirs,
            acc: self
                .acc
                .iter()
                .zip(&other.acc)
                .map(|(a, b)| a * mine + b * theirs)
                .collect(),
        }
    }

    /// Writes the normalised output into `out` and returns the natural-log logsumexp of the
    /// scaled scores; with no keys, zeros and +inf (FlashMLA's convention).
    pub(crate) fn finish(self, out: &mut [f32]) -> f32 {
        if self.max == f64::NEG_INFINITY {
            out.fill(0.0);
            return f32::INFINITY;
        }
        for (o, a) in out.iter_mut().zip(&self.acc) {
            *o = (a / self.sum) as f32;
        }
        (self.max + self.sum.ln()) as f32
    }
}

/// The dimensions of a dense attention call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionShape {
    pub batch: usize,
    pub s_q: usize,
    pub s_k: usize,
    pub heads: usize,
    /// Query and key width per head.
    pub d: usize,
    /// Value width per head.
    pub dv: usize,
}

impl AttentionShape {
    /// Panics unless the buffers have this shape (a caller's bug, not bad data).
    pub(crate) fn check(&self, q: &[f32], k: &[f32], v: &[f32], key_mask: &[bool]) {
        let AttentionShape {
            batch,
            s_q,
            s_k,
            heads,
            d,
            dv,
        } = *self;
        assert_eq!(q.len(), batch * s_q * heads * d, "q is [b, s_q, heads, d]");
        assert_eq!(k.len(), batch * s_k * heads * d, "k is [b, s_k, heads, d]");
        assert_eq!(
            v.len(),
            batch * s_k * heads * dv,
            "v is [b, s_k, heads, dv]"
        );
        assert_eq!(key_mask.len(), batch * s_k, "key_mask is [b, s_k]");
    }
}

/// Attention output `[b, s_q, heads, dv]` and logsumexp `[b, heads, s_q]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionOutput {
    pub out: Vec<f32>,
    pub lse: Vec<f32>,
}

/// Dense multi-head attention: `q` `[b, s_q, heads, d]`, `k` `[b, s_k, heads, d]`, `v`
/// `[b, s_k, heads, dv]`, and `key_mask` `[b, s_k]`, true for the real tokens and false for
/// padding. Padded keys are never read, so a batch padded with anything (NaN included) gives
/// each sequence the result it would get alone.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_mask: &[bool],
    shape: AttentionShape,
    softmax_scale: f32,
) -> AttentionOutput {
    let AttentionShape {
        batch,
        s_q,
        s_k,
        heads,
        d,
        dv,
    } = shape;
    shape.check(q, k, v, key_mask);
    let mut out = vec![0.0f32; batch * s_q * heads * dv];
    let mut lse = vec![f32::INFINITY; batch * heads * s_q];
    for seq in 0..batch {
        let valid: Vec<usize> = (0..s_k).filter(|&j| key_mask[seq * s_k + j]).collect();
        for token in 0..s_q {
            for head in 0..heads {
                let query = &q[((seq * s_q + token) * heads + head) * d..][..d];
                let pairs = valid.iter().map(|&j| {
                    let row = (seq * s_k + j) * heads + head;
                    (&k[row * d..(row + 1) * d], &v[row * dv..(row + 1) * dv])
                });
                let at = ((seq * s_q + token) * heads + head) * dv;
                lse[(seq * heads + head) * s_q + token] =
                    Partial::over(query, pairs, softmax_scale, dv).finish(&mut out[at..at + dv]);
            }
        }
    }
    AttentionOutput { out, lse }
}

/// [`attention`] in f32 through matrix products, one task per sequence and head: gather the
/// head's queries and unmasked keys, `S = Q·Kᵀ·scale`, a row softmax, `O = P·V`.
pub fn attention_fast(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_mask: &[bool],
    shape: AttentionShape,
    softmax_scale: f32,
) -> AttentionOutput {
    shape.check(q, k, v, key_mask);
    let AttentionShape {
        batch,
        s_q,
        s_k,
        heads,
        d,
        dv,
    } = shape;
    let per_head: Vec<(Vec<f32>, Vec<f32>)> = (0..batch * heads)
        .into_par_iter()
        .map(|task| {
            let (seq, head) = (task / heads, task % heads);
            let valid: Vec<usize> = (0..s_k).filter(|&j| key_mask[seq * s_k + j]).collect();
            let keys = valid.len();
            let queries: Vec<f32> = (0..s_q)
                .flat_map(|i| &q[((seq * s_q + i) * heads + head) * d..][..d])
                .copied()
                .collect();
            let key_rows: Vec<f32> = valid
                .iter()
                .flat_map(|&j| &k[((seq * s_k + j) * heads + head) * d..][..d])
                .copied()
                .collect();
            let values: Vec<f32> = valid
                .iter()
                .flat_map(|&j| &v[((seq * s_k + j) * heads + head) * dv..][..dv])
                .copied()
                .collect();
            attend(
                &queries,
                &key_rows,
                (&values, dv),
                Dims {
                    rows: s_q,
                    keys,
                    d,
                    dv,
                },
                softmax_scale,
                |_| keys,
            )
        })
        .collect();
    let mut result = AttentionOutput {
        out: vec![0.0f32; batch * s_q * heads * dv],
        lse: vec![0.0f32; batch * heads * s_q],
    };
    for (task, (out, lse)) in per_head.iter().enumerate() {
        let (seq, head) = (task / heads, task % heads);
        for (token, values) in out.chunks_exact(dv.max(1)).enumerate().take(s_q) {
            let at = ((seq * s_q + token) * heads + head) * dv;
            result.out[at..at + dv].copy_from_slice(&values[..dv]);
        }
        result.lse[(seq * heads + head) * s_q..][..s_q].copy_from_slice(lse);
    }
    result
}

/// The sizes of one [`attend`] call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    /// Query rows.
    pub(crate) rows: usize,
    pub(crate) keys: usize,
    /// Query and key width.
    pub(crate) d: usize,
    /// Value width.
    pub(crate) dv: usize,
}

/// Softmax attention of `queries` (`rows × d`) over `key_rows` (`keys × d`) and `values`
/// (`keys` rows of which the first `dv` values count, `value_stride` apart: MLA's values are
/// its keys' first dims), in f32 through two matrix products; query row r sees only the first
/// `visible(r)` keys. Returns the rows' outputs (`rows × dv`) and natural-log logsumexps:
/// zeros and +inf for a row that sees none.
pub(crate) fn attend(
    queries: &[f32],
    key_rows: &[f32],
    (values, value_stride): (&[f32], usize),
    Dims { rows, keys, d, dv }: Dims,
    softmax_scale: f32,
    visible: impl Fn(usize) -> usize,
) -> (Vec<f32>, Vec<f32>) {
    if keys == 0 {
        return (vec![0.0; rows * dv], vec![f32::INFINITY; rows]);
    }
    let mut scores = vec![0.0f32; rows * keys];
    // SAFETY: `scores` is rows × keys, owned here.
    unsafe {
        nt_general_into(
            scores.as_mut_ptr(),
            keys,
            queries,
            rows,
            key_rows,
            keys,
            d,
            Parallelism::None,
        )
    };
    let mut lse = Vec::with_capacity(rows);
    for (row, scores) in scores.chunks_mut(keys).enumerate() {
        let seen = visible(row).min(keys);
        let (seen_scores, unseen) = scores.split_at_mut(seen);
        unseen.fill(0.0);
        if seen == 0 {
            lse.push(f32::INFINITY);
            continue;
        }
        let max = seen_scores
            .iter()
            .fold(f32::NEG_INFINITY, |m, s| m.max(s * softmax_scale));
        let mut sum = 0.0f32;
        for s in seen_scores.iter_mut() {
            *s = (*s * softmax_scale - max).exp();
            sum += *s;
        }
        seen_scores.iter_mut().for_each(|s| *s /= sum);
        lse.push(max + sum.ln());
    }
    let mut out = vec![0.0f32; rows * dv];
    // SAFETY: `out` is rows × dv, owned here.
    unsafe {
        nn_into(
            out.as_mut_ptr(),
            dv,
            &scores,
            rows,
            values,
            value_stride,
            dv,
            keys,
        )
    };
    (out, lse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(query: &[f32], keys: &[[f32; 2]], values: &[[f32; 2]]) -> Partial {
        Partial::over(
            query,
            keys.iter().zip(values).map(|(k, v)| (&k[..], &v[..])),
            0.5,
            2,
        )
    }

    #[test]
    fn combining_split_runs_equals_one_run_over_all_keys() {
        let keys = [[1.0, 2.0], [-3.0, 0.5], [4.0, 4.0], [0.0, -1.0]];
        let values = [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 3.0]];
        let query = [0.7, -0.2];
        let (mut whole, mut split) = ([0.0; 2], [0.0; 2]);
        let whole_lse = partial(&query, &keys, &values).finish(&mut whole);
        let split_lse = partial(&query, &keys[..1], &values[..1])
            .combine(partial(&query, &[], &[]))
            .combine(partial(&query, &keys[1..], &values[1..]))
            .finish(&mut split);
        for (a, b) in whole.iter().zip(&split) {
            assert!((a - b).abs() < 1e-6, "{whole:?} vs {split:?}");
        }
        assert!((whole_lse - split_lse).abs() < 1e-6);
    }

    #[test]
    fn equal_scores_average_the_values_and_no_keys_give_zeros_and_infinity() {
        let mut out = [9.0; 2];
        let lse = partial(
            &[0.0, 0.0],
            &[[1.0, 2.0], [3.0, 4.0]],
            &[[2.0, 0.0], [4.0, 1.0]],
        )
        .finish(&mut out);
        assert_eq!(out, [3.0, 0.5]);
        assert!((lse - 2f32.ln()).abs() < 1e-7);
        let lse = partial(&[1.0, 1.0], &[], &[]).finish(&mut out);
        assert_eq!((out, lse), ([0.0, 0.0], f32::INFINITY));
    }
}
