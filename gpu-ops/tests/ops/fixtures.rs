//! The operators against the reference vectors in `../shared/testdata/gpu/` (made with the
//! upstream PyTorch code), with the tolerances its README gives.

use crate::support::difference;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde_json::Value;
use tarn_gpu::eplb::{Cluster, rebalance_experts};
use tarn_gpu::fp8::{Fp8Matrix, Grouping, fast, quantize, reference};
use tarn_gpu::mla::{KvBlocks, KvCache, MlaShape, bf16, mla_decode, mla_decode_fast};
use tarn_gpu::moe_gate::{GateConfig, Router, ScoreFunc, gate};

/// A file of `../shared/testdata/gpu/`, found from the crate folder when the test runs (not when
/// it compiles: clones share one target folder, so a baked-in path may name another clone).
fn fixture_bytes(name: &str) -> Vec<u8> {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo test");
    let path = format!("{crate_dir}/../../shared/testdata/gpu/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture_bytes(name)).unwrap()
}

/// A tensor of a safetensors file as f32 values (F32, BF16) or raw bytes widened (U8).
fn tensor(file: &SafeTensors, name: &str) -> Vec<f32> {
    let view = file.tensor(name).unwrap();
    let data = view.data();
    match view.dtype() {
        safetensors::Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        safetensors::Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes(b.try_into().unwrap()).to_f32())
            .collect(),
        safetensors::Dtype::U8 => data.iter().map(|&b| f32::from(b)).collect(),
        safetensors::Dtype::I32 => data
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f32)
            .collect(),
        other => panic!("{name}: unexpected dtype {other:?}"),
    }
}

#[test]
fn fp8_gemm_matches_deepgemm() {
    let bytes = fixture_bytes("fp8_gemm_fixture.safetensors");
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let (m, n, k) = (5, 192, 384);
    let bits = |name| {
        tensor(&file, name)
            .into_iter()
            .map(|b| b as u8)
            .collect::<Vec<u8>>()
    };
    let a = Fp8Matrix {
        rows: m,
        cols: k,
        bits: bits("x_fp8_bits"),
        scales: tensor(&file, "x_scale"),
    };
    let b = Fp8Matrix {
        rows: n,
        cols: k,
        bits: bits("w_fp8_bits"),
        scales: tensor(&file, "w_scale"),
    };
    // Quantising the bf16 inputs gives the fixture's bytes and scales.
    let x = tensor(&file, "x_bf16");
    let w = tensor(&file, "w_bf16");
    for (got, want) in [
        (quantize(&x, m, k, Grouping::PerToken, false), &a),
        (quantize(&w, n, k, Grouping::PerBlock, false), &b),
    ] {
        assert_eq!(got.scales, want.scales);
        // One activation byte of the 1 920 rounds to the neighbouring code (a value on a rounding
        // boundary); allow that, rarely.
        let differing: Vec<(u8, u8)> = got
            .bits
            .iter()
            .zip(&want.bits)
            .filter(|(g, w)| g != w)
            .map(|(g, w)| (*g, *w))
            .collect();
        assert!(
            differing.len() <= 1 + got.bits.len() / 1000,
            "{} bytes differ",
            differing.len()
        );
        assert!(
            differing.iter().all(|(g, w)| g.abs_diff(*w) == 1),
            "{differing:?}"
        );
    }

    let want = tensor(&file, "out_f32");
    let exact = tensor(&file, "ref_unquantized_f32");
    let max = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (path, out) in [
        ("reference", reference::gemm_fp8_nt(&a, &b)),
        ("fast", fast::gemm_fp8_nt(&a, &b)),
    ] {
        let worst = out
            .iter()
            .zip(&want)
            .map(|(o, w)| (o - w).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4 * max,
            "{path}: max abs error {worst} > 1e-4 × {max}"
        );
        let diff = difference(&out, &exact);
        assert!(
            diff < 1e-3,
            "{path}: difference from the unquantised product {diff}"
        );
    }
}

fn floats(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        number => vec![number.as_f64().expect("a number")],
    }
}

