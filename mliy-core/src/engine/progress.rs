//! Bootstrap progress: a secret per launch, derived from the engine's progress key (nothing
//! secret is stored; a resumed engine derives it again), checked in constant time.

use super::Shared;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Phase, Resource};
use crate::model::LaunchId;
use crate::secret::{Secret, constant_time_eq};
use sha2::{Digest, Sha256};

/// Longest progress message kept.
const MAX_MESSAGE: usize = 200;

/// What the stored user data holds where the secret goes: as long as a secret, and made of
/// characters that mean nothing to a shell, so the script's size and meaning stay the same.
pub(crate) const PLACEHOLDER: &str = "MLIY_PROGRESS_TOKEN_PLACEHOLDER_00000000000000000000000000000000";

/// A new progress key: 256 bits from the operating system's generator.
pub(crate) fn new_key() -> Secret {
    let mut bytes = [0u8; 32];
    // uuid's v4 ids come from the OS generator; 122 random bits each, so take three.
    let ids = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let pool = Sha256::digest(ids.iter().flat_map(|u| *u.as_bytes()).collect::<Vec<u8>>());
    bytes.copy_from_slice(&pool);
    Secret::new(hex(&bytes))
}

/// The launch's secret: HMAC-SHA256 of the launch id under the key, hex (256 bits).
pub(crate) fn derive(key: &Secret, id: &LaunchId) -> Secret {
    Secret::new(hex(&hmac_sha256(key.expose().as_bytes(), format!("mliy-progress:{id}").as_bytes())))
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn forbidden() -> Error {
    Error::Forbidden("invalid progress token".into())
}

/// Keeps a message printable and short.
fn clean(message: &str) -> String {
    message.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE).collect::<String>().trim().to_string()
}

pub(crate) async fn report(
    inner: &std::sync::Arc<Shared>,
    id: &LaunchId,
    token: &str,
    percent: u8,
    message: &str,
) -> Result<Resource> {
    if percent > 100 {
        return Err(Error::validation("percent", percent.to_string(), "must be 0 to 100"));
    }
    let message = clean(message);
    loop {
        let r = inner.store.get_resource(id).await?.ok_or_else(forbidden)?;
        if !r.progress_open {
            return Err(forbidden());
        }
        let expected = derive(&inner.progress_key, id);
        if !constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) {
            tracing::warn!(target: "mliy::launch", id = %id, "progress report with a wrong token");
            return Err(forbidden());
        }
        let current = match &r.phase {
            Phase::Bootstrapping { percent, .. } => *percent,
            other => return Err(Error::InvalidTransition(format!("resource {id} is {other}, not bootstrapping"))),
        };
        if percent < current {
            // Reports can arrive out of order; progress never goes back.
            return Ok(r);
        }
        let event = Event::Progress { percent, message: message.clone() };
        let reason = format!("bootstrap: {percent}% {message}");
        let done = percent >= 100;
        let result = inner
            .transition(&r, event, Actor::Bootstrap, reason, |n| {
                if done {
                    n.progress_open = false;
                    n.deadline = None;
                }
            })
            .await;
        match result {
            Ok(next) => {
                Shared::ensure_driver(inner, id);
                return Ok(next);
            }
            Err(Error::Stale(_)) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let long_key = [0xaa; 131];
        let mac = hmac_sha256(&long_key, b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex(&mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn secrets_are_per_launch_and_per_key() {
        let (a, b) = (LaunchId::parse("aaa").unwrap(), LaunchId::parse("bbb").unwrap());
        let key = new_key();
        assert_eq!(derive(&key, &a), derive(&key, &a));
        assert_ne!(derive(&key, &a), derive(&key, &b));
        assert_ne!(derive(&key, &a), derive(&new_key(), &a));
        assert_eq!(derive(&key, &a).expose().len(), PLACEHOLDER.len());
    }
}
