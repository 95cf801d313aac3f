//! MLA decode attention (FlashMLA's `flash_mla_with_kvcache`), on the CPU.
//!
//! Each of `b` sequences has `s_q` new query tokens with `h_q` heads of width `d` (576 for
//! DeepSeek's MLA: 512 latent + 64 rotary dims) and a paged KV cache: blocks of `block_size`
//! token rows, `h_kv` heads each, found through the sequence's row of `block_table`, the first
//! `cache_seqlens[i]` tokens valid. Values are the first `dv` dims of the keys (MLA's shared
//! latent). Query head h reads KV head `h / (h_q / h_kv)`. With `causal`, query token i sees the
//! keys up to position `s_k - s_q + i`. The output is `[b, s_q, h_q, dv]` and the natural-log
//! logsumexp of the scaled scores `[b, h_q, s_q]`; a query that sees no key gets zeros and
//! +inf. Only the pages and rows below a sequence's length are read. The cache holds f32 or,
//! as FlashMLA reads it, bf16 values ([`KvBlocks`]). The softmax is
//! [`crate::attention`]'s, one partial per page combined as FlashMLA's split-KV blocks are.

use std::borrow::Cow;

pub use half::bf16;

use rayon::prelude::*;

use crate::attention::{AttentionOutput, Dims, Partial, attend};

/// The dimensions of one decode call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlaShape {
    pub batch: usize,
    pub s_q: usize,
    pub h_q: usize,
    pub h_kv: usize,
    /// Query and key width (576).
    pub d: usize,
    /// Value width (512): the first `dv` dims of each key.
    pub dv: usize,
    /// Token rows per cache block (64).
    pub block_size: usize,
}

impl MlaShape {
    /// Panics unless `q` has this shape and the heads and widths fit together.
    pub(crate) fn check(&self, q: &[f32]) {
        let MlaShape {
            batch,
            s_q,
            h_q,
            h_kv,
            d,
            dv,
            ..
        } = *self;
        assert_eq!(q.len(), batch * s_q * h_q * d, "q is [b, s_q, h_q, d]");
        assert!(
            h_kv > 0 && h_q % h_kv == 0 && dv <= d,
            "heads and widths must fit"
        );
    }
}

/// The paged KV cache of a batch.
#[derive(Debug, Clone, Copy)]
pub struct KvCache<'a> {
    /// `[num_blocks, block_size, h_kv, d]`.
    pub blocks: KvBlocks<'a>,
    /// `[batch, max_blocks]`: the cache block holding each sequence's n-th page.
    pub block_table: &'a [i32],
    /// Valid tokens per sequence.
    pub seqlens: &'a [i32],
}

/// The cache's values, in f32 or, as DeepSeek's models keep it (and FlashMLA reads it), in
/// bf16. With a bf16 cache the query is rounded to bf16 as well, as FlashMLA takes it: both
/// paths then multiply bf16 values exactly and differ only in how they sum (the GPU also
/// rounds the softmax weights to bf16 for its tensor cores, FlashMLA's precision).
#[derive(Debug, Clone, Copy)]
pub enum KvBlocks<'a> {
    F32(&'a [f32]),
    Bf16(&'a [bf16]),
}

impl KvCache<'_> {
    /// The width of `block_table`'s rows: pages per sequence at most, for `batch` sequences.
    pub(crate) fn pages_per_sequence(&self, batch: usize) -> usize {
        self.block_table.len() / batch.max(1)
    }

    /// `q` as it meets this cache's keys: rounded to bf16 for a bf16 cache.
    fn query<'q>(&self, q: &'q [f32]) -> Cow<'q, [f32]> {
        match self.blocks {
            KvBlocks::F32(_) => Cow::Borrowed(q),
            KvBlocks::Bf16(_) => Cow::Owned(round_to_bf16(q)),
        }
    }
}

/// The keys query token `token` of `s_q` new tokens sees among a sequence's `s_k`: all, or with
/// `causal` those up to position `s_k - s_q + token`.
fn visible_keys(s_k: usize, s_q: usize, token: usize, causal: bool) -> usize {
    if causal {
        (s_k + token + 1).saturating_sub(s_q).min(s_k)
    } else {
        s_k
    }
}

impl KvBlocks<'_> {
    /// The first `rows` token rows (`h_kv × d` values each) of cache block `block`, in f32.
    fn rows(&self, block: usize, rows: usize, row_len: usize, block_size: usize) -> Cow<'_, [f32]> {
        let span = block * block_size * row_len..(block * block_size + rows) * row_len;
        match self {
            KvBlocks::F32(values) => Cow::Borrowed(&values[span]),
            KvBlocks::Bf16(values) => Cow::Owned(values[span].iter().map(|v| v.to_f32()).collect()),
        }
    }
}

