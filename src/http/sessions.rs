//! Bearer tokens issued at login: random, kept in memory with their principal until they
//! expire or the user logs out. Only a token's SHA-256 is kept, so a memory dump shows none.

use mliy_core::model::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct Sessions {
    ttl: Duration,
    max: usize,
    live: Mutex<HashMap<String, (Principal, Instant)>>,
}

/// A token's SHA-256, in hex: what is kept instead of the token.
pub(crate) fn digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    pub(crate) fn new(ttl: Duration, max: usize) -> Sessions {
        Sessions { ttl, max: max.max(1), live: Mutex::new(HashMap::new()) }
    }

    /// A new token for `principal`.
    pub(crate) fn open(&self, principal: Principal) -> String {
        let token: String =
            [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()].iter().map(|u| u.simple().to_string()).collect();
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        live.retain(|_, (_, until)| *until > now);
        if live.len() >= self.max
            && let Some(oldest) = live.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| k.clone())
        {
            live.remove(&oldest);
        }
        live.insert(digest(&token), (principal, now + self.ttl));
        token
    }

    /// The principal of a live token.
    pub(crate) fn principal(&self, token: &str) -> Option<Principal> {
        let live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        live.get(&digest(token)).filter(|(_, until)| *until > Instant::now()).map(|(p, _)| p.clone())
    }

    /// Ends a token's session.
    pub(crate) fn close(&self, token: &str) {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&digest(token));
    }
}
