//! `mliy cost report` on a deployment whose SQLite store holds bills (written here through
//! the library, as the engine would have).

use mliy::clock::Timestamp;
use mliy::model::{BillState, BillingSegment};
use mliy::plugins::sqlite::SqliteStore;
use mliy::store::StateStore;
use mliy_core::testkit::sample_resource;
use serde_json::Value;
use std::path::Path;

const H: i64 = 3_600_000;
/// 2023-11-14T22:13:20Z, where the sample resources start.
const T0: i64 = 1_700_000_000_000;

async fn deployment(dir: &Path) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    for file in ["catalog.yaml", "instance.yaml", "cluster.yaml", "userdata.sh"] {
        std::fs::copy(examples.join(file), dir.join(file)).unwrap();
    }
    std::fs::write(dir.join("mliy.yaml"), "catalog: catalog.yaml\ncloud: sim\nstore: {sqlite: state.sqlite}\n")
        .unwrap();
    let store = SqliteStore::open(dir.join("state.sqlite")).await.unwrap();
    for (id, owner) in [("cost-a", "alice"), ("cost-b", "bob")] {
        let mut r = sample_resource(id, owner);
        r.group_config = "data-science".into();
        store.insert_resource(&r, None).await.unwrap();
    }
    let segment = |id: &str, state, hourly: &str, start: i64, end: i64| BillingSegment {
        resource: mliy::model::LaunchId::parse(id).unwrap(),
        state,
        hourly: Some(hourly.parse().unwrap()),
        description: "t3.large".into(),
        start: Timestamp(T0 + start),
        end: Some(Timestamp(T0 + end)),
    };
    for s in [
        segment("cost-a", BillState::Running, "0.0832", 0, 2 * H),
        segment("cost-a", BillState::Stopped, "0.0110", 2 * H, 12 * H),
        segment("cost-b", BillState::Running, "0.504", H, 3 * H),
    ] {
        store.open_billing(&s).await.unwrap();
        store.close_billing(&s.resource, s.end.unwrap()).await.unwrap();
    }
}

fn mliy(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
        .args(["cost", "report"])
        .args(args)
        .env("MLIY_CONFIG", dir.join("mliy.yaml"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[tokio::test]
async fn a_report_by_user_and_by_cost_center_in_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    deployment(dir.path()).await;
    let (code, out) = mliy(dir.path(), &["--from", "2023-11-14", "--to", "2023-11-16", "--by", "user", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (json["from"].as_str(), json["to"].as_str()),
        (Some("2023-11-14T00:00:00Z"), Some("2023-11-16T00:00:00Z"))
    );
    let rows: Vec<(&str, &str)> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["cost"].as_str().unwrap()))
        .collect();
    // bob: 2 h × 0.504; alice: 2 h × 0.0832 + 10 h × 0.0110.
    assert_eq!(rows, [("bob", "1.008"), ("alice", "0.2764")]);
    assert_eq!(json["total"], "1.2844");
    let alice = json["resources"].as_array().unwrap().iter().find(|r| r["owner"] == "alice").unwrap();
    assert_eq!(alice["segments"][1]["state"], "stopped");
    assert_eq!(alice["segments"][0]["hourly"], "0.0832", "as the price file writes it");
    // A range that starts an hour in clips alice's first segment.
    let (_, out) = mliy(dir.path(), &["--from", "2023-11-14T23:13:20Z", "--to", "2023-11-16", "--by", "user", "--csv"]);
    assert_eq!(out, "key,cost,hours\nbob,1.008,2\nalice,0.1932,11\n");
    let (_, out) = mliy(dir.path(), &["--from", "2023-11-14", "--to", "2023-11-16", "--by", "group-config", "--csv"]);
    assert_eq!(out, "key,cost,hours\ndata-science,1.2844,14\n");
    // Refused: a range that ends first, a key that is not one.
    let (code, out) = mliy(dir.path(), &["--from", "2023-11-16", "--to", "2023-11-14", "--json"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((code, json["error"]["field"].as_str()), (Some(2), Some("to")), "{json}");
    let (code, out) = mliy(dir.path(), &["--from", "2023-11-14", "--to", "2023-11-16", "--by", "owner", "--json"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("group-config"), "{out}");
}
