//! Host side of the MoE gate kernel.

use cudarc::driver::{LaunchConfig, PushKernelArg};

use super::program::{Kernels, Program};
use super::{Gpu, driver};
use crate::device::DeviceError;
use crate::moe_gate::{GateConfig, Routing, ScoreFunc, check_config, check_shapes};

/// Shared memory the kernel may use without opting in to more: the token's row in f32 and
/// two f64 values per expert.
const SHARED_BYTES: usize = 48 * 1024;

impl Gpu {
    pub(crate) fn gate(
        &self,
        x: &[f32],
        dim: usize,
        weight: &[f32],
        bias: Option<&[f32]>,
        config: &GateConfig,
    ) -> Result<Routing, DeviceError> {
        let experts = weight.len().checked_div(dim).unwrap_or(0);
        check_shapes(x, dim, weight, bias, experts)?;
        check_config(config, experts)?;
        let shared = dim * 4 + experts * 16;
        if shared > SHARED_BYTES {
            return Err(DeviceError::Unsupported(format!(
                "moe gate with dim={dim} and {experts} experts needs {shared} bytes of shared \
                 memory per token; the CUDA kernel has {SHARED_BYTES}"
            )));
        }
        let tokens = x.len() / dim;
        let mut routing = Routing {
            top_k: config.top_k,
            experts: Vec::new(),
            weights: Vec::new(),
        };
        if tokens == 0 {
            return Ok(routing);
        }
        let program = Program::new(
            Kernels::MoeGate,
            &[
                ("EXPERTS", experts as i64),
                ("DIM", dim as i64),
                ("N_GROUPS", config.n_groups as i64),
                ("TOPK_GROUPS", config.topk_groups as i64),
                ("TOP_K", config.top_k as i64),
                ("SIGMOID", i64::from(config.score == ScoreFunc::Sigmoid)),
                ("HAS_BIAS", i64::from(bias.is_some())),
            ],
        );
        let kernel = self.kernel(&program, "moe_gate")?;
        let stream = &self.stream;
        let x = stream.clone_htod(x).map_err(driver)?;
        let weight = stream.clone_htod(weight).map_err(driver)?;
        let bias = stream.clone_htod(bias.unwrap_or(&[0.0])).map_err(driver)?;
        let mut chosen = self.poisoned::<i32>(tokens * config.top_k)?;
        let mut weights = self.poisoned::<f32>(tokens * config.top_k)?;
        let config_scale = config.route_scale;
        let launch = LaunchConfig {
            grid_dim: (tokens as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments match `moe_gate`'s parameters; x holds tokens × DIM values,
        // weight EXPERTS × DIM, bias EXPERTS (when HAS_BIAS), the outputs TOP_K per token.
        self.timed(|| unsafe {
            stream
                .launch_builder(&kernel)
                .arg(&x)
                .arg(&weight)
                .arg(&bias)
                .arg(&config_scale)
                .arg(&mut chosen)
                .arg(&mut weights)
                .launch(launch)
                .map(drop)
        })?;
        routing.experts = stream
            .clone_dtoh(&chosen)
            .map_err(driver)?
            .into_iter()
            .map(|e| e as u32)
            .collect();
        routing.weights = stream.clone_dtoh(&weights).map_err(driver)?;
        Ok(routing)
    }
}
