//! Steps, bootstrap actions and `user_info` (SSH users, added by a step on the master).

use super::fields::{Fields, scalar};
use crate::error::{Error, Result};
use crate::model::emr::{
    ActionOnFailure, BootstrapAction, COMMAND_RUNNER, HadoopJarStep, KeyValue, SCRIPT_RUNNER, ScriptBootstrapAction,
    Step,
};
use crate::template::Node;

const STEP: &[&str] = &[
    "type",
    "name",
    "jar",
    "main_class",
    "properties",
    "action_on_failure",
    "step_args",
    "hive_version",
    "hive_site",
    "pig_version",
];
/// Where edX's module finds Hadoop streaming.
pub const STREAMING_JAR: &str = "/home/hadoop/contrib/streaming/hadoop-streaming.jar";

/// `bootstrap_actions: {name: path}` or `{name: {path, args}}`, in file order.
pub(super) fn bootstrap_actions(f: &Fields<'_>) -> Result<Vec<BootstrapAction>> {
    let Some(node) = f.get("bootstrap_actions") else { return Ok(Vec::new()) };
    let actions = match node {
        Node::Map(entries) => entries,
        other => {
            return Err(Error::validation(
                "bootstrap_actions",
                other.kind(),
                "a mapping of name to path or {path, args}",
            ));
        }
    };
    actions
        .iter()
        .map(|(name, spec)| {
            let at = format!("bootstrap_actions.{name}");
            let (path, args) = match spec {
                Node::Scalar(path) => (path.clone(), Vec::new()),
                _ => {
                    let b = Fields::of(spec, &at, &["path", "args"])?;
                    (
                        b.text("path")?.ok_or_else(|| Error::validation(b.path("path"), "", "required"))?,
                        b.texts("args", false)?,
                    )
                }
            };
            Ok(BootstrapAction { name: name.clone(), script_bootstrap_action: ScriptBootstrapAction { path, args } })
        })
        .collect()
}

/// `steps: [{type, name, …}]`: `jar` (with `jar`), `script` (script-runner), `streaming`,
/// `hive_install` and `pig_install`, as edX's module builds them.
pub(super) fn steps(f: &Fields<'_>) -> Result<Vec<Step>> {
    f.items("steps")?.into_iter().map(|(at, node)| step(&Fields::of(node, &at, STEP)?)).collect()
}

fn step(s: &Fields<'_>) -> Result<Step> {
    let kind = s.text("type")?.unwrap_or_else(|| "jar".into());
    let jar = match (s.text("jar")?, kind.as_str()) {
        (Some(jar), _) => jar,
        (None, "jar") => return Err(Error::validation(s.path("jar"), "", "required for a step of type jar")),
        (None, "streaming") => STREAMING_JAR.into(),
        (None, "script" | "hive_install" | "pig_install") => SCRIPT_RUNNER.into(),
        (None, other) => {
            return Err(Error::validation(
                s.path("type"),
                other,
                "jar, script, streaming, hive_install or pig_install",
            ));
        }
    };
    let args = match kind.as_str() {
        "hive_install" => {
            let mut args =
                ["s3://elasticmapreduce/libs/hive/hive-script", "--base-path", "s3://elasticmapreduce/libs/hive/"]
                    .map(String::from)
                    .to_vec();
            args.extend([
                "--install-hive".into(),
                "--hive-versions".into(),
                s.text("hive_version")?.unwrap_or_else(|| "latest".into()),
            ]);
            args.extend(s.text("hive_site")?.map(|site| format!("--hive-site={site}")));
            args
        }
        "pig_install" => {
            ["s3://elasticmapreduce/libs/pig/pig-script", "--base-path", "s3://elasticmapreduce/libs/pig/"]
                .map(String::from)
                .into_iter()
                .chain([
                    "--install-pig".into(),
                    "--pig-versions".into(),
                    s.text("pig_version")?.unwrap_or_else(|| "latest".into()),
                ])
                .collect()
        }
        _ => s.texts("step_args", false)?,
    };
    let hadoop_jar_step = HadoopJarStep { jar, main_class: s.text("main_class")?, properties: properties(s)?, args };
    Ok(Step { name: s.text("name")?.unwrap_or(kind), action_on_failure: action(s)?, hadoop_jar_step })
}

fn action(s: &Fields<'_>) -> Result<Option<ActionOnFailure>> {
    let Some(text) = s.text("action_on_failure")? else { return Ok(None) };
    serde_json::from_value(serde_json::Value::String(text.clone())).map(Some).map_err(|_| {
        Error::validation(
            s.path("action_on_failure"),
            text,
            "TERMINATE_JOB_FLOW, TERMINATE_CLUSTER, CANCEL_AND_WAIT or CONTINUE",
        )
    })
}

