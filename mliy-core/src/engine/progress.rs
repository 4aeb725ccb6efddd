//! Bootstrap progress: a secret per launch, derived from the engine's progress key (nothing
//! secret is stored; a resumed engine derives it again), checked in constant time.

use super::Shared;
use crate::error::{Error, Result};
use crate::lifecycle::{Actor, Event, Phase, Resource, ResourceKind};
use crate::model::LaunchId;
use crate::secret::{Secret, constant_time_eq};
use crate::store::ResourceFilter;
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
    report_as(inner, id, token, percent, message, None).await
}

/// Records a report; `claimed` is the instance id an MLiy image reported for, checked
/// against (or, before the stack listed it, recorded on) the resource.
async fn report_as(
    inner: &std::sync::Arc<Shared>,
    id: &LaunchId,
    token: &str,
    percent: u8,
    message: &str,
    claimed: Option<&str>,
) -> Result<Resource> {
    if percent > 100 {
        return Err(Error::validation("percent", percent.to_string(), "must be 0 to 100"));
    }
    let message = clean(message);
    loop {
        let r = inner.store.get_resource(id).await?.ok_or_else(forbidden)?;
        if !r.progress_open || !token_matches(inner, &r, token) {
            return Err(forbidden());
        }
        if claimed.is_some_and(|c| r.instance_id.as_deref().is_some_and(|known| known != c)) {
            return Err(forbidden());
        }
        let result = match &r.phase {
            Phase::Bootstrapping { percent: current, .. } if percent < *current => {
                // Reports can arrive out of order; progress never goes back.
                return Ok(r);
            }
            Phase::CreatingStack | Phase::Bootstrapping { .. } => record(inner, &r, percent, &message, claimed).await,
            // Ready by the stack's completion (`ready_when`): later reports are noted.
            phase if phase.is_usable() && r.kind == ResourceKind::Instance => {
                let reason = format!("bootstrap: {percent}% {message}");
                inner.note(&r, Actor::Bootstrap, reason, |n| n.progress_open = percent < 100).await
            }
            other => return Err(Error::InvalidTransition(format!("resource {id} is {other}, not bootstrapping"))),
        };
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

/// Activity reports closer together than this are not written down again.
const ACTIVITY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Records that a running machine is in use (a busy kernel, an open session): its idle time
/// starts again, and an idle warning already given is called off.
pub(crate) async fn activity(inner: &Shared, id: &LaunchId, token: &str, detail: &str) -> Result<Resource> {
    let detail = clean(detail);
    loop {
        let r = inner.store.get_resource(id).await?.ok_or_else(forbidden)?;
        if !token_matches(inner, &r, token) {
            return Err(forbidden());
        }
        if !r.phase.is_usable() {
            return Err(Error::InvalidTransition(format!("resource {id} is {}, not running", r.phase)));
        }
        let now = inner.clock.now();
        let recent = r.watch.active_at.is_some_and(|t| now.since(t) < ACTIVITY_EVERY);
        let result = match (r.watch.idle_warned, recent) {
            (false, true) => return Ok(r),
            (false, false) => inner.update(&r, |n| n.watch.active_at = Some(now)).await,
            (true, _) => {
                let reason = format!("activity: {detail}; the idle stop is called off");
                inner
                    .note(&r, Actor::Bootstrap, reason, |n| {
                        n.watch.active_at = Some(now);
                        n.watch.idle_warned = false;
                    })
                    .await
            }
        };
        match result {
            Err(Error::Stale(_)) => continue,
            other => return other,
        }
    }
}

fn token_matches(inner: &Shared, r: &Resource, token: &str) -> bool {
    let expected = derive(&inner.progress_key, &r.id);
    let ok = constant_time_eq(token.as_bytes(), expected.expose().as_bytes());
    if !ok {
        tracing::warn!(target: "mliy::launch", id = %r.id, "progress report with a wrong token");
    }
    ok
}

async fn record(inner: &Shared, r: &Resource, percent: u8, message: &str, claimed: Option<&str>) -> Result<Resource> {
    let event = Event::Progress { percent, message: message.to_string() };
    let reason = format!("bootstrap: {percent}% {message}");
    // Ready at 100 unless the stack still waits (then the driver decides, by `ready_when`).
    let done =
        percent >= 100 && !matches!(r.phase, Phase::CreatingStack | Phase::Bootstrapping { stack_creating: true, .. });
    inner
        .transition(r, event, Actor::Bootstrap, reason, |n| {
            if n.instance_id.is_none() {
                n.instance_id = claimed.map(str::to_string);
            }
            if done {
                n.progress_open = false;
                n.deadline = None;
            }
        })
        .await
}

/// Records a report an MLiy image sent for its EC2 instance id: the launch is the one whose
/// secret `token` is, among those still taking reports; an instance id the record does not
/// know yet must be the launch stack's instance.
pub(crate) async fn report_by_instance(
    inner: &std::sync::Arc<Shared>,
    instance_id: &str,
    token: &str,
    percent: u8,
    message: &str,
) -> Result<Resource> {
    let open = ResourceFilter { needs_driving: true, include_archived: true, ..ResourceFilter::default() };
    let candidates = inner.store.list_resources(&open).await?;
    let found = candidates.into_iter().find(|r| {
        r.kind == ResourceKind::Instance
            && r.progress_open
            && r.instance_id.as_deref().is_none_or(|known| known == instance_id)
            && constant_time_eq(token.as_bytes(), derive(&inner.progress_key, &r.id).expose().as_bytes())
    });
    let Some(r) = found else {
        tracing::warn!(target: "mliy::launch", instance = instance_id, "MLiy progress report matching no launch");
        return Err(forbidden());
    };
    let claimed = match r.instance_id {
        Some(_) => Some(instance_id),
        None => match stack_holds(inner, &r, instance_id).await {
            Ok(true) => Some(instance_id),
            Ok(false) => {
                tracing::warn!(target: "mliy::launch", id = %r.id, instance = instance_id, "progress for another stack's instance");
                return Err(forbidden());
            }
            // The secret vouches for the launch; its instance id waits until the stack can
            // say (MLiy's images never send a report twice, so it is not refused).
            Err(e) if e.is_retryable() => None,
            Err(e) => return Err(e),
        },
    };
    report_as(inner, &r.id, token, percent, message, claimed).await
}

/// Whether the launch's stack lists `instance_id` as its instance. A transient failure is
/// tried again (three times in all): MLiy's images send each report once and never retry.
async fn stack_holds(inner: &Shared, r: &Resource, instance_id: &str) -> Result<bool> {
    let mut attempt = 0u32;
    loop {
        match stack_lists(inner, r, instance_id).await {
            Err(e) if e.is_retryable() && attempt < 2 => {
                attempt += 1;
                inner.clock.sleep(inner.config.retry_base.saturating_mul(attempt)).await;
            }
            other => return other,
        }
    }
}

async fn stack_lists(inner: &Shared, r: &Resource, instance_id: &str) -> Result<bool> {
    let stack_id = match &r.stack_id {
        Some(id) => id.clone(),
        None => match inner.cloud.describe_stack(&r.stack.name).await? {
            Some(info) => info.id,
            None => return Ok(false),
        },
    };
    let resources = inner.cloud.stack_resources(&stack_id).await?;
    Ok(resources
        .iter()
        .any(|x| x.resource_type == "AWS::EC2::Instance" && x.physical_id.as_deref() == Some(instance_id)))
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
