//! `moe_route()` in SQL: a column of vectors routed through a router file the test writes,
//! against tarn-gpu's gate called directly.

use safetensors::{Dtype, tensor::TensorView};
use tarn_gpu::moe_gate::{GateConfig, ScoreFunc, gate};

use crate::sql::{error, query, session};

#[tokio::test]
async fn moe_route_routes_vectors_like_the_gate() {
    let (experts, dim) = (8, 4);
    let weight: Vec<f32> = (0..experts * dim)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.safetensors");
    let bytes: Vec<u8> = weight.iter().flat_map(|x| x.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, vec![experts, dim], &bytes).unwrap();
    safetensors::serialize_to_file([("weight", view)], None, &path).unwrap();

    let vectors = [[1.0f32, 0.0, 0.5, 2.0], [-1.0, 0.25, 3.0, 0.0]];
    let config = GateConfig {
        top_k: 2,
        n_groups: 2,
        topk_groups: 1,
        score: ScoreFunc::Sigmoid,
        route_scale: 2.5,
    };
    let want = gate(&vectors.concat(), dim, &weight, None, &config).unwrap();

    let mut s = session();
    let route = format!(
        "moe_route(v, '{}', top_k => 2, n_groups => 2, topk_groups => 1, score => 'sigmoid', \
         route_scale => 2.5)",
        path.display()
    );
    let rows = query(
        &mut s,
        &format!(
            "SELECT id, {route}['experts'], round({route}['weights'][1], 5), \
             round({route}['weights'][2], 5) \
             FROM (VALUES (1, [1.0, 0.0, 0.5, 2.0]), (2, [-1.0, 0.25, 3.0, 0.0]), (3, NULL)) t(id, v) \
             ORDER BY id"
        ),
    )
    .await;
    for (token, row) in rows.iter().take(2).enumerate() {
        let (experts, weights) = want.token(token);
        assert_eq!(
            row[1],
            format!("[{}, {}]", experts[0], experts[1]),
            "{rows:?}"
        );
        for (got, w) in row[2..].iter().zip(weights) {
            let got: f64 = got.parse().unwrap();
            assert!(
                (got - f64::from(*w)).abs() < 1e-5,
                "{rows:?} vs {weights:?}"
            );
        }
    }
    assert_eq!(rows[2][1..], ["NULL", "NULL", "NULL"]);

    // Defaults (top 6 of 8, softmax) and the errors, one line each.
    let rows = query(
        &mut s,
        &format!(
            "SELECT array_length(moe_route([1.0, 2.0, 3.0, 4.0], '{}')['experts'])",
            path.display()
        ),
    )
    .await;
    assert_eq!(rows, [["6"]]);
    let err = error(
        &mut s,
        &format!("SELECT moe_route([1.0, 2.0, 3.0], '{}')", path.display()),
    )
    .await;
    assert!(
        err.contains("moe_route: a vector of 3 values;") && err.contains("routes vectors of 4"),
        "{err}"
    );
    let err = error(
        &mut s,
        "SELECT moe_route([1.0], '/nonexistent/router.safetensors')",
    )
    .await;
    assert!(
        err.contains("moe_route: /nonexistent/router.safetensors: "),
        "{err}"
    );
    let err = error(
        &mut s,
        &format!(
            "SELECT moe_route([1.0], '{}', score => 'relu')",
            path.display()
        ),
    )
    .await;
    assert!(
        err.contains("moe_route: score 'relu' is not 'softmax' or 'sigmoid'"),
        "{err}"
    );
}

#[tokio::test]
async fn eplb_plans_expert_replicas_from_a_table_of_loads() {
    // DeepSeek's published example (2 layers × 12 experts onto 16 slots, 4 groups, 2 nodes,
    // 8 GPUs), as a Parquet file of (layer, expert, load) rows, with one layer's loads split
    // over two rows to show that rows add up.
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let path = format!("{crate_dir}/../../shared/testdata/gpu/eplb_vectors.json");
    let vectors: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut rows = Vec::new();
    for (layer, loads) in vectors["weight"].as_array().unwrap().iter().enumerate() {
        for (expert, load) in loads.as_array().unwrap().iter().enumerate() {
            let load = load.as_f64().unwrap();
            if layer == 1 && expert == 0 {
                rows.push(format!("({layer}, {expert}, {})", load / 2.0));
                rows.push(format!("({layer}, {expert}, {})", load / 2.0));
            } else {
                rows.push(format!("({layer}, {expert}, {load})"));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let loads = dir.path().join("loads.parquet");
    let mut s = session();
    query(
        &mut s,
        &format!(
            "COPY (SELECT * FROM (VALUES {}) t(layer, expert, load)) TO '{}'",
            rows.join(", "),
            loads.display()
        ),
    )
    .await;
    let plan = format!(
        "eplb('{}', replicas => 16, groups => 4, nodes => 2, gpus => 8)",
        loads.display()
    );
    let got = query(
        &mut s,
        &format!(
            "SELECT layer, array_agg(expert ORDER BY slot) FROM {plan} GROUP BY layer ORDER BY layer"
        ),
    )
    .await;
    let want = &vectors["hierarchical"]["phy2log"];
    for (layer, row) in got.iter().enumerate() {
        let experts: Vec<String> = want[layer]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(row[1], format!("[{}]", experts.join(", ")), "layer {layer}");
    }
    // Two slots per GPU, four GPUs per node; replicas of an expert are numbered 0, 1, ...
    let checks = query(
        &mut s,
        &format!(
            "SELECT bool_and((gpu = slot // 2) AND (node = gpu // 4)), count(*), \
             count(DISTINCT layer * 10000 + expert * 100 + replica) FROM {plan}"
        ),
    )
    .await;
    assert_eq!(checks, [["true", "32", "32"]]);

    // A table works as well as a file.
    query(
        &mut s,
        &format!("CREATE TABLE loads AS SELECT * FROM '{}'", loads.display()),
    )
    .await;
    let slots = query(
        &mut s,
        "SELECT count(*) FROM eplb('loads', replicas => 16, groups => 4, nodes => 2, gpus => 8)",
    )
    .await;
    assert_eq!(slots, [["32"]]);

    let err = error(
        &mut s,
        &format!("SELECT * FROM eplb('{}', replicas => 16)", loads.display()),
    )
    .await;
    assert!(err.contains("eplb(): gpus => N is required"), "{err}");
    let err = error(
        &mut s,
        "SELECT * FROM eplb('nowhere.parquet', replicas => 16, gpus => 8)",
    )
    .await;
    assert!(err.contains("nowhere.parquet"), "{err}");
}
