//! Properties on random shapes, odd ones included (M = 1, K and N not multiples of 128, experts
//! with no rows, empty sequences): the fast FP8 GEMM equals the reference; paged split-KV MLA
//! decode equals dense attention over the same keys; padding never changes a sequence's result.
//! Each case prints its seed when it fails.

use tarn_gpu::attention::{AttentionShape, attention, attention_fast};
use tarn_gpu::fp8::{Fp8Matrix, Grouping, fast, quantize, reference};
use tarn_gpu::mla::{KvBlocks, KvCache, MlaShape, bf16, mla_decode, mla_decode_fast};

use crate::support::Rng;

/// Asserts that `got` is `want` up to f32 rounding: every element within 1e-5 of the largest
/// magnitude.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-5 * scale,
        "{what}: max abs error {worst} against max {scale}"
    );
}

fn weights(rng: &mut Rng, n: usize, k: usize) -> Fp8Matrix {
    quantize(
        &rng.matrix(n, k),
        n,
        k,
        Grouping::PerBlock,
        rng.next_u64().is_multiple_of(2),
    )
}

fn activations(rng: &mut Rng, m: usize, k: usize) -> Fp8Matrix {
    quantize(
        &rng.matrix(m, k),
        m,
        k,
        Grouping::PerToken,
        rng.next_u64().is_multiple_of(2),
    )
}

#[test]
fn fast_fp8_gemm_equals_the_reference() {
    for seed in 0..24 {
        let mut rng = Rng(seed);
        let m = if seed % 4 == 0 {
            1
        } else {
            rng.between(1, 300)
        };
        let (n, k) = (rng.between(1, 400), rng.between(1, 520));
        let (a, b) = (activations(&mut rng, m, k), weights(&mut rng, n, k));
        let what = format!("seed {seed}: m={m} n={n} k={k}");
        assert_close(
            &fast::gemm_fp8_nt(&a, &b),
            &reference::gemm_fp8_nt(&a, &b),
            &what,
        );
    }
}

#[test]
fn fast_grouped_fp8_gemms_equal_the_reference() {
    for seed in 100..112 {
        let mut rng = Rng(seed);
        let (groups, n, k) = (rng.between(1, 5), rng.between(1, 260), rng.between(1, 300));
        let experts: Vec<Fp8Matrix> = (0..groups).map(|_| weights(&mut rng, n, k)).collect();

        // Contiguous: each expert's rows (possibly none) padded with -1 up to a multiple of 8.
        let mut m_indices = Vec::new();
        for expert in 0..groups as i32 {
            let rows = if rng.next_u64().is_multiple_of(3) {
                0
            } else {
                rng.between(1, 40)
            };
            m_indices.extend(std::iter::repeat_n(expert, rows));
            m_indices.extend(std::iter::repeat_n(
                -1,
                m_indices.len().next_multiple_of(8) - m_indices.len(),
            ));
        }
        let a = activations(&mut rng, m_indices.len(), k);
        let what = format!("seed {seed}: contiguous, {groups} experts, n={n} k={k} {m_indices:?}");
        assert_close(
            &fast::gemm_fp8_grouped_contiguous(&a, &experts, &m_indices),
            &reference::gemm_fp8_grouped_contiguous(&a, &experts, &m_indices),
            &what,
        );

        // Masked: [G, m_max, k] with 0..=m_max valid rows per group.
        let m_max = rng.between(1, 64);
        let a: Vec<Fp8Matrix> = (0..groups)
            .map(|_| activations(&mut rng, m_max, k))
            .collect();
        let masked_m: Vec<usize> = (0..groups).map(|_| rng.between(0, m_max)).collect();
        let got = fast::gemm_fp8_grouped_masked(&a, &experts, &masked_m);
        let want = reference::gemm_fp8_grouped_masked(&a, &experts, &masked_m);
        for (g, (got, want)) in got.iter().zip(&want).enumerate() {
            let what =
                format!("seed {seed}: masked group {g} of {masked_m:?}, m_max={m_max} n={n} k={k}");
            assert_close(got, want, &what);
        }
    }
}

