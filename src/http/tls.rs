//! HTTPS for `mliy serve` and for portals that serve the router themselves: a listener that
//! axum serves (`axum::serve(TlsListener::bind(…).await?, app)`), with rustls (ring) and a
//! PEM certificate chain and key. Handshakes run beside the accept loop, each bounded by
//! [`HANDSHAKE_TIMEOUT`], so a slow or silent client holds up no one else.

use mliy_core::Error;
use mliy_core::error::Result;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The longest a client may take over its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake is done, for axum to serve.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener").field("local", &self.local).finish_non_exhaustive()
    }
}

/// The server's TLS settings from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// [`Error::Validation`] naming the file that cannot be read or used.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<rustls::ServerConfig> {
    let bad = |field: &str, path: &Path, e: String| Error::validation(field, path.display().to_string(), e);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|i| i.collect::<std::result::Result<_, _>>())
        .map_err(|e| bad("http.tls.cert_file", cert_file, format!("a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(bad("http.tls.cert_file", cert_file, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| bad("http.tls.key_file", key_file, format!("a PEM private key: {e}")))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("http.tls", cert_file, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("http.tls.key_file", key_file, format!("does not fit the certificate: {e}")))
}

impl TlsListener {
    /// Listens on `addr` with `config`.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the address cannot be bound.
    pub async fn bind(addr: SocketAddr, config: rustls::ServerConfig) -> Result<TlsListener> {
        let tcp =
            TcpListener::bind(addr).await.map_err(|e| Error::Unavailable(format!("cannot listen on {addr}: {e}")))?;
        let local = tcp.local_addr().map_err(|e| Error::Unavailable(format!("no local address: {e}")))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(tcp, acceptor, tx));
        Ok(TlsListener { ready, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: "mliy::http", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(target: "mliy::http", %peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(target: "mliy::http", %peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop ended (it never does by itself): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
