//! The JupyterHub recipe and how users reach what they launched.

use super::*;
use crate::engine::{Connection, custom_url};

/// The OpenAPI EMR service's three calls: a JupyterHub cluster of N nodes with notebooks in
/// S3, its status and JupyterHub URL, its termination.
#[tokio::test(start_paused = true)]
async fn the_jupyterhub_recipe_keeps_notebooks_in_s3_and_shows_its_connection() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let options =
        ClusterOptions { core_nodes: 2, task_nodes: 0, market: Market::OnDemand, purpose: "notebooks".into() };
    let request = LaunchRequest::cluster("ds", "jupyterhub", "m5.xlarge", options);
    let id = engine.launch_cluster(&alice(), request).await.unwrap().resource.id;
    assert_eq!(engine.connection(&alice(), &id).await.unwrap(), Connection::default(), "nothing before it is up");
    let up = wait_phase(&engine, &id, "waiting").await;
    let spec = up.job_flow.as_ref().unwrap();
    let s3 = &spec.configurations[0];
    assert_eq!(s3.classification.as_deref(), Some("jupyter-s3-conf"));
    assert_eq!(s3.properties["s3.persistence.enabled"], "true");
    assert_eq!(s3.properties["s3.persistence.bucket"], "ds-notebooks");
    let ip = up.private_ip.clone().unwrap();
    let c = engine.connection(&alice(), &id).await.unwrap();
    assert_eq!(c.address.as_deref(), Some(ip.as_str()));
    assert_eq!(c.custom_url, Some(format!("https://{ip}:9443/hub/login")));
    assert_eq!(c.jupyterhub_url, Some(format!("https://{ip}:9443")));
    assert_eq!(c.ssh_tunnel, Some(format!("ssh -i KEY.pem -N -L 10501:{ip}:9443 hadoop@{ip}")));
    let bob = Principal::new("bob", ["data-science"]);
    assert!(engine.connection(&bob, &id).await.is_err(), "only who may see it");
    // The OpenAPI service's last call: terminate it.
    engine.act(&alice(), &id, Action::Terminate).await.unwrap();
    let end = bounded(engine.wait_until(&alice(), &id, Phase::is_terminal)).await.unwrap();
    assert_eq!(end.phase, Phase::Terminated);
    assert_eq!(engine.connection(&alice(), &id).await.unwrap(), Connection::default(), "nothing once it has ended");
}

#[test]
fn custom_urls_follow_mliys_rule() {
    assert_eq!(custom_url("jdbc:hive2://{{{ URL }}}:10000", "10.0.0.5"), "jdbc:hive2://10.0.0.5:10000");
    assert_eq!(custom_url("", "spark.example.com"), "spark.example.com", "blank: the address");
    assert_eq!(custom_url("https://host:8888", "10.0.0.5"), "10.0.0.5", "no token: the address");
}

/// Users given at launch: a random password each, returned once; the record and the
/// cluster's step hold only their SHA-512 crypt hashes; no password is at rest or in events.
#[tokio::test(start_paused = true)]
async fn jupyterhub_users_get_passwords_that_are_returned_once_and_never_stored() {
    let rig = Rig::new(SimConfig::default());
    let engine = rig.engine();
    let options = ClusterOptions { core_nodes: 1, task_nodes: 0, market: Market::OnDemand, purpose: "class".into() };
    let request = LaunchRequest::cluster("ds", "jupyterhub", "m5.xlarge", options).with_jupyter_users(["ana", "raj"]);
    let launched = engine.launch_cluster(&alice(), request).await.unwrap();
    let passwords: Vec<(String, String)> =
        launched.jupyter_passwords.iter().map(|(u, p)| (u.clone(), p.expose().to_string())).collect();
    assert_eq!(passwords.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(), ["ana", "raj"]);
    assert_ne!(passwords[0].1, passwords[1].1);
    assert!(!format!("{launched:?}").contains(&passwords[0].1), "Debug hides them");
    let id = launched.resource.id.clone();
    let up = wait_phase(&engine, &id, "waiting").await;
    let sent = rig.cloud.step_args(up.cluster_id.as_deref().unwrap());
    let (name, args) = sent.iter().find(|(n, _)| n == "Create JupyterHub users").unwrap();
    assert_eq!(name, "Create JupyterHub users");
    assert_eq!(args[..3], ["bash".to_string(), "-c".into(), crate::plan::CREATE_USERS_SCRIPT.into()]);
    for (k, (user, password)) in passwords.iter().enumerate() {
        let (sent_user, hash) = (&args[4 + 2 * k], &args[5 + 2 * k]);
        assert_eq!(sent_user, user);
        let salt = hash.trim_start_matches("$6$").split('$').next().unwrap();
        assert_eq!(*hash, crate::engine::jupyter::sha512_crypt(password, salt), "the hash of the returned password");
    }
    let stored = serde_json::to_string(&rig.store.get_resource(&id).await.unwrap().unwrap()).unwrap();
    let events = format!("{:?}", rig.store.events(&id).await.unwrap());
    for (_, password) in &passwords {
        for text in [&stored, &events] {
            assert!(!text.contains(password.as_str()), "a password at rest");
        }
    }
    assert!(stored.contains("$6$") && !stored.contains("MLIY_JUPYTER_HASH"), "the store holds the hashes");
    let e = engine.launch_cluster(&alice(), cluster().with_jupyter_users(["ana"])).await.unwrap_err();
    assert!(e.to_string().contains("jupyter_users"), "{e}");
    let bad = LaunchRequest::cluster(
        "ds",
        "jupyterhub",
        "m5.xlarge",
        ClusterOptions { core_nodes: 1, task_nodes: 0, market: Market::OnDemand, purpose: "x".into() },
    )
    .with_jupyter_users(["Ana; rm -rf /"]);
    let e = engine.launch_cluster(&alice(), bad).await.unwrap_err();
    assert!(e.to_string().contains("jupyter_users[0]"), "{e}");
}
