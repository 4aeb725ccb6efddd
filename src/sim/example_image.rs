//! The example catalog's image (`examples/catalog/userdata.sh`) on SimCloud's instances, for
//! demos and browser tests: once an instance runs, it reads its rendered user data, finds the
//! progress URL and secret there, and makes the script's `progress N 'message'` calls in
//! order, as `curl` would — an HTTP POST of a form with the `X-Mliy-Progress-Token` header.
//! Only `http://` URLs on this machine are called (the demo's server).

use base64::Engine as _;
use mliy_core::sim::SimCloud;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one instance's script reports: where, with which secret, and its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// `MLIY_PROGRESS_URL` as rendered.
    pub url: String,
    /// `MLIY_PROGRESS_TOKEN` as rendered.
    pub token: String,
    /// Each `progress N 'message'` call, in order.
    pub steps: Vec<(u8, String)>,
}

/// The single-quoted text that ends `line`, if any.
fn last_quoted(line: &str) -> Option<&str> {
    let end = line.trim_end().strip_suffix("'")?;
    end.rsplit_once('\'').map(|(_, q)| q)
}

impl Script {
    /// Reads a rendered example script; `None` when it reports nowhere.
    pub fn parse(script: &str) -> Option<Script> {
        let (mut url, mut token, mut steps) = (None, None, Vec::new());
        for line in script.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("PROGRESS_TOKEN='") {
                token = rest.strip_suffix('\'').map(String::from);
            } else if line.starts_with("--data-urlencode \"message=") {
                url = last_quoted(line.trim_end_matches(" || true")).map(String::from);
            } else if let Some(rest) = line.strip_prefix("progress ")
                && let Some((n, message)) = rest.split_once(' ')
                && let Ok(n) = n.parse()
            {
                steps.push((n, message.trim_matches('\'').to_string()));
            }
        }
        Some(Script { url: url.filter(|u| !u.is_empty())?, token: token?, steps })
    }
}

/// `text` as `application/x-www-form-urlencoded`.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs one report as curl would; the HTTP status, or why there is none.
pub async fn post_progress(url: &str, token: &str, percent: u8, message: &str) -> std::io::Result<u16> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{url}: {why}"));
    let rest = url.strip_prefix("http://").ok_or_else(|| bad("only http:// is called"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let addr: std::net::SocketAddr = host.parse().map_err(|_| bad("the host must be an IP address and port"))?;
    if !addr.ip().is_loopback() {
        return Err(bad("only this machine is called"));
    }
    let body = format!("percent={percent}&message={}", form_encode(message));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Mliy-Progress-Token: {token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer).await?;
    let status = String::from_utf8_lossy(&answer).split_whitespace().nth(1).and_then(|s| s.parse().ok());
    status.ok_or_else(|| bad("no HTTP status in the answer"))
}

/// Runs the example image on every instance of `cloud` that starts running from now on,
/// one step every `step` (real time), until the task is aborted.
pub fn spawn_example_images(cloud: Arc<SimCloud>, step: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut started = HashSet::new();
        loop {
            for (_, token, _) in cloud.live_stacks() {
                let running = cloud.bootstrap_view(&token).is_some_and(|v| v.running);
                if !running || started.contains(&token) {
                    continue;
                }
                let text =
                    cloud.user_data_of(&token).and_then(|u| base64::engine::general_purpose::STANDARD.decode(u).ok());
                let Some(script) = text.and_then(|t| Script::parse(&String::from_utf8_lossy(&t))) else { continue };
                started.insert(token);
                tokio::spawn(async move {
                    for (percent, message) in &script.steps {
                        tokio::time::sleep(step).await;
                        if let Err(e) = post_progress(&script.url, &script.token, *percent, message).await {
                            tracing::warn!(target: "mliy::sim", error = %e, "example image: report not sent");
                        }
                    }
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rendered_example_script() {
        let text = crate::demo::catalog()
            .unwrap()
            .software_configs
            .iter()
            .find_map(|s| s.user_data.as_ref().and_then(|u| u.text()).map(String::from));
        let rendered = text
            .unwrap()
            .replace("{{{MLIY_PROGRESS_TOKEN}}}", "s3cret")
            .replace("{{{MLIY_PROGRESS_URL}}}", "http://127.0.0.1:9/mliy/api/v1/progress/abc");
        let script = Script::parse(&rendered).unwrap();
        assert_eq!(
            (script.url.as_str(), script.token.as_str()),
            ("http://127.0.0.1:9/mliy/api/v1/progress/abc", "s3cret")
        );
        assert_eq!(script.steps.first(), Some(&(5, "bootstrap started".to_string())));
        assert_eq!(script.steps.last(), Some(&(100, "notebook ready".to_string())));
        assert_eq!(form_encode("a b&c=ü"), "a+b%26c%3D%C3%BC");
    }
}
