//! DeepSeek-V3's MoE gate (`Gate.forward` in the V3 inference code), on the CPU.
//!
//! For each token: scores = x·Wᵀ passed through a sigmoid or a softmax; a correction bias, when
//! given, is added for *choosing* experts only; with `n_groups > 1` the experts are cut into
//! equal groups, each group scored (the best expert without a bias, the sum of its best two with
//! one), and only the `topk_groups` best groups stay eligible; the `top_k` best eligible experts
//! are chosen. Their weights come from the scores *without* the bias, are normalised to sum to
//! one for the sigmoid (the softmax already is), and are multiplied by `route_scale`. Ties go to
//! the lower expert or group index. Sums and activations run in f64.

use std::path::Path;

use crate::topk::top_k;
use crate::weights::{self, Tensors, WeightsError};

/// How raw gate logits become scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreFunc {
    Sigmoid,
    Softmax,
}

/// The gate's settings (DeepSeek-V3's `ModelArgs` names).
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Experts chosen per token.
    pub top_k: usize,
    /// Groups the experts are cut into (1: no group limit).
    pub n_groups: usize,
    /// Groups whose experts stay eligible.
    pub topk_groups: usize,
    pub score: ScoreFunc,
    /// Multiplies every weight.
    pub route_scale: f32,
}

/// Each token's experts (best first) and their weights, `top_k` per token.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub top_k: usize,
    pub experts: Vec<u32>,
    pub weights: Vec<f32>,
}

impl Routing {
    /// The experts and weights of one token.
    pub fn token(&self, t: usize) -> (&[u32], &[f32]) {
        let span = t * self.top_k..(t + 1) * self.top_k;
        (&self.experts[span.clone()], &self.weights[span])
    }
}

/// Shapes and settings the gate cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GateError {
    #[error("moe gate: {what} has {got} values, expected {expected}")]
    Shape {
        what: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("moe gate: {0}")]
    Config(String),
}

/// Routes `tokens` rows of `x` (`[tokens, dim]`, row-major) over the experts whose gate weights
/// are the rows of `weight` (`[experts, dim]`); `bias` is the per-expert correction bias.
pub fn gate(
    x: &[f32],
    dim: usize,
    weight: &[f32],
    bias: Option<&[f32]>,
    config: &GateConfig,
) -> Result<Routing, GateError> {
    let experts = weight.len().checked_div(dim).unwrap_or(0);
    check_shapes(x, dim, weight, bias, experts)?;
    check_config(config, experts)?;
    let tokens = x.len().checked_div(dim).unwrap_or(0);
    let mut routing = Routing {
        top_k: config.top_k,
        experts: Vec::with_capacity(tokens * config.top_k),
        weights: Vec::with_capacity(tokens * config.top_k),
    };
    for row in x.chunks_exact(dim) {
        let scores = activate(&logits(row, weight, dim), config.score);
        let chosen = choose(&scores, bias, config);
        let mut weights: Vec<f64> = chosen.iter().map(|&e| scores[e]).collect();
        if config.score == ScoreFunc::Sigmoid {
            let sum: f64 = weights.iter().sum();
            weights.iter_mut().for_each(|w| *w /= sum);
        }
        routing.experts.extend(chosen.iter().map(|&e| e as u32));
        routing.weights.extend(
            weights
                .iter()
                .map(|w| (w * f64::from(config.route_scale)) as f32),
        );
    }
    Ok(routing)
}

/// A MoE layer's gate weights, loaded from a safetensors file: `weight` (`[experts, dim]`,
/// also found as `gate.weight`) and, when present, the correction bias (`bias`,
/// `e_score_correction_bias` or `gate.e_score_correction_bias`, `[experts]`); F32 or BF16.
#[derive(Debug, Clone, PartialEq)]
pub struct Router {
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub experts: usize,
    pub dim: usize,
}