#[test]
fn paged_mla_decode_equals_dense_attention_over_the_same_keys() {
    for seed in 200..216 {
        let mut rng = Rng(seed);
        let (batch, h_q, block_size) = (rng.between(1, 4), rng.between(1, 8), rng.between(1, 16));
        let d = rng.between(2, 40);
        let dv = rng.between(1, d);
        let seqlens: Vec<i32> = (0..batch)
            .map(|_| {
                if rng.next_u64().is_multiple_of(4) {
                    0
                } else {
                    rng.between(1, 70) as i32
                }
            })
            .collect();
        let s_k = seqlens.iter().copied().max().unwrap_or(0) as usize;
        let max_blocks = s_k.div_ceil(block_size).max(1);

        // Pages in a shuffled order, and one spare block of NaN that no table row names.
        let num_blocks = batch * max_blocks + 1;
        let mut order: Vec<i32> = (0..num_blocks as i32).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.between(0, i));
        }
        let spare = order.pop().unwrap();
        let block_table = order;
        let mut blocks = rng.matrix(num_blocks * block_size, d);
        blocks[spare as usize * block_size * d..][..block_size * d].fill(f32::NAN);

        // The same keys laid out densely ([b, s_k, h_q, d], one shared KV head broadcast to
        // every query head), NaN in the padding.
        let mut keys = vec![f32::NAN; batch * s_k * h_q * d];
        let mut values = vec![f32::NAN; batch * s_k * h_q * dv];
        let mut mask = vec![false; batch * s_k];
        for seq in 0..batch {
            for pos in 0..seqlens[seq] as usize {
                let block = block_table[seq * max_blocks + pos / block_size] as usize;
                let key = &blocks[(block * block_size + pos % block_size) * d..][..d];
                for head in 0..h_q {
                    let row = (seq * s_k + pos) * h_q + head;
                    keys[row * d..(row + 1) * d].copy_from_slice(key);
                    values[row * dv..(row + 1) * dv].copy_from_slice(&key[..dv]);
                }
                mask[seq * s_k + pos] = true;
            }
        }

        let q = rng.matrix(batch * h_q, d);
        let scale = 1.0 / (d as f32).sqrt();
        let shape = MlaShape {
            batch,
            s_q: 1,
            h_q,
            h_kv: 1,
            d,
            dv,
            block_size,
        };
        let cache = KvCache {
            blocks: KvBlocks::F32(&blocks),
            block_table: &block_table,
            seqlens: &seqlens,
        };
        let paged = mla_decode(&q, shape, cache, scale, false);
        let shape = AttentionShape {
            batch,
            s_q: 1,
            s_k,
            heads: h_q,
            d,
            dv,
        };
        let dense = attention(&q, &keys, &values, &mask, shape, scale);

        let what = format!(
            "seed {seed}: b={batch} h_q={h_q} d={d} dv={dv} pages of {block_size}, lengths {seqlens:?}"
        );
        assert!(
            paged.out.iter().all(|v| v.is_finite()),
            "{what}: read a NaN"
        );
        assert_close(&paged.out, &dense.out, &what);
        for (p, w) in paged.lse.iter().zip(&dense.lse) {
            assert!(
                p == w || (p - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{what}: lse {p} vs {w}"
            );
        }
        for (seq, &len) in seqlens.iter().enumerate() {
            if len == 0 {
                assert!(
                    paged.lse[seq * h_q..(seq + 1) * h_q]
                        .iter()
                        .all(|l| *l == f32::INFINITY),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn padding_a_batch_never_changes_a_sequences_attention() {
    let mut rng = Rng(300);
    let (s_q, heads, d, dv) = (3, 2, 16, 8);
    let lengths = [5usize, 1, 9];
    let s_k = 9;
    let alone: Vec<_> = lengths
        .iter()
        .map(|&len| {
            let (q, k, v) = (
                rng.matrix(s_q * heads, d),
                rng.matrix(len * heads, d),
                rng.matrix(len * heads, dv),
            );
            let shape = AttentionShape {
                batch: 1,
                s_q,
                s_k: len,
                heads,
                d,
                dv,
            };
            let out = attention(&q, &k, &v, &vec![true; len], shape, 0.25);
            (q, k, v, out)
        })
        .collect();

    let mut q = Vec::new();
    let mut k = vec![f32::NAN; lengths.len() * s_k * heads * d];
    let mut v = vec![f32::NAN; lengths.len() * s_k * heads * dv];
    let mut mask = vec![false; lengths.len() * s_k];
    for (seq, (len, (sq, sk, sv, _))) in lengths.iter().zip(&alone).enumerate() {
        q.extend_from_slice(sq);
        k[seq * s_k * heads * d..][..sk.len()].copy_from_slice(sk);
        v[seq * s_k * heads * dv..][..sv.len()].copy_from_slice(sv);
        mask[seq * s_k..seq * s_k + len].fill(true);
    }
    let shape = AttentionShape {
        batch: lengths.len(),
        s_q,
        s_k,
        heads,
        d,
        dv,
    };
    let batched = attention(&q, &k, &v, &mask, shape, 0.25);
    for (seq, (_, _, _, want)) in alone.iter().enumerate() {
        let per_seq = s_q * heads * dv;
        assert_eq!(
            batched.out[seq * per_seq..(seq + 1) * per_seq],
            want.out[..],
            "sequence {seq}"
        );
        assert_eq!(
            batched.lse[seq * heads * s_q..(seq + 1) * heads * s_q],
            want.lse[..],
            "sequence {seq}"
        );
    }
}

#[test]
fn fast_attention_equals_the_reference() {
    for seed in 400..416 {
        let mut rng = Rng(seed);
        let (batch, heads) = (rng.between(1, 4), rng.between(1, 6));
        let (s_q, s_k) = (rng.between(1, 40), rng.between(1, 70));
        let (d, dv) = (rng.between(1, 48), rng.between(1, 48));
        let q = rng.matrix(batch * s_q * heads, d);
        let k = rng.matrix(batch * s_k * heads, d);
        let v = rng.matrix(batch * s_k * heads, dv);
        // Some sequences fully masked, the rest with random padding.
        let mask: Vec<bool> = (0..batch)
            .flat_map(|seq| {
                let len = if seq == 1 { 0 } else { rng.between(1, s_k) };
                (0..s_k).map(move |j| j < len)
            })
            .collect();
        let shape = AttentionShape {
            batch,
            s_q,
            s_k,
            heads,
            d,
            dv,
        };
        let scale = 1.0 / (d as f32).sqrt();
        let want = attention(&q, &k, &v, &mask, shape, scale);
        let got = attention_fast(&q, &k, &v, &mask, shape, scale);
        let what = format!("seed {seed}: {shape:?}");
        assert_close(&got.out, &want.out, &what);
        for (g, w) in got.lse.iter().zip(&want.lse) {
            assert!(
                g == w || (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{what}: lse {g} vs {w}"
            );
        }
    }
}

#[test]
fn fast_mla_decode_matches_the_reference() {
    for seed in 400..424 {
        let mut rng = Rng(seed);
        let (batch, s_q, h_kv) = (rng.between(1, 4), rng.between(1, 3), rng.between(1, 2));
        let h_q = h_kv * rng.between(1, 5);
        let block_size = rng.between(1, 16);
        let d = rng.between(2, 48);
        let dv = rng.between(1, d);
        let seqlens: Vec<i32> = (0..batch)
            .map(|_| {
                if rng.next_u64().is_multiple_of(4) {
                    0
                } else {
                    rng.between(1, 90) as i32
                }
            })
            .collect();
        let longest = seqlens.iter().copied().max().unwrap_or(0) as usize;
        let max_blocks = longest.div_ceil(block_size).max(1);
        // Pages in a shuffled order; every row past a sequence's length NaN.
        let num_blocks = batch * max_blocks;
        let mut block_table: Vec<i32> = (0..num_blocks as i32).collect();
        for i in (1..block_table.len()).rev() {
            block_table.swap(i, rng.between(0, i));
        }
        let row = h_kv * d;
        let mut blocks = rng.matrix(num_blocks * block_size, row);
        for (seq, &len) in seqlens.iter().enumerate() {
            for pos in len as usize..max_blocks * block_size {
                let block = block_table[seq * max_blocks + pos / block_size] as usize;
                let at = (block * block_size + pos % block_size) * row;
                blocks[at..at + row].fill(f32::NAN);
            }
        }
        let blocks_bf16: Vec<bf16> = blocks.iter().map(|&v| bf16::from_f32(v)).collect();
        let q = rng.matrix(batch * s_q * h_q, d);
        let scale = 1.0 / (d as f32).sqrt();
        let causal = rng.next_u64().is_multiple_of(2);
        let shape = MlaShape {
            batch,
            s_q,
            h_q,
            h_kv,
            d,
            dv,
            block_size,
        };
        for blocks in [KvBlocks::F32(&blocks), KvBlocks::Bf16(&blocks_bf16)] {
            let cache = KvCache {
                blocks,
                block_table: &block_table,
                seqlens: &seqlens,
            };
            let want = mla_decode(&q, shape, cache, scale, causal);
            let got = mla_decode_fast(&q, shape, cache, scale, causal);
            let bf16 = matches!(blocks, KvBlocks::Bf16(_));
            let what = format!(
                "seed {seed}: {shape:?} lengths {seqlens:?} causal {causal} bf16 cache {bf16}"
            );
            assert!(got.out.iter().all(|v| v.is_finite()), "{what}: read a NaN");
            assert_close(&got.out, &want.out, &what);
            for (g, w) in got.lse.iter().zip(&want.lse) {
                assert!(
                    g == w || (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "{what}: lse {g} vs {w}"
                );
            }
        }
    }
}
