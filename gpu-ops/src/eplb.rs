//! DeepSeek's expert-parallel load balancer (`rebalance_experts` in the EPLB repository), on the
//! CPU: given each layer's load per logical expert, choose which experts get extra replicas and
//! on which GPU every physical expert slot sits.
//!
//! * Hierarchical policy (when the expert groups divide evenly over the nodes): pack whole
//!   groups onto nodes so that node loads are even, replicate the hottest experts within each
//!   node, then pack the node's physical experts onto its GPUs.
//! * Global policy (otherwise): the same with one group and one node.
//!
//! Packing is greedy: items in order of decreasing weight, each to the lightest pack that still
//! has room. Replication repeatedly gives one more replica to the expert with the highest load
//! per replica. Ties (equal weights) go to the lower index, packs as well as experts, so the
//! result is fully determined.

use crate::topk::descending;

/// Where every physical expert slot goes, per layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `[layer][physical slot]`: the logical expert in each slot (slots are ordered by GPU:
    /// slot / (replicas / gpus) is the GPU).
    pub phy2log: Vec<Vec<usize>>,
    /// `[layer][logical expert][replica]`: the slots holding each expert, `-1` past its count.
    pub log2phy: Vec<Vec<Vec<i64>>>,
    /// `[layer][logical expert]`: how many replicas each expert has.
    pub logcnt: Vec<Vec<usize>>,
}

/// The cluster an expert layout is planned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cluster {
    /// Physical expert slots per layer (logical experts plus redundant replicas).
    pub replicas: usize,
    /// Expert groups (the MoE gate's groups).
    pub groups: usize,
    pub nodes: usize,
    pub gpus: usize,
}

/// Settings that cannot be satisfied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("eplb: {0}")]
pub struct EplbError(String);

/// Plans replicas and placement for `weight[layer][expert]` (each expert's load).
pub fn rebalance_experts(weight: &[Vec<f64>], cluster: Cluster) -> Result<Placement, EplbError> {
    let experts = weight.first().map_or(0, Vec::len);
    check(weight, experts, cluster)?;
    let (groups, nodes) = if cluster.groups.is_multiple_of(cluster.nodes) {
        (cluster.groups, cluster.nodes)
    } else {
        (1, 1)
    };
    let mut placement = Placement {
        phy2log: Vec::new(),
        log2phy: Vec::new(),
        logcnt: Vec::new(),
    };
    let mut ranks = Vec::new();
    for layer in weight {
        let (phy2log, rank, logcnt) =
            hierarchical(layer, cluster.replicas, groups, nodes, cluster.gpus);
        placement.phy2log.push(phy2log);
        placement.logcnt.push(logcnt);
        ranks.push(rank);
    }
    let max_count = placement
        .logcnt
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0);
    for (phy2log, rank) in placement.phy2log.iter().zip(&ranks) {
        let mut log2phy = vec![vec![-1; max_count]; experts];
        for (slot, (&expert, &r)) in phy2log.iter().zip(rank).enumerate() {
            log2phy[expert][r] = slot as i64;
        }
        placement.log2phy.push(log2phy);
    }
    Ok(placement)
}

fn check(weight: &[Vec<f64>], experts: usize, c: Cluster) -> Result<(), EplbError> {
    let fail = |text: String| Err(EplbError(text));
    if weight.iter().any(|layer| layer.len() != experts) {
        return fail("every layer must have the same number of experts".into());
    }
    if c.groups == 0 || c.nodes == 0 || c.gpus == 0 {
        return fail("groups, nodes and gpus must be at least 1".into());
    }
    if !experts.is_multiple_of(c.groups) {
        return fail(format!(
            "{experts} experts do not split into {} groups",
            c.groups
        ));
    }
    if c.replicas < experts || !c.replicas.is_multiple_of(c.gpus) {
        return fail(format!(
            "{} replicas must be at least the {experts} experts and a multiple of {} gpus",
            c.replicas, c.gpus
        ));
    }
    // The hierarchical policy needs GPUs and slots that split evenly over the nodes; the global
    // policy (groups that do not split over the nodes) plans as if for one node.
    if c.groups.is_multiple_of(c.nodes)
        && !(c.gpus.is_multiple_of(c.nodes) && c.replicas.is_multiple_of(c.nodes))
    {
        return fail(format!(
            "{} gpus do not split over {} nodes",
            c.gpus, c.nodes
        ));
    }
    Ok(())
}

