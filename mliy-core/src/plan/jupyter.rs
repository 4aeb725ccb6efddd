//! The step that creates a JupyterHub cluster's users: a fixed script, each user's name and
//! a placeholder for its password hash as arguments (the engine fills the hashes in when it
//! sends the request; no value changes what the script runs).

use crate::error::{Error, Result};
use crate::model::emr::{ActionOnFailure, Step};

/// Creates each user in EMR's `jupyterhub` container and sets its password from a crypt hash.
pub const CREATE_USERS_SCRIPT: &str = r#"set -eu
while [ "$#" -ge 2 ]; do
  user="$1"; hash="$2"; shift 2
  sudo docker exec jupyterhub id -u "$user" >/dev/null 2>&1 || sudo docker exec jupyterhub useradd -m -s /bin/bash -N "$user"
  printf '%s:%s\n' "$user" "$hash" | sudo docker exec -i jupyterhub chpasswd -e
done
"#;

/// The most users one launch creates.
pub const MAX_JUPYTER_USERS: usize = 50;

/// The placeholder of `user`'s hash in the stored request.
pub(crate) fn hash_placeholder(user: &str) -> String {
    format!("{{{{{{MLIY_JUPYTER_HASH:{user}}}}}}}")
}

/// The user a placeholder stands for.
pub(crate) fn placeholder_user(arg: &str) -> Option<&str> {
    arg.strip_prefix("{{{MLIY_JUPYTER_HASH:").and_then(|a| a.strip_suffix("}}}"))
}

/// The step for `users`, checked: Linux user names, none twice, at most 50.
pub(crate) fn users_step(users: &[String]) -> Result<Step> {
    if users.len() > MAX_JUPYTER_USERS {
        return Err(Error::validation("jupyter_users", users.len().to_string(), "at most 50 users per launch"));
    }
    let mut args = vec!["bash".to_string(), "-c".into(), CREATE_USERS_SCRIPT.into(), "mliy-jupyter-users".into()];
    for (n, user) in users.iter().enumerate() {
        if !crate::model::emr::is_user_name(user) {
            return Err(Error::validation(
                format!("jupyter_users[{n}]"),
                user,
                "a Linux user name: a-z, 0-9, _ and -, at most 32",
            ));
        }
        if users[..n].contains(user) {
            return Err(Error::validation(format!("jupyter_users[{n}]"), user, "given twice"));
        }
        args.extend([user.clone(), hash_placeholder(user)]);
    }
    let mut step = Step::command("Create JupyterHub users", args);
    step.action_on_failure = Some(ActionOnFailure::Continue);
    Ok(step)
}
