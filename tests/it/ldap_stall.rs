//! `LdapAuth` against a directory that accepts binds and never answers a search.
//!
//! A fake: slapd cannot be told to answer binds and then stall its searches, so this loopback
//! server speaks just enough LDAP (BER-encoded BindResponse) to accept every bind and keeps
//! silent on everything else. Each login must end as `unreachable` within its timeout, and a
//! stalled login must not hold up the others.

use mliy::plugins::ldap::{DirectoryKind, LdapAuth, LdapError};
use mliy::secret::Secret;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads a BER length (short or long form).
async fn length(stream: &mut TcpStream) -> Option<usize> {
    let first = stream.read_u8().await.ok()?;
    if first < 0x80 {
        return Some(usize::from(first));
    }
    let mut n = 0usize;
    for _ in 0..(first & 0x7f) {
        n = (n << 8) | usize::from(stream.read_u8().await.ok()?);
    }
    Some(n)
}

/// Answers binds with success and never answers anything else.
async fn serve(mut stream: TcpStream) {
    loop {
        let Ok(0x30) = stream.read_u8().await else { return };
        let Some(len) = length(&mut stream).await else { return };
        let mut message = vec![0u8; len];
        if stream.read_exact(&mut message).await.is_err() {
            return;
        }
        // INTEGER message id, then the operation's application tag.
        let id_len = usize::from(message[1]);
        let id = &message[2..2 + id_len];
        match message[2 + id_len] {
            0x60 => {
                let op = [0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
                let mut answer = vec![0x30, (2 + id_len + op.len()) as u8, 0x02, id_len as u8];
                answer.extend_from_slice(id);
                answer.extend_from_slice(&op);
                if stream.write_all(&answer).await.is_err() {
                    return;
                }
            }
            0x42 => return, // unbind
            _ => {}         // a search (or anything else): silence
        }
    }
}

async fn stalling_directory() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    url
}

fn auth(url: &str) -> LdapAuth {
    LdapAuth::builder(url, DirectoryKind::OpenLdap)
        .base_dn("dc=example,dc=com")
        .bind("cn=svc,dc=example,dc=com", Secret::new("svc-pw"))
        .timeouts(Duration::from_secs(2), Duration::from_secs(2))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_logins_against_a_stalled_directory_all_end_unreachable() {
    let url = stalling_directory().await;
    let auth = std::sync::Arc::new(auth(&url));
    let started = Instant::now();
    let logins: Vec<_> = (0..20)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.check(&format!("user{i}"), &Secret::new("pw")).await })
        })
        .collect();
    // A hang detector, not a speed claim: unbounded operations never return at all.
    let all = tokio::time::timeout(Duration::from_secs(30), futures_join(logins)).await.expect("every login returns");
    for result in all {
        assert!(matches!(result, Err(LdapError::Unreachable(_))), "{result:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_check_reports_unreachable_within_its_timeout() {
    let url = stalling_directory().await;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
        .args(["auth", "check", "--ldap-url", &url, "--mode", "openldap", "--base-dn", "dc=example,dc=com"])
        .args(["--bind-dn", "cn=svc,dc=example,dc=com", "--bind-password-env", "SVC_PW", "--timeout", "2"])
        .args(["--user", "alice", "--password-env", "ALICE_PW", "--json"])
        .env("SVC_PW", "svc-pw")
        .env("ALICE_PW", "alice-pw")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `--timeout 2`: the search gives up after 2 s; 5 s is the bound the command promises
    // (a hang detector: before operations were bounded, it never returned).
    let waited = tokio::task::spawn_blocking(move || {
        let mut child = child;
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(5) {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(child.wait_with_output().unwrap())
    });
    let output = waited.await.unwrap().expect("auth check returns within 5 s");
    let out = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((output.status.code(), json["error"]["kind"].as_str()), (Some(2), Some("unreachable")), "{json}");
}
