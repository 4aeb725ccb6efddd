//! The SQL stores against real SQLite files and a real PostgreSQL server: the conformance
//! suite unchanged, plus what only a real database shows (reopening, several writers).

use mliy::store::StateStore;
use mliy_core::testkit::{sample_resource, store::run_all};

/// Eight writers, spread over `stores`, race the same compare-and-set each round.
async fn writers_race(stores: &[std::sync::Arc<dyn StateStore>]) {
    let r = sample_resource("race-across", "alice");
    stores[0].insert_resource(&r, None).await.unwrap();
    for round in 1..=10u64 {
        let mut tasks = Vec::new();
        for writer in 0..8usize {
            let store = stores[writer % stores.len()].clone();
            let mut next = r.clone();
            next.version = round + 1;
            next.private_ip = Some(format!("10.0.{round}.{writer}"));
            tasks.push(tokio::spawn(async move {
                loop {
                    match store.update_resource(&next, round, None).await {
                        Err(e) if e.is_retryable() => tokio::task::yield_now().await,
                        other => return other.is_ok(),
                    }
                }
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "round {round}: exactly one writer may win");
    }
    assert_eq!(stores[0].get_resource(&r.id).await.unwrap().unwrap().version, 11);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use mliy::plugins::sqlite::SqliteStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        run_all(&SqliteStore::open(dir.path().join("mliy.db")).await.unwrap()).await;
    }

    #[tokio::test]
    async fn reopening_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mliy.db");
        let r = sample_resource("kept", "alice");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            store.insert_resource(&r, None).await.unwrap();
            assert_eq!(store.put_idempotency_key("k", "v").await.unwrap(), None);
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.get_resource(&r.id).await.unwrap(), Some(r));
        assert_eq!(store.put_idempotency_key("k", "w").await.unwrap().as_deref(), Some("v"));
    }

    /// The writer half of `a_killed_writer_loses_nothing_committed`: runs only in the child
    /// process that test starts, writing and announcing each committed write.
    #[tokio::test]
    async fn killed_writer_child() {
        let Ok(path) = std::env::var("MLIY_KILL_TEST_DB") else { return };
        let store = SqliteStore::open(&path).await.unwrap();
        for n in 0.. {
            let mut r = sample_resource(&format!("kill-{n}"), "alice");
            store.insert_resource(&r, None).await.unwrap();
            r.version = 2;
            r.private_ip = Some(format!("10.1.{}.{}", n / 256, n % 256));
            store.update_resource(&r, 1, None).await.unwrap();
            println!("committed {n}");
        }
    }

    /// A process killed with SIGKILL between two writes: everything it was told was committed
    /// is there when the file is reopened, and the file is consistent.
    #[tokio::test]
    async fn a_killed_writer_loses_nothing_committed() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mliy.db");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "stores::sqlite::killed_writer_child", "--nocapture", "--test-threads", "1"])
            .env("MLIY_KILL_TEST_DB", &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut last = None;
        for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
            if let Some(n) = line.unwrap().strip_prefix("committed ").and_then(|n| n.parse::<u64>().ok()) {
                last = Some(n);
                if n >= 300 {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let last = last.expect("the child committed writes");
        let store = SqliteStore::open(&path).await.unwrap();
        for n in 0..=last {
            let id = mliy::plan::LaunchId::parse(&format!("kill-{n}")).unwrap();
            let r = store.get_resource(&id).await.unwrap().unwrap_or_else(|| panic!("kill-{n} lost"));
            assert_eq!(r.version, 2, "kill-{n}: its committed update is there");
        }
        // Writes after the last announced one may or may not have landed, but whole.
        let all = store.list_resources(&Default::default()).await.unwrap();
        assert!(all.len() as u64 > last);
        assert!(all.iter().all(|r| r.version == 1 || (r.version == 2 && r.private_ip.is_some())));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_never_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mliy.db");
        let a: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let b: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
        writers_race(&[a, b]).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::postgres::{fresh_database, start};
    use mliy::plugins::postgres::PostgresStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let Some(server) = start().await else { return };
        let url = fresh_database(&server);
        run_all(&PostgresStore::connect(&url).await.unwrap()).await;
        let shown = format!("{:?}", PostgresStore::connect(&url).await.unwrap());
        assert!(!shown.contains("postgres://"), "Debug shows no connection string: {shown}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_database_never_both_win() {
        let Some(server) = start().await else { return };
        let url = fresh_database(&server);
        let a: Arc<dyn StateStore> = Arc::new(PostgresStore::connect(&url).await.unwrap());
        let b: Arc<dyn StateStore> = Arc::new(PostgresStore::connect(&url).await.unwrap());
        writers_race(&[a, b]).await;
    }
}
