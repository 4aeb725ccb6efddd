//! Bootstrap progress: a random secret per launch, checked in constant time.

use super::Inner;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Phase, Resource};
use crate::plan::LaunchId;
use crate::secret::{Secret, constant_time_eq};
use sha2::{Digest, Sha256};

/// Longest progress message kept.
const MAX_MESSAGE: usize = 200;

/// A new secret: 256 random bits, hex.
pub(crate) fn new_secret() -> Secret {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    Secret::new(format!("{a}{b}"))
}

/// The secret's SHA-256, hex: what the store keeps.
pub(crate) fn digest(secret: &Secret) -> String {
    hex(&Sha256::digest(secret.expose().as_bytes()))
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
    inner: &std::sync::Arc<Inner>,
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
        let expected = r.progress_secret_sha256.as_deref().ok_or_else(forbidden)?;
        let given = hex(&Sha256::digest(token.as_bytes()));
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            tracing::warn!(target: "mliy::launch", id = %id, "progress report with a wrong token");
            return Err(forbidden());
        }
        let current = match &r.phase {
            Phase::Bootstrapping { percent, .. } => *percent,
            other => return Err(Error::Conflict(format!("resource {id} is {other}, not bootstrapping"))),
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
                    n.progress_secret_sha256 = None;
                    n.deadline = None;
                }
            })
            .await;
        match result {
            Ok(next) => {
                Inner::ensure_driver(inner, id);
                return Ok(next);
            }
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
}