/// Java properties: a mapping, or a list of `{key, value}`.
fn properties(s: &Fields<'_>) -> Result<Vec<KeyValue>> {
    let at = s.path("properties");
    match s.get("properties") {
        None => Ok(Vec::new()),
        Some(Node::Map(entries)) => entries
            .iter()
            .map(|(k, v)| Ok(KeyValue { key: k.clone(), value: scalar(v, &format!("{at}.{k}"))? }))
            .collect(),
        Some(_) => s
            .items("properties")?
            .into_iter()
            .map(|(at, node)| {
                let p = Fields::of(node, &at, &["key", "value", "Key", "Value"])?;
                let key = p
                    .text("key")?
                    .or(p.text("Key")?)
                    .ok_or_else(|| Error::validation(p.path("key"), "", "required"))?;
                Ok(KeyValue { key, value: p.text("value")?.or(p.text("Value")?).unwrap_or_default() })
            })
            .collect(),
    }
}

/// The script that adds one SSH user on the master: fixed text, the user's name, kind and keys
/// passed as its arguments, so no value changes what it runs.
pub const ADD_USER_SCRIPT: &str = r#"set -eu
user="$1"; kind="$2"; shift 2
id -u "$user" >/dev/null 2>&1 || sudo useradd -m -s /bin/bash "$user"
if [ "$kind" = admin ]; then
  printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" | sudo tee "/etc/sudoers.d/90-mliy-$user" >/dev/null
fi
home=$(getent passwd "$user" | cut -d: -f6)
sudo install -d -m 700 -o "$user" "$home/.ssh"
printf '%s\n' "$@" | sudo tee "$home/.ssh/authorized_keys" >/dev/null
sudo chown "$user" "$home/.ssh/authorized_keys"
sudo chmod 600 "$home/.ssh/authorized_keys"
"#;

/// `user_info: [{name, type, authorized_keys}]`: one step per user through command-runner.
/// Keys from GitHub (`github: true`) and `restricted` users are refused: nothing fetches
/// GitHub keys on the cluster, and edX's restricted shell is not built.
pub(super) fn users(f: &Fields<'_>) -> Result<Vec<Step>> {
    f.items("user_info")?
        .into_iter()
        .map(|(at, node)| {
            let u = Fields::of(node, &at, &["name", "type", "github", "authorized_keys"])?;
            let name = u.text("name")?.unwrap_or_default();
            if !crate::model::emr::is_user_name(&name) {
                return Err(Error::validation(
                    u.path("name"),
                    name,
                    "a Linux user name: a-z, 0-9, _ and -, at most 32",
                ));
            }
            if u.boolean("github")?.unwrap_or(false) {
                return Err(Error::validation(
                    u.path("github"),
                    "true",
                    "keys from GitHub are not supported: give authorized_keys",
                ));
            }
            let kind = u.text("type")?.unwrap_or_else(|| "normal".into());
            if !["normal", "admin"].contains(&kind.as_str()) {
                return Err(Error::validation(
                    u.path("type"),
                    kind,
                    "normal or admin (restricted users are not supported)",
                ));
            }
            let keys = u.texts("authorized_keys", false)?;
            if keys.is_empty() {
                return Err(Error::validation(u.path("authorized_keys"), "", "required: the user's SSH public keys"));
            }
            if let Some((n, key)) = keys.iter().enumerate().find(|(_, k)| !valid_key(k)) {
                let field = format!("{}[{n}]", u.path("authorized_keys"));
                return Err(Error::validation(
                    field,
                    key,
                    "one SSH public key line (ssh-rsa, ssh-ed25519 or ecdsa-sha2-*)",
                ));
            }
            let mut args =
                vec!["bash".into(), "-c".into(), ADD_USER_SCRIPT.into(), "mliy-add-user".into(), name.clone(), kind];
            args.extend(keys);
            Ok(Step {
                name: format!("Add SSH user {name}"),
                action_on_failure: Some(ActionOnFailure::Continue),
                hadoop_jar_step: HadoopJarStep { jar: COMMAND_RUNNER.into(), args, ..HadoopJarStep::default() },
            })
        })
        .collect()
}

fn valid_key(key: &str) -> bool {
    let mut parts = key.split(' ');
    let kind = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    (kind == "ssh-rsa" || kind == "ssh-ed25519" || kind.starts_with("ecdsa-sha2-"))
        && !body.is_empty()
        && body.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
        && key.len() <= 16_384
        && key.chars().all(|c| c == ' ' || c.is_ascii_graphic())
}
