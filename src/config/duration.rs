//! Durations as people write them: `90s`, `15m`, `2h`, `1h30m`, `500ms`, or whole seconds.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use std::fmt;
use std::time::Duration;

/// Parses `text`; `None` unless it is one or more `<number><unit>` (units `ms`, `s`, `m`,
/// `h`, `d`) or a plain number of seconds, and under 100 years.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return within_bounds(Duration::from_secs(seconds));
    }
    let (mut total, mut rest) = (Duration::ZERO, text);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let millis = match &rest[..unit] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(Duration::from_millis(number.checked_mul(millis)?))?;
        rest = &rest[unit..];
    }
    (!text.is_empty()).then_some(total).and_then(within_bounds)
}

fn within_bounds(d: Duration) -> Option<Duration> {
    (d <= Duration::from_secs(100 * 365 * 86_400)).then_some(d)
}

/// Shows a duration the way [`parse`] reads it (`1h30m`, `500ms`).
pub fn show(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 90s, 15m, 2h, 1h30m or 500ms (whole seconds without a unit)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        within_bounds(Duration::from_secs(v)).ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self)).and_then(|v| self.visit_u64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// `#[serde(with = "duration::option")]` for `Option<Duration>`.
pub(crate) mod option {
    use super::*;

    /// Reads an optional duration.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_any(DurationVisitor).map(Some)
    }

    /// Writes it as [`show`] does.
    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&show(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        for (text, secs) in [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("45", 45), ("1d", 86_400)] {
            assert_eq!(parse(text), Some(Duration::from_secs(secs)), "{text}");
            assert_eq!(parse(&show(Duration::from_secs(secs))), Some(Duration::from_secs(secs)));
        }
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        for bad in ["", "m", "5 m", "5x", "-5s", "1.5h", "99999999999999999999s", "40000d", "5mm"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