/// Runs decode attention for `q` (`[b, s_q, h_q, d]`).
pub fn mla_decode(
    q: &[f32],
    shape: MlaShape,
    cache: KvCache<'_>,
    softmax_scale: f32,
    causal: bool,
) -> AttentionOutput {
    let MlaShape {
        batch,
        s_q,
        h_q,
        h_kv,
        d,
        dv,
        block_size,
    } = shape;
    shape.check(q);
    let q = cache.query(q);
    let max_blocks = cache.pages_per_sequence(batch);
    let mut out = vec![0.0f32; batch * s_q * h_q * dv];
    let mut lse = vec![f32::INFINITY; batch * h_q * s_q];
    for seq in 0..batch {
        let s_k = cache.seqlens[seq].max(0) as usize;
        let visible = |token: usize| visible_keys(s_k, s_q, token, causal);
        // One partial per cache page and query row, combined as the GPU's split-KV blocks are.
        let mut partials: Vec<Option<Partial>> = vec![None; s_q * h_q];
        for page in 0..s_k.div_ceil(block_size) {
            let first = page * block_size;
            let block = cache.block_table[seq * max_blocks + page] as usize;
            let keys = cache
                .blocks
                .rows(block, block_size.min(s_k - first), h_kv * d, block_size);
            for token in 0..s_q {
                let rows = visible(token).saturating_sub(first).min(block_size);
                if rows == 0 {
                    continue;
                }
                for head in 0..h_q {
                    let kv_head = head / (h_q / h_kv);
                    let query = &q[((seq * s_q + token) * h_q + head) * d..][..d];
                    let pairs = (0..rows).map(|row| {
                        let key = &keys[(row * h_kv + kv_head) * d..][..d];
                        (key, &key[..dv])
                    });
                    let page_partial = Partial::over(query, pairs, softmax_scale, dv);
                    let slot = &mut partials[token * h_q + head];
                    *slot = Some(match slot.take() {
                        Some(sofar) => sofar.combine(page_partial),
                        None => page_partial,
                    });
                }
            }
        }
        for (slot, partial) in partials.into_iter().enumerate() {
            let (token, head) = (slot / h_q, slot % h_q);
            if let Some(partial) = partial {
                let at = ((seq * s_q + token) * h_q + head) * dv;
                lse[(seq * h_q + head) * s_q + token] = partial.finish(&mut out[at..at + dv]);
            }
        }
    }
    AttentionOutput { out, lse }
}

/// [`mla_decode`] in f32 through matrix products, the path the CPU runs: one task per sequence
/// and KV head gathers the keys its rows may see (widened from bf16 once), and attends with
/// `S = Q·Kᵀ·scale`, a row softmax masked per token, and `O = P·V`. Checked against
/// [`mla_decode`].
pub fn mla_decode_fast(
    q: &[f32],
    shape: MlaShape,
    cache: KvCache<'_>,
    softmax_scale: f32,
    causal: bool,
) -> AttentionOutput {
    let MlaShape {
        batch,
        s_q,
        h_q,
        h_kv,
        d,
        dv,
        block_size,
    } = shape;
    shape.check(q);
    let q = cache.query(q);
    let max_blocks = cache.pages_per_sequence(batch);
    let heads_per_set = h_q / h_kv;
    let per_set: Vec<(Vec<f32>, Vec<f32>)> = (0..batch * h_kv)
        .into_par_iter()
        .map(|task| {
            let (seq, kv) = (task / h_kv, task % h_kv);
            let s_k = cache.seqlens[seq].max(0) as usize;
            let visible = |token: usize| visible_keys(s_k, s_q, token, causal);
            // The last token sees the most keys.
            let keys = (0..s_q).map(visible).max().unwrap_or(0);
            let mut key_rows = Vec::with_capacity(keys * d);
            for first in (0..keys).step_by(block_size) {
                let block = cache.block_table[seq * max_blocks + first / block_size] as usize;
                let rows = block_size.min(keys - first);
                let page = cache.blocks.rows(block, rows, h_kv * d, block_size);
                for row in page.chunks_exact(h_kv * d) {
                    key_rows.extend_from_slice(&row[kv * d..(kv + 1) * d]);
                }
            }
            // Row r is token r / heads_per_set's query head kv·heads_per_set + r % heads_per_set.
            let queries: Vec<f32> = (0..s_q * heads_per_set)
                .flat_map(|r| {
                    let head = kv * heads_per_set + r % heads_per_set;
                    &q[((seq * s_q + r / heads_per_set) * h_q + head) * d..][..d]
                })
                .copied()
                .collect();
            let dims = Dims {
                rows: s_q * heads_per_set,
                keys,
                d,
                dv,
            };
            // The values are the keys' first dv dims.
            attend(
                &queries,
                &key_rows,
                (&key_rows, d),
                dims,
                softmax_scale,
                |r| visible(r / heads_per_set),
            )
        })
        .collect();
    let mut result = AttentionOutput {
        out: vec![0.0f32; batch * s_q * h_q * dv],
        lse: vec![0.0f32; batch * h_q * s_q],
    };
    for (task, (out, lse)) in per_set.iter().enumerate() {
        let (seq, kv) = (task / h_kv, task % h_kv);
        for (r, &lse) in lse.iter().enumerate() {
            let (token, head) = (r / heads_per_set, kv * heads_per_set + r % heads_per_set);
            let at = ((seq * s_q + token) * h_q + head) * dv;
            result.out[at..at + dv].copy_from_slice(&out[r * dv..(r + 1) * dv]);
            result.lse[(seq * h_q + head) * s_q + token] = lse;
        }
    }
    result
}

/// `values` rounded to the nearest bf16 (ties to even), back in f32.
pub fn round_to_bf16(values: &[f32]) -> Vec<f32> {
    values.iter().map(|&v| bf16::from_f32(v).to_f32()).collect()
}
