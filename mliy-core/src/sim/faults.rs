//! Seeded, order-independent randomness: every decision is a hash of the seed and what it is
//! about, so the same seed gives the same faults however the engine's tasks interleave.

use crate::error::Error;

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A number in [0, 1) decided by `seed` and the parts.
pub(crate) fn unit(seed: u64, parts: &[&str], n: u64) -> f64 {
    let h = parts.iter().fold(mix(seed), |h, p| mix(h ^ fnv(p))) ^ n;
    (mix(h) >> 11) as f64 / (1u64 << 53) as f64
}

/// What a faulty call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Refused before doing anything: throttled.
    Throttle,
    /// Refused before doing anything: a 5xx.
    ServerError,
    /// Done, but the answer was lost: a timeout the caller cannot tell from the others.
    LostAnswer,
}

impl Fault {
    pub(crate) fn pick(x: f64, mutating: bool) -> Fault {
        match x {
            x if x < 0.5 => Fault::Throttle,
            x if x < 0.8 || !mutating => Fault::ServerError,
            _ => Fault::LostAnswer,
        }
    }

    pub(crate) fn error(self, op: &str) -> Error {
        match self {
            Fault::Throttle => Error::Throttled(format!("{op}: Rate exceeded (simulated)")),
            Fault::ServerError => Error::Unavailable(format!("{op}: InternalFailure (simulated 500)")),
            Fault::LostAnswer => Error::Unavailable(format!("{op}: request timed out (simulated)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_deterministic_and_spread() {
        assert_eq!(unit(1, &["a", "b"], 3), unit(1, &["a", "b"], 3));
        assert_ne!(unit(1, &["a", "b"], 3), unit(2, &["a", "b"], 3));
        let below = (0..10_000).filter(|n| unit(7, &["x"], *n) < 0.1).count();
        assert!((800..1200).contains(&below), "{below}");
    }
}
