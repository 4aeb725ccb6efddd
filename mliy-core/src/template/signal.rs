//! `CreationPolicy: {ResourceSignal: …}`: resources CloudFormation only completes once
//! something (the instance's bootstrap, through `cfn-signal`) signals it.

use super::MapKey;
use super::doc::Node;
use serde::Serialize;
use std::time::Duration;

/// One resource's signal policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalPolicy {
    /// The resource's logical id.
    pub logical_id: String,
    /// Its type (`AWS::EC2::Instance`, …).
    pub resource_type: String,
    /// How many signals it waits for (`Count`, 1 when absent or not a literal).
    pub count: u32,
    /// How long it waits (`Timeout`, ISO 8601; CloudFormation's default is `PT5M`).
    #[serde(skip)]
    pub timeout: MapKey,
}

impl SignalPolicy {
    /// The timeout, with a `Ref` looked up in the stack's `parameters` (then the template's
    /// default); `None` when it cannot be known offline or is not an ISO 8601 duration.
    pub fn timeout(
        &self,
        parameters: &[(String, String)],
        default_of: impl Fn(&str) -> Option<String>,
    ) -> Option<Duration> {
        let text = match &self.timeout {
            MapKey::Literal(t) => t.clone(),
            MapKey::Ref(p) => {
                parameters.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone()).or_else(|| default_of(p))?
            }
            MapKey::Other => return None,
        };
        parse_iso8601(&text)
    }
}

/// Every resource of `resources` (a template's `Resources` mapping) with a `ResourceSignal`.
pub(super) fn signal_policies(resources: &Node) -> Vec<SignalPolicy> {
    let Some(entries) = resources.entries() else { return Vec::new() };
    entries
        .iter()
        .filter_map(|(id, r)| {
            let signal = r.get("CreationPolicy")?.get("ResourceSignal")?;
            let timeout = match signal.get("Timeout") {
                None => MapKey::Literal("PT5M".into()),
                Some(Node::Scalar(s)) => MapKey::Literal(s.clone()),
                Some(Node::Map(e)) if e.len() == 1 && e[0].0 == "Ref" => {
                    e[0].1.as_str().map_or(MapKey::Other, |p| MapKey::Ref(p.to_string()))
                }
                Some(_) => MapKey::Other,
            };
            let count = signal.get("Count").and_then(Node::as_str).and_then(|c| c.parse().ok()).unwrap_or(1);
            let resource_type = r.get("Type").and_then(Node::as_str).unwrap_or_default().to_string();
            Some(SignalPolicy { logical_id: id.clone(), resource_type, count, timeout })
        })
        .collect()
}

/// An ISO 8601 duration as CloudFormation writes timeouts: `PT180M`, `PT1H30M`, `PT45S`,
/// `P1DT2H` (no years or months; at most 12 hours is what CloudFormation allows, not checked).
pub fn parse_iso8601(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut seconds = 0u64;
    let mut add = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, scale) = units.iter().find(|(u, _)| *u == c)?;
            let n: u64 = number.parse().ok()?;
            seconds = seconds.checked_add(n.checked_mul(*scale)?)?;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    add(days, &[('D', 86_400), ('W', 7 * 86_400)])?;
    add(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    (!rest.is_empty() && rest != "T").then_some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso8601("PT180M"), Some(Duration::from_secs(180 * 60)));
        assert_eq!(parse_iso8601("PT1H30M"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_iso8601("P1DT1S"), Some(Duration::from_secs(86_401)));
        for bad in ["", "P", "PT", "180M", "PT5X", "PT5", "PTM"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn policies_with_literal_and_ref_timeouts() {
        let t = super::super::Template::parse(
            "t",
            "Parameters: {Wait: {Type: String, Default: PT10M}}\nResources:\n  A: {Type: 'AWS::EC2::Instance', \
             CreationPolicy: {ResourceSignal: {Timeout: !Ref Wait, Count: 2}}}\n  B: {Type: 'AWS::EC2::Instance', \
             CreationPolicy: {ResourceSignal: {}}}\n  C: {Type: 'AWS::EC2::Volume'}\n",
        )
        .unwrap();
        assert_eq!(
            t.signals.iter().map(|s| (s.logical_id.as_str(), s.count)).collect::<Vec<_>>(),
            [("A", 2), ("B", 1)]
        );
        let default = |p: &str| t.parameter(p).and_then(|p| p.default.clone());
        assert_eq!(t.signals[0].timeout(&[], default), Some(Duration::from_secs(600)));
        let given = [("Wait".to_string(), "PT2H".to_string())];
        assert_eq!(t.signals[0].timeout(&given, default), Some(Duration::from_secs(7200)));
        assert_eq!(t.signals[1].timeout(&[], default), Some(Duration::from_secs(300)));
        assert!(t.instance_signalled());
    }
}
