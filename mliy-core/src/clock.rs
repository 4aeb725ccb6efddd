//! Time: real or virtual. Everything in mliy that waits does so through a [`Clock`], so the
//! whole lifecycle runs in simulated time in tests.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This time plus `d`.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// How long after `earlier` this is (zero if it is not after).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// As UTC in RFC 3339, to the second: `2026-01-01T00:00:00Z`.
    pub fn utc(self) -> String {
        let secs = self.0.div_euclid(1000);
        let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
    }
}

impl Timestamp {
    /// Midnight UTC of the first day of this time's month.
    pub fn month_start(self) -> Timestamp {
        Timestamp::parse_utc(&format!("{}-01", &self.utc()[..7])).unwrap_or(self)
    }

    /// Reads UTC as `2026-01-31` (midnight) or RFC 3339 to the second with `Z`
    /// (`2026-01-31T08:30:00Z`), as [`Timestamp::utc`] writes it.
    pub fn parse_utc(text: &str) -> Option<Timestamp> {
        let (date, time) = match text.split_once('T') {
            Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
            None => (text, None),
        };
        let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
        let (year, month, day) = (d.next()??, d.next()??, d.next()??);
        let secs = match time {
            None => 0,
            Some(t) => {
                let mut t = t.splitn(3, ':').map(|p| p.parse::<i64>().ok());
                let (h, m, s) = (t.next()??, t.next()??, t.next()??);
                if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..60).contains(&s) {
                    return None;
                }
                h * 3600 + m * 60 + s
            }
        };
        let days_in_month = match month {
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => return None,
        };
        if !(1..=days_in_month).contains(&day) || !(1970..=9999).contains(&year) {
            return None;
        }
        // Days since 1970-01-01 from the civil date (H. Hinnant's algorithm).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(Timestamp((days * 86_400 + secs) * 1000))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0.rem_euclid(1000))
    }
}

/// A source of time.
///
/// # Contract
/// `now` never goes backwards; `sleep` returns after `now` has advanced by at least the
/// duration (in the clock's own time).
#[async_trait]
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Waits for `d`.
    async fn sleep(&self, d: Duration);
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// Virtual time on tokio's clock: in a runtime whose time is paused
/// (`#[tokio::test(start_paused = true)]`, or `Builder::start_paused(true)`), time stands
/// still while any task can run and jumps to the next timer when all wait, so hours of
/// lifecycle pass in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    epoch: Timestamp,
    base: tokio::time::Instant,
}

impl VirtualClock {
    /// A clock that reads `epoch` now. Call it inside the runtime it will run in.
    pub fn starting_at(epoch: Timestamp) -> Self {
        VirtualClock { epoch, base: tokio::time::Instant::now() }
    }

    /// How much virtual time has passed.
    pub fn elapsed(&self) -> Duration {
        self.base.elapsed()
    }
}

#[async_trait]
impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        self.epoch.plus(self.base.elapsed())
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// Fast-forwarded real time: `speed` virtual seconds pass per real second. For demos on
/// real I/O (a database, sockets), where tokio's paused time would jump ahead while the I/O
/// is under way.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    epoch: Timestamp,
    base: tokio::time::Instant,
    speed: u32,
}

impl ScaledClock {
    /// A clock that reads `epoch` now and runs `speed` times faster than real time.
    pub fn starting_at(epoch: Timestamp, speed: u32) -> Self {
        ScaledClock { epoch, base: tokio::time::Instant::now(), speed: speed.max(1) }
    }

    /// How much virtual time has passed.
    pub fn elapsed(&self) -> Duration {
        self.base.elapsed().saturating_mul(self.speed)
    }
}

#[async_trait]
impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        self.epoch.plus(self.elapsed())
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d / self.speed).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_show_as_utc() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_767_225_600_000, "2026-01-01T00:00:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_798_761_599_999, "2026-12-31T23:59:59Z"),
            (-1_000, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(Timestamp(ms).utc(), text);
        }
    }

    #[test]
    fn months_start_at_midnight_on_the_first() {
        let t = Timestamp::parse_utc("2026-02-28T23:59:59Z").unwrap();
        assert_eq!(t.month_start().utc(), "2026-02-01T00:00:00Z");
        assert_eq!(t.plus(Duration::from_secs(1)).month_start().utc(), "2026-03-01T00:00:00Z");
    }

    #[test]
    fn utc_text_reads_back() {
        for ms in [0, 1_767_225_600_000, 951_782_400_000, 1_798_761_599_000, 4_102_444_799_000] {
            assert_eq!(Timestamp::parse_utc(&Timestamp(ms).utc()), Some(Timestamp(ms)), "{ms}");
        }
        assert_eq!(Timestamp::parse_utc("2026-01-01"), Some(Timestamp(1_767_225_600_000)));
        for bad in
            ["2026-02-29", "2026-13-01", "2026-1-1x", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00", "", "1969-12-31"]
        {
            assert_eq!(Timestamp::parse_utc(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn scaled_time_runs_fast() {
        let clock = ScaledClock::starting_at(Timestamp(0), 1000);
        let real = std::time::Instant::now();
        clock.sleep(Duration::from_secs(60)).await;
        assert!(real.elapsed() < Duration::from_secs(2), "a virtual minute took {:?}", real.elapsed());
        assert!(clock.now() >= Timestamp(60_000), "{:?}", clock.now());
    }

    #[tokio::test(start_paused = true)]
    async fn virtual_time_jumps() {
        let clock = VirtualClock::starting_at(Timestamp(1_000));
        clock.sleep(Duration::from_secs(3 * 3600)).await;
        assert_eq!(clock.now(), Timestamp(1_000 + 3 * 3600 * 1000));
        assert_eq!(clock.now().since(Timestamp(1_000)), Duration::from_secs(3 * 3600));
        assert_eq!(Timestamp(5).since(Timestamp(9)), Duration::ZERO);
    }
}