fn ints(value: &Value) -> Vec<i64> {
    floats(value).into_iter().map(|v| v as i64).collect()
}

#[test]
fn moe_gate_matches_deepseek_v3() {
    let vectors = fixture("gate_vectors.json");
    let x: Vec<f32> = floats(&vectors["x"])
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let w: Vec<f32> = floats(&vectors["W"])
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let dim = vectors["x"][0].as_array().unwrap().len();
    for case in [
        "v3_sigmoid_bias_grouped",
        "v2_softmax_grouped_nobias",
        "softmax_flat",
    ] {
        let case_vectors = &vectors[case];
        let params = &case_vectors["params"];
        let bias: Option<Vec<f32>> = params["bias"]
            .as_array()
            .map(|b| b.iter().map(|v| v.as_f64().unwrap() as f32).collect());
        let config = GateConfig {
            top_k: params["topk"].as_u64().unwrap() as usize,
            n_groups: params["n_groups"].as_u64().unwrap() as usize,
            topk_groups: params["topk_groups"].as_u64().unwrap() as usize,
            score: match params["score_func"].as_str().unwrap() {
                "sigmoid" => ScoreFunc::Sigmoid,
                _ => ScoreFunc::Softmax,
            },
            route_scale: params["route_scale"].as_f64().unwrap() as f32,
        };
        let routing = gate(&x, dim, &w, bias.as_deref(), &config).unwrap();
        // The same gate saved as a router file (BF16-exact weights read back the same).
        let file = router_file(&w, dim, bias.as_deref());
        let router = Router::load(&file).unwrap();
        std::fs::remove_file(file).unwrap();
        assert_eq!(
            router.route(&x, &config).unwrap(),
            routing,
            "{case}: router file"
        );
        let experts: Vec<i64> = routing.experts.iter().map(|&e| i64::from(e)).collect();
        assert_eq!(experts, ints(&case_vectors["indices"]), "{case}: indices");
        for (got, want) in routing.weights.iter().zip(floats(&case_vectors["weights"])) {
            assert!(
                (f64::from(*got) - want).abs() <= 1e-6,
                "{case}: weight {got} vs {want}"
            );
        }
    }
}

/// A safetensors file holding a gate: `weight` `[experts, dim]` and, if given,
/// `e_score_correction_bias`.
fn router_file(weight: &[f32], dim: usize, bias: Option<&[f32]>) -> std::path::PathBuf {
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let experts = weight.len() / dim;
    let (weight, bias) = (bytes(weight), bias.map(bytes));
    let mut tensors = vec![(
        "weight",
        TensorView::new(Dtype::F32, vec![experts, dim], &weight).unwrap(),
    )];
    if let Some(bias) = &bias {
        tensors.push((
            "e_score_correction_bias",
            TensorView::new(Dtype::F32, vec![experts], bias).unwrap(),
        ));
    }
    let path = std::env::temp_dir().join(format!(
        "tarn-router-{}-{}.safetensors",
        std::process::id(),
        bias.is_some()
    ));
    safetensors::serialize_to_file(tensors, None, &path).unwrap();
    path
}