impl Router {
    pub fn load(path: &Path) -> Result<Router, WeightsError> {
        let bytes = weights::read(path)?;
        let tensors = Tensors::parse(&bytes, path)?;
        let find = |names: &[&'static str]| names.iter().copied().find(|n| tensors.contains(n));
        let Some(weight_name) = find(&["weight", "gate.weight"]) else {
            return Err(WeightsError::new(
                path,
                "no gate weight: expected a tensor 'weight' of shape [experts, dim]",
            ));
        };
        let [experts, dim] = tensors.shape(weight_name)?[..] else {
            return Err(WeightsError::new(
                path,
                format!("'{weight_name}' must have two dimensions, [experts, dim]"),
            ));
        };
        let bias = find(&[
            "bias",
            "e_score_correction_bias",
            "gate.e_score_correction_bias",
        ])
        .map(|name| tensors.f32(name, experts))
        .transpose()?;
        Ok(Router {
            weight: tensors.f32(weight_name, experts * dim)?,
            bias,
            experts,
            dim,
        })
    }

    /// Routes the rows of `x` (`[tokens, dim]`).
    pub fn route(&self, x: &[f32], config: &GateConfig) -> Result<Routing, GateError> {
        gate(x, self.dim, &self.weight, self.bias.as_deref(), config)
    }
}

pub(crate) fn check_shapes(
    x: &[f32],
    dim: usize,
    weight: &[f32],
    bias: Option<&[f32]>,
    experts: usize,
) -> Result<(), GateError> {
    let shape = |what, got, expected| GateError::Shape {
        what,
        got,
        expected,
    };
    if dim == 0 || !x.len().is_multiple_of(dim) {
        return Err(shape("x", x.len(), x.len().next_multiple_of(dim.max(1))));
    }
    if weight.len() != experts * dim || experts == 0 {
        return Err(shape("weight", weight.len(), experts.max(1) * dim));
    }
    match bias {
        Some(bias) if bias.len() != experts => Err(shape("bias", bias.len(), experts)),
        _ => Ok(()),
    }
}

pub(crate) fn check_config(config: &GateConfig, experts: usize) -> Result<(), GateError> {
    let fail = |text: String| Err(GateError::Config(text));
    if config.n_groups == 0 || !experts.is_multiple_of(config.n_groups) {
        return fail(format!(
            "{experts} experts do not split into {} groups",
            config.n_groups
        ));
    }
    if config.topk_groups == 0 || config.topk_groups > config.n_groups {
        return fail(format!(
            "topk_groups {} is not in 1..={}",
            config.topk_groups, config.n_groups
        ));
    }
    let eligible = experts / config.n_groups * config.topk_groups;
    if config.top_k == 0 || config.top_k > eligible {
        return fail(format!(
            "top_k {} is not in 1..={eligible} (the experts of {} groups)",
            config.top_k, config.topk_groups
        ));
    }
    Ok(())
}

/// x·Wᵀ for one token.
fn logits(row: &[f32], weight: &[f32], dim: usize) -> Vec<f64> {
    weight
        .chunks_exact(dim)
        .map(|w| {
            row.iter()
                .zip(w)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum()
        })
        .collect()
}

fn activate(logits: &[f64], score: ScoreFunc) -> Vec<f64> {
    match score {
        ScoreFunc::Sigmoid => logits.iter().map(|l| 1.0 / (1.0 + (-l).exp())).collect(),
        ScoreFunc::Softmax => {
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            exps.iter().map(|e| e / sum).collect()
        }
    }
}

/// The chosen experts, best first: biased scores, limited to the best groups.
fn choose(scores: &[f64], bias: Option<&[f32]>, config: &GateConfig) -> Vec<usize> {
    let mut selection: Vec<f64> = match bias {
        Some(bias) => scores
            .iter()
            .zip(bias)
            .map(|(s, b)| s + f64::from(*b))
            .collect(),
        None => scores.to_vec(),
    };
    if config.n_groups > 1 {
        let group_size = selection.len() / config.n_groups;
        let group_scores: Vec<f64> = selection
            .chunks_exact(group_size)
            .map(|group| match bias {
                None => group.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Some(_) => top_k(group, 2).iter().map(|&i| group[i]).sum(),
            })
            .collect();
        let kept = top_k(&group_scores, config.topk_groups);
        for (g, group) in selection.chunks_exact_mut(group_size).enumerate() {
            if !kept.contains(&g) {
                group.fill(f64::NEG_INFINITY);
            }
        }
    }
    top_k(&selection, config.top_k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(top_k: usize, n_groups: usize, topk_groups: usize) -> GateConfig {
        GateConfig {
            top_k,
            n_groups,
            topk_groups,
            score: ScoreFunc::Sigmoid,
            route_scale: 1.0,
        }
    }

    #[test]
    fn the_group_limit_keeps_experts_of_the_best_groups_only() {
        // Two tokens, identity-like gate over 4 experts in 2 groups: token 0 prefers expert 3
        // (group 1), token 1 expert 0 (group 0). With one group kept, both picks stay in it.
        let w = [1.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 1.0_f32];
        let x = [0.1, 2.0, 3.0, 0.5_f32];
        let routing = gate(&x, 2, &w, None, &config(2, 2, 1)).unwrap();
        assert_eq!(routing.token(0).0, [3, 2]);
        assert_eq!(routing.token(1).0, [0, 1]);
        let (_, weights) = routing.token(0);
        assert!(
            (weights[0] + weights[1] - 1.0).abs() < 1e-6,
            "sigmoid weights sum to one"
        );
    }

    #[test]
    fn bad_settings_are_one_clear_error() {
        let w = [0.0_f32; 8];
        let err = gate(&[0.0; 2], 2, &w, None, &config(3, 2, 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "moe gate: top_k 3 is not in 1..=2 (the experts of 1 groups)"
        );
        let err = gate(&[0.0; 3], 2, &w, None, &config(1, 1, 1)).unwrap_err();
        assert_eq!(err.to_string(), "moe gate: x has 3 values, expected 4");
        let err = gate(&[0.0; 2], 2, &w, Some(&[0.0; 3]), &config(1, 1, 1)).unwrap_err();
        assert_eq!(err.to_string(), "moe gate: bias has 3 values, expected 4");
    }
}
