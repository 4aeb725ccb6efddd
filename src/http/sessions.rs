//! Sessions opened at login: a random token (the bearer token, or the cookie's value) kept
//! in memory with its principal until it expires or the user logs out. Only the token's
//! SHA-256 is kept, so a memory dump shows none. A cookie session's CSRF token is derived
//! from its token with a key of this process: pages can render it at any time, and it gives
//! nothing away about the token.

use mliy_core::model::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct Sessions {
    ttl: Duration,
    max: usize,
    csrf_key: String,
    live: Mutex<HashMap<String, (Principal, Instant)>>,
}

/// A token's SHA-256, in hex: what is kept instead of the token.
pub(crate) fn digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// 256 random bits, in hex.
pub(crate) fn random_token() -> String {
    [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()].iter().map(|u| u.simple().to_string()).collect()
}

impl Sessions {
    pub(crate) fn new(ttl: Duration, max: usize) -> Sessions {
        Sessions { ttl, max: max.max(1), csrf_key: random_token(), live: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Principal, Instant)>> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session for `principal`; its token.
    pub(crate) fn open(&self, principal: Principal) -> String {
        let token = random_token();
        let now = Instant::now();
        let mut live = self.lock();
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
        self.lock().get(&digest(token)).filter(|(_, until)| *until > Instant::now()).map(|(p, _)| p.clone())
    }

    /// The CSRF token of the session `token`.
    pub(crate) fn csrf(&self, token: &str) -> String {
        digest(&format!("{}\0{token}", self.csrf_key))
    }

    /// Ends a token's session.
    pub(crate) fn close(&self, token: &str) {
        self.lock().remove(&digest(token));
    }
}
