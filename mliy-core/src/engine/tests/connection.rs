//! The JupyterHub recipe and how users reach what they launched.

use super::*;
use crate::engine::{Connection, custom_url};

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
}

#[test]
fn custom_urls_follow_mliys_rule() {
    assert_eq!(custom_url("jdbc:hive2://{{{ URL }}}:10000", "10.0.0.5"), "jdbc:hive2://10.0.0.5:10000");
    assert_eq!(custom_url("", "spark.example.com"), "spark.example.com", "blank: the address");
    assert_eq!(custom_url("https://host:8888", "10.0.0.5"), "10.0.0.5", "no token: the address");
}
