//! `mliy sim` on real stores: several replicas sharing a SQLite file or a PostgreSQL
//! database, crashing all along; and a run killed with SIGKILL, then resumed.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mliy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mliy"))
}

fn sim(args: &[&str]) -> Value {
    let out = mliy().arg("sim").args(args).arg("--json").output().expect("run mliy sim");
    assert!(out.status.success(), "mliy sim {args:?}: {}", String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// Nothing duplicated, orphaned, lost or done twice, and every launch ended.
fn assert_clean(r: &Value, launched: u64) -> u64 {
    for key in
        ["duplicate_stacks", "orphaned_stacks", "running_machines", "lost", "double_actions", "unexpected_failures"]
    {
        assert_eq!(r[key], 0, "{key}: {r}");
    }
    let n = r["launched"].as_u64().unwrap();
    if launched > 0 {
        assert_eq!(n, launched, "{r}");
    }
    assert_eq!(r["terminated"].as_u64().unwrap() + r["failed"].as_u64().unwrap(), n, "{r}");
    n
}

#[test]
fn replicas_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("sim.sqlite").display());
    let args = ["--instances", "150", "--clusters", "4", "--replicas", "3", "--crash-every", "40", "--faults", "0.05"];
    let r = sim(&[&args[..], &["--seed", "7", "--store", &store]].concat());
    assert_clean(&r, 154);
    assert!(r["restarts"].as_u64().unwrap() > 10, "{r}");
    // The store is used: a fresh run on it is refused.
    let out = mliy().args(["sim", "--store", &store, "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("resume it"), "{said}");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_database() {
    let Some(server) = crate::postgres::start().await else { return };
    let store = format!("postgres:{}", crate::postgres::fresh_database(&server));
    let args = ["--instances", "150", "--clusters", "4", "--replicas", "3", "--crash-every", "40", "--seed", "8"];
    let r = tokio::task::spawn_blocking(move || sim(&[&args[..], &["--store", &store]].concat())).await.unwrap();
    assert_clean(&r, 154);
}

/// A SQLite store at a path with a space, `%` and `?`: the file and its journal are named as
/// given, and the file is private to its owner.
#[test]
fn any_sqlite_path_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("my runs%20?x#1.sqlite");
    let store = format!("sqlite:{}", db.display());
    let r = sim(&["--instances", "5", "--clusters", "1", "--store", &store]);
    assert_clean(&r, 6);
    assert_eq!(r["never_submitted"], 0, "{r}");
    let journal = dir.path().join("my runs%20?x#1.sqlite.cloud.jsonl");
    assert!(db.is_file() && journal.is_file(), "{:?}", std::fs::read_dir(dir.path()).unwrap().collect::<Vec<_>>());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| n.to_string_lossy().starts_with("my runs%20?x#1.sqlite")), "{names:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the store file is private: {mode:o}");
}

/// SIGKILL in the middle of a run, then `--resume` on the same file: every resource ends,
/// and the cloud agrees with the store.
#[test]
fn a_killed_run_resumes_to_a_clean_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.sqlite");
    let store = format!("sqlite:{}", db.display());
    let journal = dir.path().join("sim.sqlite.cloud.jsonl");
    let mut child = mliy()
        .args(["sim", "--instances", "300", "--clusters", "6", "--replicas", "2", "--crash-every", "50"])
        .args(["--seed", "9", "--store", &store, "--json"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the cloud has seen a good part of the fleet, and some stacks completed
    // (a stack's id is stored when it completes).
    let started = Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count()) < 450 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(120), "the run made no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The cloud got each launch's progress secret in its user data; the store holds none of
    // them, not even inside base64.
    let sent = tokens_in(&std::fs::read(&journal).unwrap());
    assert!(sent.len() > 50, "the journal shows the secrets sent: {}", sent.len());
    for suffix in ["", "-wal", "-shm"] {
        let Ok(bytes) = std::fs::read(format!("{}{suffix}", db.display())) else { continue };
        let mut texts = vec![bytes.clone()];
        texts.extend(base64_runs(&bytes));
        for text in &texts {
            for token in &sent {
                assert!(!contains(text, token.as_bytes()), "a progress secret is stored in sim.sqlite{suffix}");
            }
        }
    }
    // The same store resumed without the cloud's memory: launches whose stacks had completed
    // fail, which the simulator never doomed, so the audit fails the run (exit 1), report
    // printed. (A launch still creating its stack finds none by its name and creates it.)
    let copy = dir.path().join("copy.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::copy(format!("{}{suffix}", db.display()), format!("{}{suffix}", copy.display()));
    }
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let copy_store = format!("sqlite:{}", copy.display());
    let out = mliy()
        .args([
            "sim",
            "--seed",
            "9",
            "--store",
            &copy_store,
            "--journal",
            empty.to_str().unwrap(),
            "--resume",
            "--json",
        ])
        .output()
        .unwrap();
    let audit: Value = serde_json::from_slice(&out.stdout).expect("the report is printed");
    assert_eq!(out.status.code(), Some(1), "{audit}");
    assert!(audit["unexpected_failures"].as_u64().unwrap() > 0, "{audit}");
    // Launches the killed run had stored are resumed; the others are reported as never
    // submitted.
    let r = sim(&["--replicas", "2", "--seed", "9", "--store", &store, "--resume"]);
    let stored = assert_clean(&r, 0);
    assert!(stored > 100, "{r}");
    assert_eq!(r["never_submitted"].as_u64().unwrap() + stored, 306, "{r}");
    // A second resume finds nothing left to do.
    let again = sim(&["--seed", "9", "--store", &store, "--resume"]);
    assert_clean(&again, stored);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every run of 40 or more base64 characters in `bytes`, decoded (JSON escapes `/` as `\/`).
fn base64_runs(bytes: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(bytes).replace("\\/", "/");
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    text.split(|c: char| !is_b64(c))
        .filter(|run| run.len() >= 40)
        .filter_map(|run| {
            let run = run.trim_end_matches('=');
            let usable = &run[..run.len() / 4 * 4];
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(usable).ok()
        })
        .collect()
}

/// The progress secrets (`PROGRESS_TOKEN='…'`) in the base64 user data of `bytes`.
fn tokens_in(bytes: &[u8]) -> std::collections::BTreeSet<String> {
    let marker = "PROGRESS_TOKEN='";
    let mut found = std::collections::BTreeSet::new();
    for decoded in base64_runs(bytes) {
        let text = String::from_utf8_lossy(&decoded);
        for (at, _) in text.match_indices(marker) {
            let token: String = text[at + marker.len()..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            if token.len() == 64 {
                found.insert(token);
            }
        }
    }
    found
}
