//! [`DnsProvider`] over a REST DNS API (feature `dns-api`), in the style of MLiy's
//! `DnsApiUrl` / `DnsApiData`: `PUT` to register and `DELETE` to unregister
//! `<url>/<name>/<domain>/<ip>`, with a JSON or form payload (the record plus fixed data) and
//! an API key header. TLS certificates are verified unless explicitly turned off.
//!
//! ```no_run
//! # fn demo() -> mliy_core::Result<()> {
//! use mliy_core::secret::Secret;
//! use mliy_plugins::rest_dns::RestDns;
//! let dns = RestDns::builder("https://dns.example.com/api/records", "analytics.example.com")
//!     .api_key("X-Api-Key", Secret::new("s3cr3t"))
//!     .data("team", "data-science")
//!     .build()?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use mliy_core::dns::DnsProvider;
use mliy_core::secret::{Secret, redact_url};
use mliy_core::{Error, Result};
use std::fmt;
use std::time::Duration;

/// How the record travels in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// `application/json`: `{"name", "domain", "fqdn", "ip", …data}`.
    Json,
    /// `application/x-www-form-urlencoded`, the same fields.
    Form,
}

/// Builds a [`RestDns`].
pub struct RestDnsBuilder {
    url: String,
    domain: String,
    prefix: String,
    payload: Payload,
    data: Vec<(String, String)>,
    api_key: Option<(String, Secret)>,
    timeout: Duration,
    verify_tls: bool,
    plain_http: bool,
}

impl fmt::Debug for RestDnsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestDns")
            .field("url", &self.url)
            .field("domain", &self.domain)
            .field("payload", &self.payload)
            .field("api_key_header", &self.api_key.as_ref().map(|(h, _)| h))
            .field("verify_tls", &self.verify_tls)
            .finish_non_exhaustive()
    }
}

impl RestDnsBuilder {
    /// Names start with this (`mliy-` by default, as MLiy's).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The body's encoding (JSON by default).
    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    /// A fixed field sent with every record (MLiy's `DnsApiData`).
    pub fn data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.push((key.into(), value.into()));
        self
    }

    /// The API key, sent in the header `header`.
    pub fn api_key(mut self, header: impl Into<String>, key: Secret) -> Self {
        self.api_key = Some((header.into(), key));
        self
    }

    /// Time allowed per request (10 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Accepts any certificate. Only for a test endpoint: anyone on the path could then
    /// answer for the DNS service.
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.verify_tls = false;
        self
    }

    /// Allows an `http://` URL: the API key and the records then cross the network in
    /// clear. Only for a test endpoint or a sidecar on the same host.
    pub fn allow_plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Validation`] for a URL that is not https (or http, when allowed by
    /// [`RestDnsBuilder::allow_plain_http`]), an empty domain or an API key header that is
    /// not a header name.
    pub fn build(self) -> Result<RestDns> {
        let url = reqwest::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| Error::validation("url", redact_url(&self.url), "an https:// URL"))?;
        if url.scheme() == "http" {
            if !self.plain_http {
                return Err(Error::validation(
                    "url",
                    redact_url(&self.url),
                    "must be https:// (the API key would travel in clear); allow_plain_http() permits http://",
                ));
            }
            tracing::warn!(target: "mliy::dns", url = %redact_url(&self.url), "the DNS API is reached over plain HTTP");
        }
        if self.domain.trim().is_empty() {
            return Err(Error::validation("domain", &self.domain, "a DNS domain such as analytics.example.com"));
        }
        if let Some((header, _)) = &self.api_key
            && reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
        {
            return Err(Error::validation("api_key header", header, "a header name such as X-Api-Key"));
        }
        // Redirects are followed only to the same origin: the API key never goes elsewhere.
        let origin = (url.scheme().to_string(), url.host_str().map(str::to_string), url.port_or_known_default());
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let next = attempt.url();
            let same = (next.scheme().to_string(), next.host_str().map(str::to_string), next.port_or_known_default());
            if same != origin || attempt.previous().len() >= 5 { attempt.stop() } else { attempt.follow() }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .timeout(self.timeout)
            .danger_accept_invalid_certs(!self.verify_tls)
            .build()
            .map_err(|e| Error::validation("tls", "client", e.to_string()))?;
        Ok(RestDns { client, base: url, config: self })
    }
}

/// A REST DNS API; see the [module docs](self).
pub struct RestDns {
    client: reqwest::Client,
    base: reqwest::Url,
    config: RestDnsBuilder,
}

impl fmt::Debug for RestDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl RestDns {
    /// A REST DNS API at `url` for names under `domain`.
    pub fn builder(url: impl Into<String>, domain: impl Into<String>) -> RestDnsBuilder {
        RestDnsBuilder {
            url: url.into(),
            domain: domain.into().trim().trim_end_matches('.').to_string(),
            prefix: "mliy-".into(),
            payload: Payload::Json,
            data: Vec::new(),
            api_key: None,
            timeout: Duration::from_secs(10),
            verify_tls: true,
            plain_http: false,
        }
    }

    async fn send(&self, method: reqwest::Method, fqdn: &str, ip: &str) -> Result<()> {
        let domain = &self.config.domain;
        let name = fqdn.strip_suffix(&format!(".{domain}")).unwrap_or(fqdn);
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(name).push(domain).push(ip);
        }
        let mut fields: Vec<(String, String)> = vec![
            ("name".into(), name.into()),
            ("domain".into(), domain.clone()),
            ("fqdn".into(), fqdn.into()),
            ("ip".into(), ip.into()),
        ];
        fields.extend(self.config.data.iter().cloned());
        let mut request = self.client.request(method.clone(), url);
        request = match self.config.payload {
            Payload::Json => {
                let object: serde_json::Map<String, serde_json::Value> =
                    fields.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                request.json(&object)
            }
            Payload::Form => request.form(&fields),
        };
        if let Some((header, key)) = &self.config.api_key {
            request = request.header(header.as_str(), key.expose());
        }
        let what = format!("DNS API {method} {fqdn}");
        let response = request.send().await.map_err(|e| {
            // Never the URL's query or the key: the error names the record and the cause.
            let cause = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            Error::Unavailable(format!("{what}: {cause}"))
        })?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => Ok(()),
            404 if method == reqwest::Method::DELETE => Ok(()),
            429 => Err(Error::Throttled(format!("{what}: {status}"))),
            500..=599 => Err(Error::Unavailable(format!("{what}: {status}"))),
            401 | 403 => Err(Error::Forbidden(format!("{what}: {status} (check the API key)"))),
            300..=399 => Err(Error::Backend {
                backend: "dns-api",
                source: format!("{what}: {status}, a redirect to another origin (not followed)").into(),
            }),
            _ => Err(Error::Backend { backend: "dns-api", source: format!("{what}: {status}").into() }),
        }
    }
}

#[async_trait]
impl DnsProvider for RestDns {
    fn display_name(&self, resource_id: &str, _ip: &str) -> Option<String> {
        Some(format!("{}{resource_id}.{}", self.config.prefix, self.config.domain))
    }

    async fn upsert(&self, name: &str, ip: &str) -> Result<()> {
        self.send(reqwest::Method::PUT, name, ip).await
    }

    async fn delete(&self, name: &str, ip: &str) -> Result<()> {
        self.send(reqwest::Method::DELETE, name, ip).await
    }
}
