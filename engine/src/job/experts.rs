//! Placing MoE experts over a job's partitions with EPLB, for `repartition_by_expert`: the rows
//! routed to each expert are its load, each partition has the same number of expert slots, and
//! EPLB (tarn-gpu's `rebalance_experts`, global policy) fills the spare slots with replicas of
//! the hottest experts and packs the slots so that partition loads are even.

use tarn_gpu::eplb::{Cluster, rebalance_experts};

use crate::error::{Result, TarnError};

/// For each expert `0..experts`, the partitions holding its replicas (a partition appears once
/// per replica it holds). `rows` are `(expert, row count)` pairs, repeated experts adding up;
/// experts without rows have load 0 and still get a slot. `slots` per partition default to one
/// more than an even share of the experts.
pub fn placement(
    rows: &[(i64, i64)],
    partitions: usize,
    slots: Option<usize>,
) -> Result<Vec<Vec<u32>>> {
    let invalid = |text: String| TarnError::Invalid(format!("repartition_by_expert: {text}"));
    if let Some((expert, _)) = rows.iter().find(|(e, _)| *e < 0) {
        return Err(invalid(format!("expert {expert} is negative")));
    }
    let experts = rows.iter().map(|(e, _)| *e as usize + 1).max().unwrap_or(0);
    if experts == 0 {
        return Err(invalid("no rows to place".into()));
    }
    if partitions == 0 {
        return Err(invalid("no partitions".into()));
    }
    let slots = slots.unwrap_or(experts.div_ceil(partitions) + 1);
    let replicas = partitions * slots;
    if replicas < experts {
        return Err(invalid(format!(
            "{experts} experts do not fit in {partitions} partitions × {slots} slots"
        )));
    }
    let mut load = vec![0.0; experts];
    for (expert, count) in rows {
        load[*expert as usize] += *count as f64;
    }
    let cluster = Cluster {
        replicas,
        groups: 1,
        nodes: 1,
        gpus: partitions,
    };
    let plan = rebalance_experts(&[load], cluster).map_err(|e| invalid(e.to_string()))?;
    let mut homes = vec![Vec::new(); experts];
    for (slot, &expert) in plan.phy2log[0].iter().enumerate() {
        homes[expert].push((slot / slots) as u32);
    }
    Ok(homes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hot_expert_gets_the_spare_slots_and_every_expert_a_home() {
        // Expert 0 carries half the rows; 4 partitions × 3 slots for 8 experts.
        let mut rows = vec![(0, 500)];
        rows.extend((1..8).map(|e| (e, 70)));
        let homes = placement(&rows, 4, Some(3)).unwrap();
        assert_eq!(homes.len(), 8);
        assert!(homes.iter().all(|h| !h.is_empty()));
        assert_eq!(homes.iter().map(Vec::len).sum::<usize>(), 12);
        assert!(homes[0].len() >= 4, "{homes:?}");
        // Each partition's expected rows: its replicas' shares of their experts' loads.
        let mut per_partition = [0.0f64; 4];
        let loads: Vec<f64> = rows.iter().map(|r| r.1 as f64).collect();
        for (expert, homes) in homes.iter().enumerate() {
            for &p in homes {
                per_partition[p as usize] += loads[expert] / homes.len() as f64;
            }
        }
        let max = per_partition.iter().copied().fold(0.0, f64::max);
        assert!(max <= 1.2 * 990.0 / 4.0, "{per_partition:?}");
    }

    #[test]
    fn too_many_experts_is_one_clear_error() {
        let err = placement(&[(9, 1)], 2, Some(4)).unwrap_err().to_string();
        assert!(
            err.contains("10 experts do not fit in 2 partitions × 4 slots"),
            "{err}"
        );
    }
}
