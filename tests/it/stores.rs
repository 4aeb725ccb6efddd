//! The SQL stores against real SQLite files and a real PostgreSQL server: the conformance
//! suite unchanged, plus what only a real database shows (reopening, several writers).

use mliy::store::StateStore;
use mliy_core::testkit::{sample_resource, store::run_all};

/// The child half of `open_together`: opens (and so migrates) the store of
/// `MLIY_OPEN_TEST` (`sqlite:PATH` or `postgres:URL`) and exits.
#[tokio::test]
async fn open_store_child() {
    let Ok(spec) = std::env::var("MLIY_OPEN_TEST") else { return };
    match spec.split_once(':') {
        #[cfg(feature = "sqlite")]
        Some(("sqlite", path)) => drop(mliy::plugins::sqlite::SqliteStore::open(path).await.unwrap()),
        #[cfg(feature = "postgres")]
        Some(("postgres", url)) => drop(mliy::plugins::postgres::PostgresStore::connect(url).await.unwrap()),
        _ => panic!("unknown store {spec}"),
    }
}

/// Four processes open one fresh store at the same moment; each must migrate or find it
/// migrated, never fail.
#[allow(dead_code)]
fn open_together(spec: &str) {
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "stores::open_store_child", "--test-threads", "1"])
                .env("MLIY_OPEN_TEST", spec)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{spec}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

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

    /// A file written before migration 2, with two open billing segments for one resource
    /// (a race the old code allowed): reopening closes the older at its start and from then
    /// on keeps one open segment per resource. The old file is made with Python's sqlite3.
    #[tokio::test]
    async fn migration_2_keeps_one_open_billing_segment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mliy.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let body = |start: i64| {
            format!(
                r#"{{"resource":"twice","price_per_hour":null,"description":"t3.large","start":{start},"end":null}}"#
            )
        };
        let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n\
             c.execute('DROP INDEX mliy_billing_one_open')\nc.execute('DELETE FROM mliy_schema WHERE version >= 2')\n\
             for start, body in [(1000, sys.argv[2]), (2000, sys.argv[3])]:\n    \
             c.execute('INSERT INTO mliy_billing (resource, start_ms, end_ms, body) VALUES (?, ?, NULL, ?)', ('twice', start, body))\n\
             c.commit()\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script, path.to_str().unwrap(), &body(1000), &body(2000)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let store = SqliteStore::open(&path).await.unwrap();
        let id = mliy::model::LaunchId::parse("twice").unwrap();
        let segs = store.billing(Some(&id)).await.unwrap();
        assert_eq!(
            segs.iter().map(|s| (s.start.0, s.end.map(|e| e.0))).collect::<Vec<_>>(),
            [(1000, Some(1000)), (2000, None)]
        );
        assert_eq!(store.close_billing(&id, mliy::clock::Timestamp(9000)).await.unwrap(), 1, "one was open");
    }

    /// A file written before migration 3 gets its indexes on reopening, and SQLite's planner
    /// takes them: an insert's `MAX(pos)` and one owner's listing no longer read the table.
    #[tokio::test]
    async fn migration_3_indexes_positions_and_owners() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mliy.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let plan = |sql: &str| {
            let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n\
                 if sys.argv[2] == 'old':\n    c.execute('DROP INDEX mliy_resources_pos')\n    \
                 c.execute('DROP INDEX mliy_resources_owner_order')\n    c.execute('DELETE FROM mliy_schema WHERE version >= 3')\n    c.commit()\n\
                 else:\n    print(' '.join(str(r[-1]) for r in c.execute('EXPLAIN QUERY PLAN ' + sys.argv[2], ('alice', 0, 0))))\n";
            let out = std::process::Command::new("python3")
                .args(["-c", script, path.to_str().unwrap(), sql])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        plan("old");
        let owner = "SELECT body FROM mliy_resources WHERE owner = ? AND (? = 0 OR needs_driving = 1) AND (1 = ? OR archived = 0) ORDER BY created_ms, pos";
        assert!(!plan(owner).contains("mliy_resources_owner_order"), "the old file lacks the index");
        let store = SqliteStore::open(&path).await.unwrap();
        store.insert_resource(&sample_resource("r1", "alice"), None).await.unwrap();
        assert!(plan(owner).contains("USING INDEX mliy_resources_owner_order"), "{}", plan(owner));
        let max = "SELECT COALESCE(MAX(pos), 0) + 1 FROM mliy_resources WHERE ? = ? OR ? = 0";
        assert!(plan(max).contains("mliy_resources_pos"), "{}", plan(max));
    }

    /// A file written before migration 4 (its records without kind and phase columns)
    /// gets them filled from the records on reopening, and a page of one phase is read
    /// through the (phase, kind, id) index.
    #[tokio::test]
    async fn migration_4_fills_phase_columns_and_pages_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mliy.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let mut ready = sample_resource("m4-ready", "alice");
        ready.phase = mliy::lifecycle::Phase::Ready;
        store.insert_resource(&ready, None).await.unwrap();
        drop(store);
        let sql = |what: &str, query: &str| {
            let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n\
                 if sys.argv[2] == 'old':\n    c.execute('DROP INDEX mliy_resources_phase')\n    \
                 c.execute(\"UPDATE mliy_resources SET kind = '', phase = ''\")\n    \
                 c.execute('DELETE FROM mliy_schema WHERE version >= 4')\n    c.commit()\n\
                 else:\n    print(' '.join(str(r[-1]) for r in c.execute('EXPLAIN QUERY PLAN ' + sys.argv[3], ('ready', 'instance', ''))))\n";
            let out = std::process::Command::new("python3")
                .args(["-c", script, path.to_str().unwrap(), what, query])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        sql("old", "");
        let store = SqliteStore::open(&path).await.unwrap();
        let page = mliy::store::PageQuery::new(mliy::lifecycle::ResourceKind::Instance, "ready", 10);
        let found = store.list_page(&page).await.unwrap();
        assert_eq!(found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["m4-ready"]);
        let query = "SELECT body FROM mliy_resources WHERE phase = ? AND kind = ? AND id > ? ORDER BY id LIMIT 10";
        let plan = sql("plan", query);
        assert!(plan.contains("USING INDEX mliy_resources_phase"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "read in index order, not sorted: {plan}");
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
            let id = mliy::model::LaunchId::parse(&format!("kill-{n}")).unwrap();
            let r = store.get_resource(&id).await.unwrap().unwrap_or_else(|| panic!("kill-{n} lost"));
            assert_eq!(r.version, 2, "kill-{n}: its committed update is there");
        }
        // Writes after the last announced one may or may not have landed, but whole.
        let all = store.list_resources(&Default::default()).await.unwrap();
        assert!(all.len() as u64 > last);
        assert!(all.iter().all(|r| r.version == 1 || (r.version == 2 && r.private_ip.is_some())));
    }

    #[test]
    fn four_processes_open_one_fresh_file_at_once() {
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            open_together(&format!("sqlite:{}", dir.path().join(format!("fresh-{round}.db")).display()));
        }
    }

    /// `max_running_per_user: 1`, twelve launches at once through two engines on one file:
    /// exactly one is admitted (the count and the insert were check-then-act before).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_per_user_limit_holds_under_concurrent_launches() {
        use mliy::clock::{Timestamp, VirtualClock};
        use mliy::engine::Engine;
        use mliy::model::{Catalog, Principal};
        use mliy::plan::LaunchRequest;
        use mliy::sim::{SimCloud, SimConfig};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quota.db");
        let clock = Arc::new(VirtualClock::starting_at(Timestamp(0)));
        let cloud = Arc::new(SimCloud::new(clock.clone(), SimConfig::default()));
        let catalog = Catalog::from_yaml_str(
            "instance_types: [{name: t3.large}]
software_configs:
  - {name: box, ami_id: ami-0123abcd, compatible_instance_types: [t3.large], permitted_group_configs: [ds],
     template: {inline: \"Parameters: {InstanceType: {Type: String}}\\nResources: {I: {Type: 'AWS::EC2::Instance'}}\\n\"}}
group_configs: [{name: ds, group: data-science, settings: {max_running_per_user: 1}}]
",
        )
        .unwrap();
        let mut engines = Vec::new();
        for _ in 0..2 {
            let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
            let builder = Engine::builder().catalog(catalog.clone()).cloud(cloud.clone()).store(store);
            engines.push(builder.clock(clock.clone()).build().unwrap());
        }
        let alice = Principal::new("alice", ["data-science"]);
        let launches: Vec<_> = (0..12)
            .map(|i| {
                let (engine, alice) = (engines[i % 2].clone(), alice.clone());
                tokio::spawn(async move {
                    engine.launch_instance(&alice, LaunchRequest::instance("ds", "box", "t3.large")).await
                })
            })
            .collect();
        let mut admitted = 0;
        for launch in launches {
            match launch.await.unwrap() {
                Ok(_) => admitted += 1,
                Err(mliy::Error::Forbidden(m)) => assert!(m.contains("limit is 1"), "{m}"),
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(admitted, 1);
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
    async fn four_processes_open_one_fresh_database_at_once() {
        let Some(server) = start().await else { return };
        for _ in 0..10 {
            let url = fresh_database(&server);
            tokio::task::spawn_blocking(move || open_together(&format!("postgres:{url}"))).await.unwrap();
        }
    }

    /// The tests' own server (it speaks TLS), its CA and a fresh database's URL; `None`
    /// (after saying why) without one.
    async fn tls_database() -> Option<(crate::postgres::Postgres, std::path::PathBuf, String)> {
        let server = start().await?;
        let Some(ca) = server.ca.clone() else {
            eprintln!("SKIPPED: MLIY_POSTGRES_URL names a server without the tests' CA");
            return None;
        };
        let url = fresh_database(&server);
        Some((server, ca, url))
    }

    /// A folder holding a CA (`ca.pem`) the server's certificate is not signed by.
    fn another_ca() -> tempfile::TempDir {
        let other = tempfile::tempdir().unwrap();
        crate::servers::make_certificates(other.path());
        other
    }

    /// TLS as RDS needs it: `sslmode=require`, and `verify-full` against the server's CA;
    /// another CA is refused.
    #[tokio::test]
    async fn tls_require_and_verify_full() {
        let Some((_server, ca, url)) = tls_database().await else { return };
        let store = PostgresStore::connect(&format!("{url}?sslmode=require")).await.unwrap();
        run_all(&store).await;
        let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
        PostgresStore::connect(&verified).await.unwrap();
        let other = another_ca();
        let wrong = format!("{url}?sslmode=verify-full&sslrootcert={}", other.path().join("ca.pem").display());
        let e = PostgresStore::connect(&wrong).await.unwrap_err();
        assert!(!e.to_string().contains("postgres://"), "{e}");
    }

    /// A deployment config's `store: {postgres: …}` through the registry: the password goes
    /// into the URL and `tls` into `sslmode`/`sslrootcert` (the throwaway server trusts every
    /// login, so the password is carried, not checked; the CA is).
    #[tokio::test]
    async fn a_deployment_config_reaches_it_over_verified_tls() {
        let Some((_server, ca, url)) = tls_database().await else { return };
        let config = |ca: &std::path::Path| {
            let yaml = format!(
                "cloud: sim\nstore: {{postgres: {{url: '{url}', password: {{literal: 'p@ss/w:rd'}}, \
                 tls: {{mode: verify-full, ca_file: '{}'}}}}}}\n",
                ca.display()
            );
            mliy::config::DeploymentConfig::from_yaml_str(&yaml, std::path::Path::new("/")).unwrap()
        };
        let good = config(&ca);
        let store = mliy::registry::store(&good.store, &good.base).await.unwrap();
        assert!(store.list_resources(&Default::default()).await.unwrap().is_empty());
        let other = another_ca();
        let wrong = config(&other.path().join("ca.pem"));
        let e = mliy::registry::store(&wrong.store, &wrong.base).await.unwrap_err();
        assert!(!e.to_string().contains("p@ss") && !e.to_string().contains("p%40ss"), "{e}");
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
