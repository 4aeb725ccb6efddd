//! How a user reaches a resource: its address, the software config's custom URL (MLiy's
//! `{{{ URL }}}` rule), and for a cluster running JupyterHub its URL and the SSH tunnel the
//! Step Functions guide uses.

use super::Engine;
use crate::error::Result;
use crate::lifecycle::ResourceKind;
use crate::model::{LaunchId, Principal};
use serde::Serialize;

/// JupyterHub's port on EMR's master node.
pub const JUPYTERHUB_PORT: u16 = 9443;
/// The local port of the guide's tunnel.
pub const TUNNEL_PORT: u16 = 10501;

/// How to reach a resource once it is usable; every field is `None` before.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Connection {
    /// Its DNS name (the one mliy registered), else its (master's) private IP.
    pub address: Option<String>,
    /// The software config's `custom_url_format` with `{{{ URL }}}` replaced by the address;
    /// the address itself when the format is blank or lacks the token.
    pub custom_url: Option<String>,
    /// `https://<address>:9443`, for a cluster that runs JupyterHub.
    pub jupyterhub_url: Option<String>,
    /// `ssh -i KEY.pem -N -L 10501:<address>:9443 hadoop@<address>`, for the same.
    pub ssh_tunnel: Option<String>,
}

/// The address in `format`, by MLiy's rule.
pub fn custom_url(format: &str, address: &str) -> String {
    let format = format.trim();
    if format.contains("{{{ URL }}}") { format.replace("{{{ URL }}}", address) } else { address.to_string() }
}

impl Engine {
    /// How `principal` reaches the resource.
    ///
    /// # Errors
    /// As [`Engine::get`].
    pub async fn connection(&self, principal: &Principal, id: &LaunchId) -> Result<Connection> {
        let r = self.get(principal, id).await?;
        let Some(address) = r.dns_name.clone().or(r.private_ip.clone()).filter(|_| r.phase.is_usable()) else {
            return Ok(Connection::default());
        };
        let format = self.catalog().software_config(&r.software_config).map(|s| s.custom_url_format.clone());
        let spec = r.job_flow.as_ref();
        let jupyter = r.kind == ResourceKind::Cluster
            && spec.is_some_and(|s| s.applications.iter().any(|a| a.name.eq_ignore_ascii_case("JupyterHub")));
        let key = spec.and_then(|s| s.instances.ec2_key_name.clone()).unwrap_or_else(|| "KEY".into());
        Ok(Connection {
            custom_url: Some(custom_url(&format.unwrap_or_default(), &address)),
            jupyterhub_url: jupyter.then(|| format!("https://{address}:{JUPYTERHUB_PORT}")),
            ssh_tunnel: jupyter
                .then(|| format!("ssh -i {key}.pem -N -L {TUNNEL_PORT}:{address}:{JUPYTERHUB_PORT} hadoop@{address}")),
            address: Some(address),
        })
    }
}
