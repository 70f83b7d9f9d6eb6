//! Design-space search (`vidur-search run SPACE.yaml`): expand a search space into points, drop
//! the infeasible ones, find each point's capacity (largest QPS meeting every SLO) by
//! bracketing and bisection, and price it.

pub mod result;

pub use result::{
    Cost, DroppedPoint, PointConfig, PointResult, RunMeta, SearchOutcome, SeedCapacity, SimRecord,
    Slo, SloMetric, SloValue,
};
