//! A fixed-window rate limit per key (a launch id), bounded in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most keys tracked; past it, windows that have ended are dropped first, then all.
const MAX_KEYS: usize = 100_000;

pub(crate) struct PerKey {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl PerKey {
    pub(crate) fn new(per_window: u32, window: Duration) -> PerKey {
        PerKey { per_window, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts a call for `key`; `false` once the window's allowance is spent.
    pub(crate) fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_KEYS {
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) < window);
            if seen.len() >= MAX_KEYS {
                seen.clear();
            }
        }
        let entry = seen.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_window
    }
}