#[test]
fn eplb_matches_the_published_example_and_the_global_policy() {
    let vectors = fixture("eplb_vectors.json");
    let weight: Vec<Vec<f64>> = vectors["weight"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let count = |key: &str| vectors[key].as_u64().unwrap() as usize;
    let cluster = Cluster {
        replicas: count("num_replicas"),
        groups: count("num_groups"),
        nodes: count("num_nodes"),
        gpus: count("num_gpus"),
    };
    for (case, nodes) in [
        ("hierarchical", cluster.nodes),
        ("global_policy_num_nodes_3", 3),
    ] {
        let placement = rebalance_experts(&weight, Cluster { nodes, ..cluster }).unwrap();
        let want = &vectors[case];
        let phy2log: Vec<i64> = placement
            .phy2log
            .iter()
            .flatten()
            .map(|&e| e as i64)
            .collect();
        assert_eq!(phy2log, ints(&want["phy2log"]), "{case}: phy2log");
        let log2phy: Vec<i64> = placement
            .log2phy
            .iter()
            .flatten()
            .flatten()
            .copied()
            .collect();
        assert_eq!(log2phy, ints(&want["log2phy"]), "{case}: log2phy");
        let logcnt: Vec<i64> = placement
            .logcnt
            .iter()
            .flatten()
            .map(|&c| c as i64)
            .collect();
        assert_eq!(logcnt, ints(&want["logcnt"]), "{case}: logcnt");
    }
}

#[test]
fn mla_decode_matches_flashmla_and_never_reads_past_a_sequence() {
    let bytes = fixture_bytes("mla_decode_fixture.safetensors");
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let shape = MlaShape {
        batch: 2,
        s_q: 2,
        h_q: 4,
        h_kv: 1,
        d: 576,
        dv: 512,
        block_size: 64,
    };
    let q = tensor(&file, "q");
    let mut blocks = tensor(&file, "k_cache");
    let block_table: Vec<i32> = tensor(&file, "block_table")
        .iter()
        .map(|&v| v as i32)
        .collect();
    let seqlens: Vec<i32> = tensor(&file, "cache_seqlens")
        .iter()
        .map(|&v| v as i32)
        .collect();
    // Poison every cache row no sequence may read: rows past each length and unused blocks.
    let mut readable = vec![false; blocks.len() / 576];
    for (seq, &len) in seqlens.iter().enumerate() {
        for pos in 0..len as usize {
            readable[block_table[seq * 2 + pos / 64] as usize * 64 + pos % 64] = true;
        }
    }
    for (row, values) in blocks.chunks_exact_mut(576).enumerate() {
        if !readable[row] {
            values.fill(f32::NAN);
        }
    }
    // The fixture's cache is bf16: read as such, and widened to f32.
    let blocks_bf16: Vec<bf16> = blocks.iter().map(|&v| bf16::from_f32(v)).collect();
    for (kind, blocks) in [
        ("f32", KvBlocks::F32(&blocks)),
        ("bf16", KvBlocks::Bf16(&blocks_bf16)),
    ] {
        let cache = KvCache {
            blocks,
            block_table: &block_table,
            seqlens: &seqlens,
        };
        for (causal, out_name, lse_name) in [
            (true, "out_causal", "lse_causal"),
            (false, "out_noncausal", "lse_noncausal"),
        ] {
            for (path, decode) in [
                ("reference", mla_decode as fn(_, _, _, _, _) -> _),
                ("fast", mla_decode_fast),
            ] {
                let got = decode(&q, shape, cache, 1.0 / 576f32.sqrt(), causal);
                let out = tensor(&file, out_name);
                let lse = tensor(&file, lse_name);
                let name = format!("{out_name} from a {kind} cache, {path} path");
                assert!(
                    got.out.iter().chain(&got.lse).all(|v| v.is_finite()),
                    "{name}: read a poisoned row"
                );
                assert!(
                    difference(&got.out, &out) < 1e-5,
                    "{name}: {}",
                    difference(&got.out, &out)
                );
                assert!(
                    difference(&got.lse, &lse) < 1e-5,
                    "{name} lse: {}",
                    difference(&got.lse, &lse)
                );
            }
        }
    }
}

#[test]
fn an_empty_sequence_gives_zeros_and_infinite_lse() {
    let shape = MlaShape {
        batch: 1,
        s_q: 1,
        h_q: 2,
        h_kv: 1,
        d: 8,
        dv: 4,
        block_size: 4,
    };
    let blocks = vec![f32::NAN; 4 * 8];
    let cache = KvCache {
        blocks: KvBlocks::F32(&blocks),
        block_table: &[0],
        seqlens: &[0],
    };
    for got in [
        mla_decode(&[1.0; 16], shape, cache, 1.0, true),
        mla_decode_fast(&[1.0; 16], shape, cache, 1.0, true),
    ] {
        assert_eq!(got.out, [0.0; 8]);
        assert_eq!(got.lse, [f32::INFINITY; 2]);
    }
}
