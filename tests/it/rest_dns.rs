//! `RestDns` against a small loopback HTTP server that records what it is sent.

use mliy::dns::DnsProvider;
use mliy::plugins::rest_dns::{Payload, RestDns};
use mliy::secret::Secret;
use mliy::testkit::dns::DnsLookup;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

/// Answers every request with `status`, recording it.
async fn server(status: Arc<Mutex<u16>>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    server_with(status, String::new()).await
}

/// As [`server`], with `headers` (lines ending in CRLF) in every answer.
async fn server_with(status: Arc<Mutex<u16>>, headers: String) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/records", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break (head, text[end + 4..].to_string());
                    }
                }
            };
            log.lock().unwrap().push(Seen { head, body });
            let code = *status.lock().unwrap();
            let answer = format!("HTTP/1.1 {code} X\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn records_are_put_and_deleted_with_the_key_and_payload() {
    let status = Arc::new(Mutex::new(200));
    let (url, seen) = server(status.clone()).await;
    let dns = RestDns::builder(&url, "analytics.example.test")
        .allow_plain_http()
        .api_key("X-Api-Key", Secret::new("key-7f3a9c"))
        .data("team", "data-science")
        .build()
        .unwrap();
    let name = dns.display_name("0123456789ab", "10.0.0.5").unwrap();
    assert_eq!(name, "mliy-0123456789ab.analytics.example.test");
    dns.upsert(&name, "10.0.0.5").await.unwrap();
    dns.delete(&name, "10.0.0.5").await.unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert!(got[0].head.starts_with("PUT /api/records/mliy-0123456789ab/analytics.example.test/10.0.0.5 "), "{got:?}");
    assert!(got[1].head.starts_with("DELETE /api/records/mliy-0123456789ab/analytics.example.test/10.0.0.5 "));
    assert!(got[0].head.to_ascii_lowercase().contains("x-api-key: key-7f3a9c"), "{got:?}");
    let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["fqdn"], name);
    assert_eq!(body["ip"], "10.0.0.5");
    assert_eq!(body["team"], "data-science");
    assert!(!format!("{dns:?}").contains("key-7f3a9c"), "Debug shows no key");

    // Failures are typed; a missing record is already deleted.
    *status.lock().unwrap() = 503;
    assert_eq!(dns.upsert(&name, "10.0.0.5").await.unwrap_err().kind(), "unavailable");
    *status.lock().unwrap() = 429;
    assert_eq!(dns.upsert(&name, "10.0.0.5").await.unwrap_err().kind(), "throttled");
    *status.lock().unwrap() = 403;
    let e = dns.upsert(&name, "10.0.0.5").await.unwrap_err();
    assert_eq!(e.kind(), "forbidden");
    assert!(!e.to_string().contains("key-7f3a9c"));
    *status.lock().unwrap() = 404;
    dns.delete(&name, "10.0.0.5").await.unwrap();
}

#[tokio::test]
async fn forms_and_refusals() {
    let status = Arc::new(Mutex::new(204));
    let (url, seen) = server(status).await;
    let dns = RestDns::builder(&url, "example.test").allow_plain_http().payload(Payload::Form).build().unwrap();
    dns.upsert("mliy-a1.example.test", "10.1.2.3").await.unwrap();
    let got = seen.lock().unwrap().clone();
    assert!(got[0].body.contains("ip=10.1.2.3") && got[0].body.contains("name=mliy-a1"), "{got:?}");
    assert_eq!(RestDns::builder("ftp://x/", "example.test").build().unwrap_err().kind(), "validation");
    assert_eq!(RestDns::builder(&url, " ").build().unwrap_err().kind(), "validation");
    let bad_header =
        RestDns::builder(&url, "example.test").allow_plain_http().api_key("bad header", Secret::new("k")).build();
    assert_eq!(bad_header.unwrap_err().kind(), "validation");
    let unreachable = RestDns::builder("http://127.0.0.1:9/api", "example.test").allow_plain_http().build().unwrap();
    assert_eq!(unreachable.upsert("mliy-a1.example.test", "10.1.2.3").await.unwrap_err().kind(), "unavailable");
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed_and_passwords_never_show() {
    let e = RestDns::builder("http://dns.example.test/api", "example.test").build().unwrap_err();
    assert_eq!(e.kind(), "validation");
    assert!(e.to_string().contains("https"), "{e}");
    let e = RestDns::builder("ftp://user:pw-5e1d@dns.example.test/", "example.test").build().unwrap_err();
    assert!(!e.to_string().contains("pw-5e1d"), "{e}");
    assert!(RestDns::builder("https://dns.example.test/api", "example.test").build().is_ok());
}

#[tokio::test]
async fn a_redirect_to_another_host_gets_no_api_key() {
    let (elsewhere, seen_elsewhere) = server(Arc::new(Mutex::new(200))).await;
    let (url, seen) = server_with(Arc::new(Mutex::new(307)), format!("location: {elsewhere}/stolen\r\n")).await;
    let dns = RestDns::builder(&url, "example.test")
        .allow_plain_http()
        .api_key("X-Api-Key", Secret::new("key-2b8e"))
        .build()
        .unwrap();
    let e = dns.upsert("mliy-a1.example.test", "10.1.2.3").await.unwrap_err();
    assert!(e.to_string().contains("redirect"), "{e}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(seen_elsewhere.lock().unwrap().is_empty(), "the other host was never asked, so never got the key");
}

/// The zone as the server's log leaves it: each PUT sets its `fqdn`, each DELETE removes it.
struct Logged(Arc<Mutex<Vec<Seen>>>);

#[async_trait::async_trait]
impl DnsLookup for Logged {
    async fn resolve(&self, name: &str) -> Option<String> {
        let mut ip = None;
        for seen in self.0.lock().unwrap().iter() {
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
            if body["fqdn"] == name {
                ip = seen.head.starts_with("PUT ").then(|| body["ip"].as_str().unwrap().to_string());
            }
        }
        ip
    }
}

#[tokio::test]
async fn rest_dns_passes_the_dns_suite() {
    let (url, seen) = server(Arc::new(Mutex::new(200))).await;
    let dns = RestDns::builder(&url, "analytics.example.test").allow_plain_http().build().unwrap();
    mliy::testkit::dns::run_all(&dns, &Logged(seen.clone())).await;
    assert!(seen.lock().unwrap().len() >= 8, "every change reached the server");
}
