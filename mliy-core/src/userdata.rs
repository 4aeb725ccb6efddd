//! User-data scripts: `{{{TOKEN}}}` substitution and CloudFormation's size limit.
//!
//! Tokens follow MLiy: the text between `{{{` and `}}}` is the token, literally and
//! case-sensitively (`{{{ URL }}}` is the token `" URL "`), and every occurrence is replaced.
//! Sources are searched in order and the first that defines a token wins. Unlike MLiy the
//! script is scanned once, so an inserted value is never scanned for tokens again, and
//! tokens that no source defines stay in place and are reported.
//!
//! ```
//! use mliy_core::userdata::render;
//!
//! let group = [("TIME_ZONE", "UTC")];
//! let global = [("TIME_ZONE", "America/New_York"), ("EBS_DEVICE", "/dev/xvdz")];
//! let out = render("tz={{{TIME_ZONE}}} dev={{{EBS_DEVICE}}} x={{{NOPE}}}", &[&group, &global]);
//! assert_eq!(out.text, "tz=UTC dev=/dev/xvdz x={{{NOPE}}}");
//! assert_eq!(out.unknown_tokens, ["NOPE"]);
//! assert!(out.fits_cloudformation());
//! ```

use crate::error::ValidationError;
use base64::Engine as _;
use std::collections::{BTreeSet, HashMap};

/// CloudFormation's limit on one parameter value, in bytes.
pub const CLOUDFORMATION_PARAMETER_LIMIT: usize = 4096;
/// The longest script whose base64 encoding fits [`CLOUDFORMATION_PARAMETER_LIMIT`].
pub const MAX_SCRIPT_BYTES: usize = CLOUDFORMATION_PARAMETER_LIMIT / 4 * 3;
/// Longest text between braces that is reported as an unknown token.
const MAX_TOKEN_LEN: usize = 200;

/// One source of token values, searched as a whole before the next.
pub trait TokenSource {
    /// Calls `f` with each `(token, value)` pair.
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str));
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> TokenSource for [(K, V); N] {
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        for (k, v) in self {
            f(k.as_ref(), v.as_ref());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> TokenSource for Vec<(K, V)> {
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        for (k, v) in self {
            f(k.as_ref(), v.as_ref());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> TokenSource for std::collections::BTreeMap<K, V> {
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        for (k, v) in self {
            f(k.as_ref(), v.as_ref());
        }
    }
}

impl TokenSource for Vec<crate::model::Param> {
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        for p in self {
            f(&p.token, &p.value);
        }
    }
}

/// A rendered script.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The script with every known token replaced.
    pub text: String,
    /// Tokens no source defines, sorted and unique; they are left in the text.
    pub unknown_tokens: Vec<String>,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The text may carry secrets from token values: show its size only.
        f.debug_struct("Rendered")
            .field("text_len", &self.text.len())
            .field("unknown_tokens", &self.unknown_tokens)
            .finish()
    }
}

impl Rendered {
    /// Length of the base64 encoding of the text.
    pub fn base64_len(&self) -> usize {
        base64_len(self.text.len())
    }

    /// Whether the base64 encoding fits one CloudFormation parameter.
    pub fn fits_cloudformation(&self) -> bool {
        self.base64_len() <= CLOUDFORMATION_PARAMETER_LIMIT
    }

    /// The text, base64-encoded, checked against CloudFormation's parameter limit.
    ///
    /// # Errors
    /// A [`ValidationError`] on `field` naming both sizes when the encoding is too long.
    pub fn to_base64(&self, field: &str) -> Result<String, ValidationError> {
        if !self.fits_cloudformation() {
            return Err(ValidationError::new(
                field,
                format!("a {}-byte script ({} bytes in base64)", self.text.len(), self.base64_len()),
                format!(
                    "CloudFormation limits a parameter value to {CLOUDFORMATION_PARAMETER_LIMIT} bytes, \
                     so the rendered script may have at most {MAX_SCRIPT_BYTES} bytes"
                ),
            ));
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(self.text.as_bytes()))
    }
}

