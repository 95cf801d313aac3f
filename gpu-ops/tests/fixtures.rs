//! The operators against the reference vectors in `../shared/testdata/gpu/` (made with the
//! upstream PyTorch code), with the tolerances its README gives.

use serde_json::Value;
use tarn_gpu::eplb::{Cluster, rebalance_experts};
use tarn_gpu::moe_gate::{GateConfig, ScoreFunc, gate};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/testdata/gpu/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
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
