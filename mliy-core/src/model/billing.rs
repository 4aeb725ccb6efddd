//! What a resource costs over time: one segment per resource per state period.

use super::ids::LaunchId;
use crate::clock::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a resource is billed for in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillState {
    /// The machine runs: its hourly price and its volumes.
    #[default]
    Running,
    /// The instance is stopped: its volumes only.
    Stopped,
}

impl BillState {
    /// The state's name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            BillState::Running => "running",
            BillState::Stopped => "stopped",
        }
    }
}

/// AWS bills Linux per second with a minimum of a minute for each period.
pub const MINIMUM_BILLED_SECONDS: u64 = 60;

/// A period during which a resource costs money at one price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingSegment {
    /// The resource.
    pub resource: LaunchId,
    /// What it is billed for (segments stored before states existed read as running).
    #[serde(default)]
    pub state: BillState,
    /// Dollars per hour, as a decimal string (`None` when no price source is configured or
    /// it does not price the resource).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub hourly: Option<Decimal>,
    /// What is billed, e.g. `r5.2xlarge` or `r5.2xlarge + 100 GB`.
    pub description: String,
    /// Start.
    pub start: Timestamp,
    /// End; `None` while open.
    pub end: Option<Timestamp>,
}

impl BillingSegment {
    /// Seconds billed from the start to the end (or `until`, while open): per second, at
    /// least [`MINIMUM_BILLED_SECONDS`].
    pub fn billed_seconds(&self, until: Timestamp) -> u64 {
        let end = self.end.unwrap_or(until);
        let ms = end.0.saturating_sub(self.start.0).max(0);
        (u64::try_from(ms).unwrap_or(0) / 1_000).max(MINIMUM_BILLED_SECONDS)
    }

    /// Hourly price × billed seconds, to the cent's hundredth (`None` without a price).
    pub fn cost(&self, until: Timestamp) -> Option<Decimal> {
        Some(cost_of(self.hourly?, self.billed_seconds(until)))
    }
}

/// `hourly` × `seconds`, to the cent's hundredth: how every cost is reckoned.
pub fn cost_of(hourly: Decimal, seconds: u64) -> Decimal {
    (hourly * Decimal::from(seconds) / Decimal::from(3_600)).round_dp(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(hourly: &str, start_s: i64, end_s: Option<i64>) -> BillingSegment {
        BillingSegment {
            resource: LaunchId::parse("abc").unwrap(),
            state: BillState::Running,
            hourly: Some(hourly.parse().unwrap()),
            description: "m4.large".into(),
            start: Timestamp(start_s * 1_000),
            end: end_s.map(|s| Timestamp(s * 1_000)),
        }
    }

    #[test]
    fn per_second_with_a_minute_minimum_and_no_extra_hour() {
        let d = |t: &str| t.parse::<Decimal>().unwrap();
        assert_eq!(segment("0.108", 0, Some(3_600)).cost(Timestamp(0)), Some(d("0.108")), "an hour, not two");
        assert_eq!(segment("0.108", 0, Some(10)).billed_seconds(Timestamp(0)), 60, "the minimum");
        assert_eq!(segment("0.108", 0, Some(90)).cost(Timestamp(0)), Some(d("0.0027")));
        assert_eq!(segment("0.0058", 0, Some(61)).cost(Timestamp(0)), Some(d("0.0001")), "rounded to 4 places");
        assert_eq!(segment("13.3", 0, None).cost(Timestamp(7_200_000)), Some(d("26.6")), "open: until now");
    }

    #[test]
    fn stored_segments_read_back_with_their_decimal_text() {
        let s = segment("0.108", 0, None);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!((json["hourly"].as_str(), json["state"].as_str()), (Some("0.108"), Some("running")));
        assert_eq!(serde_json::from_value::<BillingSegment>(json).unwrap(), s);
        // A segment stored before states and decimal prices.
        let old = r#"{"resource": "abc", "price_per_hour": null, "description": "t3", "start": 5, "end": null}"#;
        let old: BillingSegment = serde_json::from_str(old).unwrap();
        assert_eq!((old.state, old.hourly), (BillState::Running, None));
    }
}
