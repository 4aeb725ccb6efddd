//! A throwaway PostgreSQL server for the tests (Debian's `postgresql` package).

use crate::servers;
use std::process::Command;

/// A throwaway PostgreSQL cluster (initdb + pg_ctl as the postgres user) on a free
/// loopback port, or the server of `MLIY_POSTGRES_URL`; a fresh database either way.
pub(crate) struct Postgres {
    pub(crate) url: String,
    /// The throwaway CA that signed the server's certificate (for 127.0.0.1), when the
    /// server is the tests' own; it speaks TLS then.
    pub(crate) ca: Option<std::path::PathBuf>,
    stop: Option<(String, tempfile::TempDir)>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((pg_ctl, dir)) = &self.stop {
            let data = dir.path().join("data");
            let _ = Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", &format!("{pg_ctl} -D {} -m immediate stop", data.display())])
                .output();
        }
    }
}

fn bin_dir() -> Option<std::path::PathBuf> {
    let mut versions: Vec<_> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).collect();
    versions.sort();
    versions.into_iter().rev().find(|b| b.join("initdb").is_file())
}

pub(crate) async fn start() -> Option<Postgres> {
    if let Ok(url) = std::env::var("MLIY_POSTGRES_URL") {
        return Some(Postgres { url, ca: None, stop: None });
    }
    let bin = bin_dir().map(|b| b.join("initdb"));
    let initdb = servers::find("initdb", &[bin.as_deref().and_then(|p| p.to_str()).unwrap_or("")])?;
    let bin = initdb.parent()?.to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
    let data = dir.path().join("data");
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).unwrap();
    servers::find("openssl", &["/usr/bin/openssl"])?;
    servers::make_certificates(&tls);
    let key = tls.join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    Command::new("chown").args(["-R", "postgres:postgres"]).arg(&tls).status().unwrap();
    let port = servers::free_port();
    let as_postgres = |cmd: String| {
        let out = Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", &cmd]).output().unwrap();
        assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    };
    as_postgres(format!("{} -D {} -A trust -U postgres --no-sync", initdb.display(), data.display()));
    let pg_ctl = bin.join("pg_ctl").display().to_string();
    as_postgres(format!(
        "{pg_ctl} -D {} -w -l {}/log -o \"-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
         -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}\" start",
        data.display(),
        dir.path().display(),
        dir.path().display(),
        tls.join("server.pem").display(),
        key.display(),
    ));
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    Some(Postgres { url, ca: Some(tls.join("ca.pem")), stop: Some((pg_ctl, dir)) })
}

/// A database of its own on the server (made with psql), so tests and reruns never share
/// rows.
pub(crate) fn fresh_database(server: &Postgres) -> String {
    let name = format!("mliy_{}", mliy::model::LaunchId::new_random().as_str());
    let out = Command::new("psql").args([&server.url, "-c", &format!("CREATE DATABASE {name}")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let base = server.url.rsplit_once('/').map_or(server.url.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}