/// Length of the base64 encoding of `n` bytes.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Renders `script`, taking each token from the first source that defines it.
pub fn render(script: &str, sources: &[&dyn TokenSource]) -> Rendered {
    let mut values: HashMap<&str, &str> = HashMap::new();
    for source in sources {
        // Within one source the first definition wins too.
        let mut own: HashMap<&str, &str> = HashMap::new();
        source.for_each_token(&mut |k, v| {
            own.entry(k).or_insert(v);
        });
        for (k, v) in own {
            values.entry(k).or_insert(v);
        }
    }
    render_with(script, &values)
}

fn render_with(script: &str, values: &HashMap<&str, &str>) -> Rendered {
    let mut text = String::with_capacity(script.len() + script.len() / 4);
    let mut unknown = BTreeSet::new();
    let mut rest = script;
    while let Some(start) = rest.find("{{{") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}}") else { break };
        let token = &after[..end];
        if let Some(value) = values.get(token) {
            text.push_str(&rest[..start]);
            text.push_str(value);
            rest = &after[end + 3..];
            continue;
        }
        if is_reportable(token) {
            unknown.insert(token.to_string());
        }
        // Not a known token: keep one brace and look again from the next character, so
        // that `{{{{A}}}` still finds `{{{A}}}` as MLiy's string replacement did.
        text.push_str(&rest[..=start]);
        rest = &rest[start + 1..];
    }
    text.push_str(rest);
    Rendered { text, unknown_tokens: unknown.into_iter().collect() }
}

fn is_reportable(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && !token.contains(['{', '}', '\n', '\r'])
        && !token.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(script: &str, pairs: &[(&str, &str)]) -> Rendered {
        render(script, &[&pairs.to_vec()])
    }

    #[test]
    fn literal_case_sensitive_tokens() {
        let pairs = [("URL", "u"), (" URL ", "spaced"), ("url", "lower")];
        let out = r("{{{URL}}} {{{ URL }}} {{{url}}} {{{Url}}}", &pairs);
        assert_eq!(out.text, "u spaced lower {{{Url}}}");
        assert_eq!(out.unknown_tokens, ["Url"]);
    }

    #[test]
    fn every_occurrence_and_one_pass() {
        let out = r("{{{A}}}-{{{A}}}-{{{B}}}", &[("A", "{{{B}}}"), ("B", "b")]);
        assert_eq!(out.text, "{{{B}}}-{{{B}}}-b");
        assert!(out.unknown_tokens.is_empty());
    }

    #[test]
    fn first_source_wins() {
        let first = [("T", "1")];
        let second = [("T", "2"), ("U", "u")];
        let out = render("{{{T}}}{{{U}}}", &[&first, &second]);
        assert_eq!(out.text, "1u");
    }

    #[test]
    fn braces_around_tokens() {
        assert_eq!(r("{{{{A}}}}", &[("A", "x")]).text, "{x}");
        assert_eq!(r("{{{A", &[("A", "x")]).text, "{{{A");
        assert_eq!(r("${{{A}}}", &[("A", "x")]).text, "$x");
        let out = r("{{{}}} {{{\n}}}", &[]);
        assert!(out.unknown_tokens.is_empty());
    }

    #[test]
    fn size_limit() {
        let fits = r(&"x".repeat(MAX_SCRIPT_BYTES), &[]);
        assert_eq!(fits.base64_len(), 4096);
        assert!(fits.to_base64("UserData").is_ok());
        let big = r(&"x".repeat(5 * 1024), &[]);
        let e = big.to_base64("UserData").unwrap_err();
        assert_eq!(e.field, "UserData");
        assert!(e.value.contains("5120-byte") && e.value.contains("6828 bytes"), "{e}");
        assert!(e.rule.contains("4096"), "{e}");
    }

    #[test]
    fn debug_hides_the_text() {
        let out = r("password={{{P}}}", &[("P", "hunter2")]);
        assert!(!format!("{out:?}").contains("hunter2"));
    }

    proptest! {
        #[test]
        fn never_panics_and_keeps_text_without_tokens(script in ".{0,300}", token in "[A-Z_ ]{0,8}", value in ".{0,20}") {
            let pairs = [(token.as_str(), value.as_str())];
            let out = r(&script, &pairs);
            if !script.contains("{{{") {
                prop_assert_eq!(&out.text, &script);
            }
            prop_assert!(out.unknown_tokens.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn brace_heavy_input_never_panics(script in "[{}A ]{0,200}") {
            let _ = r(&script, &[("A", "{{{A}}}")]);
        }
    }
}
