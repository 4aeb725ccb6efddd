//! Who is calling: a bearer token (scripts) or the session cookie (browsers). A cookie
//! session must send its CSRF token as `X-CSRF-Token` with every call that changes state,
//! so another site cannot act through a signed-in browser.

use super::{Api, ApiError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use mliy_core::Error;
use mliy_core::model::Principal;
use std::sync::Arc;
use std::time::Duration;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "mliy_session";
/// The header a cookie session sends its CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in caller: a live session, else 401.
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    /// The session's token (to log out, or to render the CSRF token).
    pub(crate) token: String,
}

/// The `Authorization: Bearer …` value, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

/// The value of cookie `name`, if any.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

impl Caller {
    /// The caller of a request's headers, checking CSRF for `method`.
    pub(crate) fn from_headers(api: &Api, method: &Method, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let unauthenticated = || ApiError(Error::Unauthenticated("sign in first (POST /api/v1/login)".into()));
        let (token, is_cookie) = match (bearer(headers), cookie(headers, COOKIE)) {
            (Some(t), _) => (t, false),
            (None, Some(t)) => (t, true),
            (None, None) => return Err(unauthenticated()),
        };
        let principal = api.sessions.principal(token).ok_or_else(unauthenticated)?;
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if is_cookie && !safe {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            let want = api.sessions.csrf(token);
            if super::sessions::digest(sent) != super::sessions::digest(&want) {
                return Err(ApiError(Error::Forbidden(format!(
                    "a cookie session sends its CSRF token as {CSRF_HEADER} with every {method}"
                ))));
            }
        }
        Ok(Caller { principal, token: token.to_string() })
    }

    /// 403 unless the caller is an admin.
    pub(crate) fn admin(&self, what: &str) -> Result<(), ApiError> {
        if self.principal.admin {
            return Ok(());
        }
        Err(ApiError(Error::Forbidden(format!("{} may not {what}: admins only", self.principal.username))))
    }
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Caller, ApiError> {
        Caller::from_headers(api, &parts.method, &parts.headers)
    }
}

/// Whether a request's `Host` is a loopback address (cookies there need not be `Secure`).
fn on_loopback(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The `Set-Cookie` of a new session (`ttl` `None` clears it).
pub(crate) fn set_cookie(api: &Api, headers: &HeaderMap, token: &str, ttl: Option<Duration>) -> HeaderValue {
    let secure = api.config.secure_cookies.unwrap_or_else(|| !on_loopback(headers));
    let age = ttl.map_or(0, |t| t.as_secs());
    let value = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("mliy_session=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_and_loopback_hosts() {
        let h = headers(&[("cookie", "a=1; mliy_session=abc"), ("cookie", "b=2")]);
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&headers(&[("cookie", "mliy_session=")]), COOKIE), None);
        for (host, loopback) in [
            ("127.0.0.1:8080", true),
            ("localhost", true),
            ("[::1]:80", true),
            ("portal.example", false),
            ("10.0.0.1", false),
        ] {
            assert_eq!(on_loopback(&headers(&[("host", host)])), loopback, "{host}");
        }
    }
}
