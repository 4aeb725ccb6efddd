//! How nodes are bought.

use serde::{Deserialize, Serialize};

/// How cluster nodes are bought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Market {
    /// On-demand instances.
    OnDemand,
    /// Spot instances, with a bid in dollars per hour (the template's default when `None`).
    Spot {
        /// The bid.
        bid: Option<f64>,
    },
}

impl Market {
    /// EMR's name: `ON_DEMAND` or `SPOT`.
    pub fn emr_name(&self) -> &'static str {
        match self {
            Market::OnDemand => "ON_DEMAND",
            Market::Spot { .. } => "SPOT",
        }
    }
}
