//! A tiny HTTP server on loopback that answers AWS calls with throttling or 503 errors, or
//! forwards them to a real endpoint: to see the SDK's retries run out and the engine carry on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 400 with a `Throttling` error (the query protocol's XML).
    Throttle,
    /// 503 Service Unavailable.
    Unavailable,
    /// Forwards to `host:port`.
    Forward(String),
}

pub(crate) struct FaultProxy {
    pub(crate) url: String,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub(crate) async fn start(mode: Mode) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let requests = Arc::new(AtomicUsize::new(0));
        let (m, n) = (mode.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (m, n) = (m.clone(), n.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, m, n).await;
                });
            }
        });
        FaultProxy { url, mode, requests }
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one request (head and Content-Length body).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Ok(buf);
            }
        }
    }
}

async fn serve(mut stream: TcpStream, mode: Arc<Mutex<Mode>>, requests: Arc<AtomicUsize>) -> std::io::Result<()> {
    let request = read_request(&mut stream).await?;
    if request.is_empty() {
        return Ok(());
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let mode = mode.lock().unwrap().clone();
    let response = match mode {
        Mode::Throttle => {
            let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                        <Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>";
            format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        Mode::Unavailable => {
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
        }
        Mode::Forward(addr) => {
            // HTTP/1.0 upstream, so the answer ends where the connection does.
            let text = String::from_utf8_lossy(&request).replacen(" HTTP/1.1\r\n", " HTTP/1.0\r\n", 1);
            let mut upstream = TcpStream::connect(addr).await?;
            upstream.write_all(text.as_bytes()).await?;
            let mut answer = Vec::new();
            upstream.read_to_end(&mut answer).await?;
            answer
        }
    };
    stream.write_all(&response).await?;
    stream.shutdown().await
}
