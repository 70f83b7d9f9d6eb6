//! Builds the execution-time predictor a config names (`predictor:` in a simulation or search
//! YAML). Shared by `simulate` and `run`, so both price batches the same way.

use std::path::Path;
use std::sync::Arc;

use super::sim_yaml::{resolve, AnalyticConfig, PredictorConfig};
use crate::catalog::GpuSpec;
use crate::predictor::analytic::{self, calibration::Calibration, AnalyticOptions, GpuInfo};
use crate::predictor::serving::WithOverheads;
use crate::predictor::{
    Composed, ExecutionTimePredictor, OpModel, ProfileOptions, ProfilePredictor,
};
use crate::predictor::{PredictorError, VidurTablesPredictor};
use crate::sim::SimConfig;

/// `predictor.analytic.serving_engine` value that turns the serving overheads off.
pub const NO_SERVING_ENGINE: &str = "none";

/// Why a predictor could not be built; `field` names the config field at fault.
#[derive(Debug, thiserror::Error)]
#[error("field '{field}': {msg}")]
pub struct PredictorBuildError {
    /// Config field, e.g. `predictor.analytic.calibration`.
    pub field: &'static str,
    /// What went wrong.
    pub msg: String,
}

fn err(field: &'static str) -> impl Fn(PredictorError) -> PredictorBuildError {
    move |e| PredictorBuildError {
        field,
        msg: e.to_string(),
    }
}

/// Load the calibration a `predictor.analytic` block names (the embedded one by default).
pub fn calibration(
    pc: &PredictorConfig,
    base_dir: &Path,
) -> Result<Calibration, PredictorBuildError> {
    match pc {
        PredictorConfig::Analytic(a) => match &a.calibration {
            Some(p) => Calibration::load(&resolve(base_dir, p))
                .map_err(err("predictor.analytic.calibration")),
            None => Ok(Calibration::embedded()),
        },
        _ => Ok(Calibration::embedded()),
    }
}

/// The analytic predictor's kernel part (no serving overheads) that [`build`] makes from
/// `a` for `sim` on catalog GPU `g`, and the GPU as the calibration knows it. Also used by
/// `vidur-search predict` for its per-operator breakdown.
pub fn analytic_kernels(
    a: &AnalyticConfig,
    sim: &SimConfig,
    g: &GpuSpec,
    cal: &Calibration,
) -> Result<(Composed<analytic::AnalyticPredictor>, GpuInfo), PredictorBuildError> {
    let opts = AnalyticOptions {
        source: a.source.clone(),
        iteration_overhead_ms: a.iteration_overhead_ms,
        skip_embedding_and_lm_head: !a.embedding_and_lm_head,
        network: Some(sim.node.name.clone()),
    };
    let info = GpuInfo::from_catalog(g, sim.node.num_devices_per_node, cal);
    let (tp, pp) = (sim.tensor_parallel_size, sim.num_pipeline_stages);
    let kernels =
        analytic::build(&sim.model, &info, tp, pp, cal, opts).map_err(err("predictor.analytic"))?;
    Ok((kernels, info))
}

/// The predictor a loaded simulation YAML names, with its calibration.
pub fn for_run(
    run: &super::sim_yaml::SimRun,
) -> Result<Box<dyn ExecutionTimePredictor>, PredictorBuildError> {
    let cal = calibration(&run.predictor, &run.base_dir)?;
    build(
        &run.predictor,
        &run.sim,
        run.gpu.as_ref(),
        &cal,
        &run.base_dir,
    )
}

/// Build the predictor `pc` for the engine config `sim` on catalog GPU `gpu` (None for
/// Vidur-only device names). `cal` is the analytic calibration (see [`calibration`]); relative
/// paths resolve against `base_dir`.
pub fn build(
    pc: &PredictorConfig,
    sim: &SimConfig,
    gpu: Option<&GpuSpec>,
    cal: &Calibration,
    base_dir: &Path,
) -> Result<Box<dyn ExecutionTimePredictor>, PredictorBuildError> {
    let (tp, pp) = (sim.tensor_parallel_size, sim.num_pipeline_stages);
    let per_node = sim.node.num_devices_per_node;
    Ok(match pc {
        PredictorConfig::Analytic(a) => {
            let Some(g) = gpu else {
                return Err(PredictorBuildError {
                    field: "predictor.analytic",
                    msg: format!(
                        "the analytic predictor needs device '{}' in the hardware catalog (add it with `hardware: my-hardware.yaml`)",
                        sim.device.name
                    ),
                });
            };
            let (kernels, info) = analytic_kernels(a, sim, g, cal)?;
            // The engine models carry their engine's overheads unless the config names another
            // engine (or `none`); Vidur's schedulers get only a calibration's `default` entry.
            let engine = a
                .serving_engine
                .as_deref()
                .or(sim.scheduler.kind().serving_engine());
            if engine == Some(NO_SERVING_ENGINE) {
                return Ok(Box::new(kernels));
            }
            let serving = cal.serving.as_ref();
            match serving.and_then(|s| s.terms(engine)) {
                Some((engine, terms)) if !terms.is_zero() => {
                    Box::new(WithOverheads::new(kernels, terms, &info.name, engine))
                }
                Some(_) => Box::new(kernels),
                None if a.serving_engine.is_some() => {
                    return Err(PredictorBuildError {
                        field: "predictor.analytic.serving_engine",
                        msg: format!(
                            "the calibration has no serving overheads for '{}' and no default entry (fit them with `vidur-search calibrate`)",
                            a.serving_engine.as_deref().unwrap_or_default()
                        ),
                    })
                }
                None => Box::new(kernels),
            }
        }
        PredictorConfig::Profiles(pc) => {
            let fallback: Option<Arc<dyn OpModel>> = match (gpu, pc.analytic_attention_fallback) {
                (Some(g), true) => {
                    let info = GpuInfo::from_catalog(g, per_node, cal);
                    Some(Arc::new(
                        analytic::AnalyticPredictor::new(
                            analytic::LayerShape::of(&sim.model, tp),
                            &info,
                            tp,
                            pp,
                            cal,
                            AnalyticOptions {
                                network: Some(sim.node.name.clone()),
                                ..Default::default()
                            },
                        )
                        .map_err(err("predictor.profiles"))?,
                    ))
                }
                _ => None,
            };
            let opts = ProfileOptions {
                max_tokens: sim.max_tokens.max(4096),
                num_devices_per_node: Some(per_node),
                attention_fallback: fallback,
                ..Default::default()
            };
            let dir = resolve(base_dir, &pc.dir);
            // Vidur names device folders by short name (`a100`): try the catalog aliases too.
            let device = pc.device.clone().unwrap_or_else(|| {
                let mut names = vec![sim.device.name.clone()];
                if let Some(g) = gpu {
                    names.extend(g.aliases.iter().cloned());
                }
                names
                    .iter()
                    .find(|n| dir.join("compute").join(n).is_dir())
                    .unwrap_or(&names[0])
                    .clone()
            });
            Box::new(
                ProfilePredictor::load(
                    &dir,
                    &device,
                    &sim.node.name,
                    &sim.model,
                    tp,
                    pp,
                    sim.scheduler.block_size(),
                    &opts,
                )
                .map_err(err("predictor.profiles"))?
                .into_composed(),
            )
        }
        PredictorConfig::VidurTables(t) => Box::new(
            VidurTablesPredictor::load(
                &resolve(base_dir, &t.dir),
                &sim.model,
                tp,
                pp,
                &t.options(),
                sim.compat,
            )
            .map_err(err("predictor.vidur_tables"))?,
        ),
    })
}
