//! `mliy auth check`: a login against LDAP / Active Directory.

use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum AuthCommand {
    /// Log a user in against LDAP / Active Directory and print the principal.
    Check(AuthCheckArgs),
}

#[cfg(feature = "ldap")]
#[derive(Args)]
pub(crate) struct AuthCheckArgs {
    /// `ldap://host:port` or `ldaps://host:port`.
    #[arg(long)]
    ldap_url: String,
    /// `openldap` or `ad`.
    #[arg(long, value_parser = ["openldap", "ad"])]
    mode: String,
    /// Where users are searched.
    #[arg(long)]
    base_dn: String,
    /// The service account.
    #[arg(long)]
    bind_dn: String,
    /// The environment variable that holds the service account's password.
    #[arg(long)]
    bind_password_env: String,
    /// Members of this group are admins.
    #[arg(long)]
    admin_group: Option<String>,
    /// Upgrade ldap:// with StartTLS.
    #[arg(long)]
    starttls: bool,
    /// Seconds to wait for the directory.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
    /// The user to log in.
    #[arg(long)]
    user: String,
    /// The environment variable that holds the user's password.
    #[arg(long)]
    password_env: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `mliy auth check`: its errors have their own kinds (`invalid_credentials`, …).
#[cfg(feature = "ldap")]
pub(crate) fn auth_check(args: &AuthCheckArgs) -> ExitCode {
    use mliy::config::{LdapSection, SecretSource};
    use mliy::plugins::ldap::LdapError;
    use mliy::secret::Secret;
    let env = |name: &str| std::env::var(name).map(Secret::new).unwrap_or_else(|_| Secret::new(""));
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    // The flags are an `auth: {ldap: …}` section, built by the registry as a deployment's is.
    let section = LdapSection {
        url: args.ldap_url.clone(),
        mode: args.mode.clone(),
        base_dn: args.base_dn.clone(),
        bind_dn: args.bind_dn.clone(),
        bind_password: SecretSource::Env(args.bind_password_env.clone()),
        user_attribute: None,
        admin_group: args.admin_group.clone(),
        starttls: args.starttls,
        ca_file: None,
        tls_verify: true,
        connect_timeout: Some(timeout),
        operation_timeout: Some(timeout),
    };
    let result = match mliy::registry::ldap_auth(&section, std::path::Path::new(".")) {
        Ok(auth) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(auth.check(&args.user, &env(&args.password_env))),
            Err(e) => Err(LdapError::Misconfigured(e.to_string())),
        },
        Err(e) => Err(LdapError::Misconfigured(e.to_string())),
    };
    let (code, json, human) = match result {
        Ok(p) => {
            let json = json!({"username": p.username, "display_name": p.display_name, "email": p.email, "groups": p.groups, "admin": p.admin});
            let human = format!(
                "{} ({}), admin: {}\ngroups:\n{}",
                p.username,
                p.display_name,
                p.admin,
                p.groups.iter().map(|g| format!("  {g}\n")).collect::<String>()
            );
            (ExitCode::SUCCESS, json, human)
        }
        Err(e) => {
            (ExitCode::from(2), json!({"error": {"kind": e.kind(), "message": e.to_string()}}), format!("error: {e}\n"))
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
    } else if code == ExitCode::SUCCESS {
        print!("{human}");
    } else {
        eprint!("{human}");
    }
    code
}
