//! MLA decode attention (FlashMLA's `flash_mla_with_kvcache`), on the CPU.
//!
//! Each of `b` sequences has `s_q` new query tokens with `h_q` heads of width `d` (576 for
//! DeepSeek's MLA: 512 latent + 64 rotary dims) and a paged KV cache: blocks of `block_size`
//! token rows, `h_kv` heads each, found through the sequence's row of `block_table`, the first
//! `cache_seqlens[i]` tokens valid. Values are the first `dv` dims of the keys (MLA's shared
//! latent). Query head h reads KV head `h / (h_q / h_kv)`. With `causal`, query token i sees the
//! keys up to position `s_k - s_q + i`. The output is `[b, s_q, h_q, dv]` and the natural-log
//! logsumexp of the scaled scores `[b, h_q, s_q]`; a query that sees no key gets zeros and
//! +inf. Only the pages and rows below a sequence's length are read. The softmax is
//! [`crate::attention`]'s, one partial per page combined as FlashMLA's split-KV blocks are.

use crate::attention::{AttentionOutput, Partial};

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
    pub blocks: &'a [f32],
    /// `[batch, max_blocks]`: the cache block holding each sequence's n-th page.
    pub block_table: &'a [i32],
    /// Valid tokens per sequence.
    pub seqlens: &'a [i32],
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
    let max_blocks = cache.block_table.len() / batch.max(1);
    let key = |seq: usize, pos: usize, head: usize| -> &[f32] {
        let block = cache.block_table[seq * max_blocks + pos / block_size] as usize;
        let row = (block * block_size + pos % block_size) * h_kv + head;
        &cache.blocks[row * d..(row + 1) * d]
    };
    let mut out = vec![0.0f32; batch * s_q * h_q * dv];
    let mut lse = vec![f32::INFINITY; batch * h_q * s_q];
    for seq in 0..batch {
        let s_k = cache.seqlens[seq].max(0) as usize;
        for token in 0..s_q {
            let visible = if causal {
                (s_k + token + 1).saturating_sub(s_q).min(s_k)
            } else {
                s_k
            };
            if visible == 0 {
                continue;
            }
            for head in 0..h_q {
                let kv_head = head / (h_q / h_kv);
                let query = &q[((seq * s_q + token) * h_q + head) * d..][..d];
                // One partial per cache page, combined as the GPU's split-KV blocks are.
                let partial = (0..visible)
                    .step_by(block_size)
                    .map(|page| {
                        let rows = page..(page + block_size).min(visible);
                        let pairs = rows.map(|pos| {
                            let key = key(seq, pos, kv_head);
                            (key, &key[..dv])
                        });
                        Partial::over(query, pairs, softmax_scale, dv)
                    })
                    .reduce(Partial::combine)
                    .expect("a visible key");
                let at = ((seq * s_q + token) * h_q + head) * dv;
                lse[(seq * h_q + head) * s_q + token] = partial.finish(&mut out[at..at + dv]);
            }
        }
    }
    AttentionOutput { out, lse }
}
