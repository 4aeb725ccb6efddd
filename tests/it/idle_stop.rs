//! Idle stop with the example catalog's own heartbeat: the user data SimCloud received (the
//! launch's real secret in it) is run in bash with stub commands, which installs
//! `activity.sh`; that script, run with a stub `ps` showing a busy or an idle Jupyter kernel,
//! calls a stub `curl` whose arguments become the engine's `report_activity`. SimCloud
//! stands in for EC2 because the test moves time forward by an hour.

use super::userdata_shell::{calls, run_in, stub, stubs};
use base64::Engine as _;
use mliy::clock::{Clock, Timestamp, VirtualClock};
use mliy::engine::{Engine, EngineConfig, RefreshConfig};
use mliy::lifecycle::{Phase, Resource};
use mliy::model::{LaunchId, Principal};
use mliy::plan::LaunchRequest;
use mliy::store::MemoryStore;
use mliy_core::sim::{SimCloud, SimConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const STUBS: &[&str] = &["curl", "timedatectl", "aws", "tar", "install.sh", "mkfs", "mount", "mkdir", "crontab"];

fn alice() -> Principal {
    Principal::new("alice", ["cn=data-science,ou=groups,dc=example,dc=com"])
}

/// Runs the installed `activity.sh` with a kernel at `cpu` percent and nobody logged in;
/// returns the launch, secret and detail it reported, if it reported.
fn heartbeat(home: &Path, cpu: &str) -> Option<(LaunchId, String, String)> {
    let (bin, log) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let kernel = format!("{cpu} /usr/bin/python3 -m ipykernel_launcher -f /run/kernel-1.json");
    stub(bin.path(), "ps", &format!("printf '%s\\n' '{kernel}' ' 0.1 /usr/sbin/sshd -D'"));
    stub(bin.path(), "who", "true");
    stubs(bin.path(), log.path(), &["curl"]);
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let out = std::process::Command::new(home.join("activity.sh")).env("PATH", path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let args = calls(log.path()).remove("curl")?;
    let after = |flag: &str| args.iter().skip_while(|a| *a != flag).nth(1).unwrap().clone();
    let header = std::fs::read_to_string(after("-H").trim_start_matches('@')).unwrap();
    let token = header.trim().strip_prefix("X-Mliy-Progress-Token: ").unwrap().to_string();
    let detail = after("--data-urlencode").strip_prefix("detail=").unwrap().to_string();
    let url = args.last().unwrap();
    let id = url.strip_prefix("https://portal.example/api/v1/activity/").expect("the configured activity URL");
    Some((LaunchId::parse(id).unwrap(), token, detail))
}

/// Runs the user data SimCloud received for `r` with stubs, installing its heartbeat in `home`.
fn install_heartbeat(cloud: &SimCloud, r: &Resource, home: &Path) {
    let b64 = cloud.user_data_of(&r.stack.client_request_token).unwrap();
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
    let (calls, _) = run_in(&text, STUBS, home);
    assert!(calls["crontab"].iter().any(|a| a == "-"), "the heartbeat is scheduled");
    let mode = std::fs::metadata(home.join("activity.header")).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600, "the secret is root's only");
}

async fn ready(engine: &Engine, id: &LaunchId, token: &str) -> Resource {
    engine.wait_until(&alice(), id, |p| matches!(p, Phase::Bootstrapping { .. })).await.unwrap();
    engine.report_progress(id, token, 100, "notebook ready").await.unwrap();
    engine.wait_until(&alice(), id, |p| p.is_usable() || p.is_terminal()).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_idle_notebook_is_stopped_and_a_busy_kernel_keeps_its_machine() {
    let clock = Arc::new(VirtualClock::starting_at(Timestamp::parse_utc("2026-12-01").unwrap()));
    let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
    let mut catalog = mliy::demo::catalog().unwrap();
    catalog.group_configs[0].settings.idle_stop_minutes = Some(30);
    let config = EngineConfig {
        progress_url: Some("https://portal.example/api/v1/progress".into()),
        activity_url: Some("https://portal.example/api/v1/activity".into()),
        ..EngineConfig::default()
    };
    let engine = Engine::builder()
        .catalog(catalog)
        .cloud(cloud.clone())
        .store(Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .config(config)
        .build()
        .unwrap();
    let mut machines = Vec::new();
    for _ in 0..2 {
        let launched =
            engine.launch_instance(&alice(), LaunchRequest::instance("data-science", "notebook", "t3.large")).await;
        let launched = launched.unwrap();
        let r = ready(&engine, &launched.resource.id, launched.progress_token.as_ref().unwrap().expose()).await;
        assert_eq!(r.phase, Phase::Ready);
        let home = tempfile::tempdir().unwrap();
        install_heartbeat(&cloud, &r, home.path());
        machines.push((r.id, home));
    }
    let ((busy, busy_home), (idle, idle_home)) = (&machines[0], &machines[1]);
    for _ in 0..12 {
        clock.sleep(Duration::from_secs(300)).await;
        assert!(heartbeat(idle_home.path(), "0.0").is_none(), "an idle kernel reports nothing");
        let (id, token, detail) = heartbeat(busy_home.path(), "97.5").expect("a busy kernel reports");
        assert_eq!((&id, detail.as_str()), (busy, "1 busy kernels, 0 sessions"));
        engine.report_activity(&id, &token, &detail).await.unwrap();
        engine.refresh(&RefreshConfig::default()).await.unwrap();
    }
    let busy_r = engine.get(&alice(), busy).await.unwrap();
    let who = alice();
    let stopping = engine.wait_until(&who, idle, |p| *p == Phase::Stopped);
    let idle_r = tokio::time::timeout(Duration::from_secs(3600), stopping).await.expect("stopped within the hour");
    let idle_r = idle_r.unwrap();
    assert_eq!((busy_r.phase, idle_r.phase), (Phase::Ready, Phase::Stopped));
    let said = |id| {
        let engine = engine.clone();
        async move {
            let events = engine.events(&alice(), id).await.unwrap();
            events.into_iter().map(|e| e.reason).collect::<Vec<_>>()
        }
    };
    let idle_events = said(idle).await;
    let warned = idle_events.iter().position(|e| e.starts_with("idle: no activity reported for 2"));
    let stopped = idle_events.iter().position(|e| e.contains("(idle_stop_minutes 30)"));
    assert!(warned.is_some() && warned < stopped, "a warning, then the stop: {idle_events:?}");
    assert!(!said(busy).await.iter().any(|e| e.contains("idle")), "the busy machine was never warned");
    let wrong = engine.report_activity(busy, &"0".repeat(64), "forged").await.unwrap_err();
    assert!(matches!(wrong, mliy::Error::Forbidden(_)), "{wrong}");
    let stopped = engine.report_activity(idle, &heartbeat_token(idle_home.path()), "late").await.unwrap_err();
    assert!(matches!(stopped, mliy::Error::InvalidTransition(_)), "a stopped machine is not active: {stopped}");
}

fn heartbeat_token(home: &Path) -> String {
    let header = std::fs::read_to_string(home.join("activity.header")).unwrap();
    header.trim().trim_start_matches("X-Mliy-Progress-Token: ").to_string()
}