/// One layer: (slot → logical expert, slot → replica rank, expert → replica count).
fn hierarchical(
    weight: &[f64],
    replicas: usize,
    groups: usize,
    nodes: usize,
    gpus: usize,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let experts = weight.len();
    let group_size = experts / groups;
    let groups_per_node = groups / nodes;
    let per_gpu = replicas / gpus;
    let experts_per_node = experts / nodes;
    let slots_per_node = replicas / nodes;

    // 1. Groups onto nodes; experts renumbered node by node ("mlog": node-major order).
    let group_load: Vec<f64> = weight
        .chunks_exact(group_size)
        .map(|g| g.iter().sum())
        .collect();
    let (node_of_group, rank_of_group) = balanced_packing(&group_load, nodes);
    let mut log2mlog = vec![0; experts];
    for (expert, slot) in log2mlog.iter_mut().enumerate() {
        let group = expert / group_size;
        *slot = (node_of_group[group] * groups_per_node + rank_of_group[group]) * group_size
            + expert % group_size;
    }
    let mut mlog2log = vec![0; experts];
    for (expert, &m) in log2mlog.iter().enumerate() {
        mlog2log[m] = expert;
    }

    let mut phy2log = vec![0; replicas];
    let mut phy_rank = vec![0; replicas];
    let mut mlog_count = vec![0; experts];
    for node in 0..nodes {
        // 2. Replicas of the node's hottest experts.
        let loads: Vec<f64> = (0..experts_per_node)
            .map(|i| weight[mlog2log[node * experts_per_node + i]])
            .collect();
        let (phy2mlog, rank, count) = replicate_experts(&loads, slots_per_node);
        // 3. The node's physical experts onto its GPUs.
        let per_replica: Vec<f64> = phy2mlog
            .iter()
            .map(|&m| loads[m] / count[m] as f64)
            .collect();
        let (gpu, rank_on_gpu) = balanced_packing(&per_replica, gpus / nodes);
        for phy in 0..slots_per_node {
            let slot = node * slots_per_node + gpu[phy] * per_gpu + rank_on_gpu[phy];
            phy2log[slot] = mlog2log[node * experts_per_node + phy2mlog[phy]];
            phy_rank[slot] = rank[phy];
        }
        for (i, &c) in count.iter().enumerate() {
            mlog_count[node * experts_per_node + i] = c;
        }
    }
    let logcnt = (0..experts).map(|e| mlog_count[log2mlog[e]]).collect();
    (phy2log, phy_rank, logcnt)
}

/// Greedy packing of `weights` into `packs` packs of equal item count: heaviest item first, each
/// into the lightest pack with room. Returns each item's pack and its position in the pack.
fn balanced_packing(weights: &[f64], packs: usize) -> (Vec<usize>, Vec<usize>) {
    let per_pack = weights.len() / packs;
    if per_pack == 1 {
        return ((0..weights.len()).collect(), vec![0; weights.len()]);
    }
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| descending(weights[a], weights[b]).then(a.cmp(&b)));
    let mut load = vec![0.0_f64; packs];
    let mut items = vec![0; packs];
    let mut pack_of = vec![0; weights.len()];
    let mut rank_of = vec![0; weights.len()];
    for item in order {
        let pack = (0..packs)
            .filter(|&p| items[p] < per_pack)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("the packs have room for every item");
        pack_of[item] = pack;
        rank_of[item] = items[pack];
        load[pack] += weights[item];
        items[pack] += 1;
    }
    (pack_of, rank_of)
}

/// Gives `slots - loads.len()` extra replicas, one at a time, to the expert with the highest load
/// per replica. Returns each slot's expert, each slot's replica rank and each expert's count.
fn replicate_experts(loads: &[f64], slots: usize) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut phy2log: Vec<usize> = (0..loads.len()).collect();
    let mut rank = vec![0; loads.len()];
    let mut count = vec![1; loads.len()];
    for _ in loads.len()..slots {
        let hottest = (0..loads.len())
            .min_by(|&a, &b| {
                descending(loads[a] / count[a] as f64, loads[b] / count[b] as f64).then(a.cmp(&b))
            })
            .expect("at least one expert");
        phy2log.push(hottest);
        rank.push(count[hottest]);
        count[hottest] += 1;
    }
    (phy2log, rank, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hottest_expert_gets_the_spare_slots() {
        let weight = vec![vec![10.0, 100.0, 20.0, 30.0]];
        let cluster = Cluster {
            replicas: 6,
            groups: 1,
            nodes: 1,
            gpus: 2,
        };
        let placement = rebalance_experts(&weight, cluster).unwrap();
        assert_eq!(placement.logcnt, [[1, 3, 1, 1]]);
        // Every slot of expert 1 is listed once in log2phy, and each slot holds its expert.
        for (expert, slots) in placement.log2phy[0].iter().enumerate() {
            for &slot in slots.iter().filter(|&&s| s >= 0) {
                assert_eq!(placement.phy2log[0][slot as usize], expert);
            }
        }
    }

    #[test]
    fn impossible_layouts_are_one_clear_error() {
        let weight = vec![vec![1.0; 8]];
        let cluster = Cluster {
            replicas: 6,
            groups: 2,
            nodes: 2,
            gpus: 2,
        };
        let err = rebalance_experts(&weight, cluster).unwrap_err().to_string();
        assert_eq!(
            err,
            "eplb: 6 replicas must be at least the 8 experts and a multiple of 2 gpus"
        );
    }
}
