//! What a resource costs over time.

use super::ids::LaunchId;
use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// A period during which a resource costs money at one price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingSegment {
    /// The resource.
    pub resource: LaunchId,
    /// Dollars per hour (`None` when no price is known).
    pub price_per_hour: Option<f64>,
    /// What is billed, e.g. `r5.2xlarge` or `SPOT m5.xlarge × 4`.
    pub description: String,
    /// Start.
    pub start: Timestamp,
    /// End; `None` while open.
    pub end: Option<Timestamp>,
}
