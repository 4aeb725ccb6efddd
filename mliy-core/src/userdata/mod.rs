//! User-data scripts: `{{{TOKEN}}}` substitution and CloudFormation's size limit.
//!
//! Tokens follow MLiy: the text between `{{{` and `}}}` is the token, literally and
//! case-sensitively (`{{{ URL }}}` is the token `" URL "`), and every occurrence is replaced.
//! Sources are searched in order and the first that defines a token wins. Unlike MLiy the
//! script is scanned once, so an inserted value is never scanned for tokens again, and
//! tokens that no source defines stay in place and are reported.
//!
//! Values an admin set in the catalog are inserted literally, as in MLiy. Values from a user
//! or the directory ([`UserTokens`]) never change what a shell script means: each occurrence
//! is escaped for where it stands (inside `'…'`, inside `"…"`, `$'…'`, a here-document, or an
//! unquoted word, which is single-quoted when it holds anything but plain characters), and a
//! character that cannot stand there (a newline in a comment) is refused, naming the token.
//! Scripts whose `#!` line names no POSIX shell take only plain characters from users.
//!
//! ```
//! use mliy_core::userdata::{UserTokens, render};
//!
//! let group = [("TIME_ZONE", "UTC")];
//! let global = [("TIME_ZONE", "America/New_York"), ("EBS_DEVICE", "/dev/xvdz")];
//! let out = render("tz={{{TIME_ZONE}}} dev={{{EBS_DEVICE}}} x={{{NOPE}}}", &[&group, &global])?;
//! assert_eq!(out.text, "tz=UTC dev=/dev/xvdz x={{{NOPE}}}");
//! assert_eq!(out.unknown_tokens, ["NOPE"]);
//! assert!(out.fits_cloudformation());
//!
//! let user = [("MLIY_USER", "dana.o'neil")];
//! let script = "#!/bin/bash\ninstall --owner '{{{MLIY_USER}}}' --name {{{MLIY_USER}}}\n";
//! let out = render(script, &[&UserTokens(&user)])?;
//! assert_eq!(out.text, "#!/bin/bash\ninstall --owner 'dana.o'\\''neil' --name 'dana.o'\\''neil'\n");
//! # Ok::<(), mliy_core::error::ValidationError>(())
//! ```

mod shell;

use crate::error::ValidationError;
use base64::Engine as _;
use std::collections::{BTreeSet, HashMap};

/// CloudFormation's limit on one parameter value, in bytes.
pub const CLOUDFORMATION_PARAMETER_LIMIT: usize = 4096;
/// The longest script whose base64 encoding fits [`CLOUDFORMATION_PARAMETER_LIMIT`].
pub const MAX_SCRIPT_BYTES: usize = CLOUDFORMATION_PARAMETER_LIMIT / 4 * 3;
/// Longest text between braces that is reported as an unknown token.
const MAX_TOKEN_LEN: usize = 200;
/// The longest script mliy reads or writes (far above what fits CloudFormation, so
/// `userdata render` can still say how much too long a script is).
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;

/// Whose values a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Set by an admin (catalog params, replacement tokens): inserted literally, as in MLiy.
    Catalog,
    /// From a user or the directory (username, display name, email, request tokens): escaped
    /// for the quoting context of each occurrence, so it never changes the script's meaning.
    User,
}

/// One source of token values, searched as a whole before the next.
pub trait TokenSource {
    /// Calls `f` with each `(token, value)` pair.
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str));

    /// Whose values these are ([`Origin::Catalog`] unless said otherwise).
    fn origin(&self) -> Origin {
        Origin::Catalog
    }
}

/// A source whose values come from a user or the directory: see [`Origin::User`].
pub struct UserTokens<'s>(pub &'s dyn TokenSource);

impl TokenSource for UserTokens<'_> {
    fn for_each_token<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        self.0.for_each_token(f);
    }

    fn origin(&self) -> Origin {
        Origin::User
    }
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
///
/// Values of [`UserTokens`] sources are escaped for the quoting context each occurrence
/// stands in (see the module docs); every other value is inserted as it is.
///
/// # Errors
/// A [`ValidationError`] when the script or the rendered text passes
/// [`MAX_INPUT_BYTES`], or a user's value holds a character that cannot be placed where its
/// token stands (a newline in a comment, say), naming the token and the character.
pub fn render(script: &str, sources: &[&dyn TokenSource]) -> Result<Rendered, ValidationError> {
    check_size("user_data", script.len())?;
    let mut values: HashMap<&str, (&str, Origin)> = HashMap::new();
    for source in sources {
        // Within one source the first definition wins too.
        let mut own: HashMap<&str, &str> = HashMap::new();
        source.for_each_token(&mut |k, v| {
            own.entry(k).or_insert(v);
        });
        for (k, v) in own {
            values.entry(k).or_insert((v, source.origin()));
        }
    }
    render_with(script, &values)
}

fn check_size(field: &str, len: usize) -> Result<(), ValidationError> {
    if len > MAX_INPUT_BYTES {
        return Err(ValidationError::new(
            field,
            format!("{len} bytes"),
            format!("a user-data script may have at most {MAX_INPUT_BYTES} bytes, rendered or not"),
        ));
    }
    Ok(())
}

/// The rendered text so far, with the shell's view of it: the lexer reads the text only up
/// to the last user value placed and the line after it (a script without user values is
/// never lexed).
struct Output {
    text: String,
    lexer: shell::Lexer,
    /// How much of `text` the lexer has read.
    lexed: usize,
    /// The last token whose user value was placed.
    last_user_token: Option<String>,
}

impl Output {
    /// Lets the lexer read what was written since it last read.
    fn lex_up_to_here(&mut self) -> Result<(), ValidationError> {
        self.lexer.feed(&self.text[self.lexed..]);
        self.lexed = self.text.len();
        self.check_heredocs()
    }

    /// Fails when a line holding a user value ended a here-document.
    fn check_heredocs(&self) -> Result<(), ValidationError> {
        match (&self.last_user_token, self.lexer.user_ended_heredoc()) {
            (Some(token), true) => Err(ValidationError::new(
                format!("{{{{{{{token}}}}}}}"),
                "its value",
                "a value from the user or the directory would make this line a here-document's delimiter \
                 and end the document early",
            )),
            _ => Ok(()),
        }
    }

    /// The finished text, once the lexer has read the line of the last user value.
    fn finish(mut self) -> Result<String, ValidationError> {
        if self.last_user_token.is_some() {
            let end = self.text[self.lexed..].find('\n').map_or(self.text.len(), |i| self.lexed + i + 1);
            self.lexer.feed(&self.text[self.lexed..end]);
            self.lexed = end;
            self.check_heredocs()?;
        }
        Ok(self.text)
    }

    fn push(&mut self, text: &str) -> Result<(), ValidationError> {
        check_size("user_data (rendered)", self.text.len() + text.len())?;
        self.text.push_str(text);
        Ok(())
    }

    fn push_value(&mut self, token: &str, value: &str, origin: Origin) -> Result<(), ValidationError> {
        if origin == Origin::Catalog {
            return self.push(value);
        }
        self.lex_up_to_here()?;
        self.last_user_token = Some(token.to_string());
        match self.lexer.escape(value) {
            Ok(escaped) => {
                self.push(&escaped)?;
                self.lex_up_to_here()?;
                self.lexer.mark_user_value();
                Ok(())
            }
            Err(shell::Unplaceable { ch: Some(ch), context }) => Err(ValidationError::new(
                format!("{{{{{{{token}}}}}}}"),
                format!("{ch:?}"),
                format!(
                    "a value from the user or the directory cannot hold {ch:?} where this token stands in the \
                     script ({}); quote the token in the script or change the value",
                    context.describe()
                ),
            )),
            Err(shell::Unplaceable { ch: None, .. }) => Err(ValidationError::new(
                format!("{{{{{{{token}}}}}}}"),
                "\"\"",
                "an empty value cannot stand here (after $, \\ or <<, in backticks or ${…}): it would join \
                 the script's text around it; quote the token in the script",
            )),
        }
    }
}

/// One pass over the script: each `{{{` is looked at once and the next `}}}` is found by a
/// cursor that only moves forward, so the work is linear in the script's length.
fn render_with(script: &str, values: &HashMap<&str, (&str, Origin)>) -> Result<Rendered, ValidationError> {
    let longest = values.keys().map(|k| k.len()).max().unwrap_or(0);
    let mut out = Output {
        text: String::with_capacity(script.len() + script.len() / 4),
        lexer: shell::Lexer::for_script(script),
        lexed: 0,
        last_user_token: None,
    };
    let mut unknown = BTreeSet::new();
    let mut pos = 0;
    let mut close: Option<usize> = None;
    while let Some(start) = find_triple(script, pos, b'{') {
        if close.is_none_or(|c| c < start + 3) {
            close = find_triple(script, start + 3, b'}');
        }
        let Some(end) = close else { break };
        let token = &script[start + 3..end];
        if token.len() <= longest
            && let Some(&(value, origin)) = values.get(token)
        {
            out.push(&script[pos..start])?;
            out.push_value(token, value, origin)?;
            pos = end + 3;
            continue;
        }
        if is_reportable(token) {
            unknown.insert(token.to_string());
        }
        // Not a known token: keep one brace and look again from the next character, so
        // that `{{{{A}}}` still finds `{{{A}}}` as MLiy's string replacement did.
        out.push(&script[pos..=start])?;
        pos = start + 1;
    }
    out.push(&script[pos..])?;
    Ok(Rendered { text: out.finish()?, unknown_tokens: unknown.into_iter().collect() })
}

/// The first `ccc` (three of the byte `c`) in `text` at or after `from`.
fn find_triple(text: &str, from: usize, c: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(i) = bytes.get(at..)?.iter().position(|&b| b == c) {
        let i = at + i;
        if bytes.get(i + 1) == Some(&c) && bytes.get(i + 2) == Some(&c) {
            return Some(i);
        }
        at = i + 1;
    }
    None
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
        render(script, &[&pairs.to_vec()]).unwrap()
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
        let out = render("{{{T}}}{{{U}}}", &[&first, &second]).unwrap();
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

    fn user(script: &str, value: &str) -> Result<Rendered, ValidationError> {
        let pairs = [("U", value)];
        render(script, &[&UserTokens(&pairs)])
    }

    #[test]
    fn user_values_are_escaped_for_their_quoting_context() {
        let script = "#!/bin/bash\na '{{{U}}}' \"{{{U}}}\" {{{U}}} $'{{{U}}}'\n";
        let out = user(script, "o'neil $(x) \"q\"").unwrap();
        assert_eq!(
            out.text,
            "#!/bin/bash\na 'o'\\''neil $(x) \"q\"' \"o'neil \\$(x) \\\"q\\\"\" 'o'\\''neil $(x) \"q\"' \
             $'o\\'neil $(x) \"q\"'\n"
        );
        // Plain values stay as they are, even unquoted.
        assert_eq!(user("#!/bin/sh\nrun {{{U}}}", "dana.o-neil").unwrap().text, "#!/bin/sh\nrun dana.o-neil");
    }

    #[test]
    fn catalog_values_stay_literal() {
        let catalog = [("C", "'$(literal)'")];
        let out = render("#!/bin/bash\nx='{{{C}}}'", &[&catalog]).unwrap();
        assert_eq!(out.text, "#!/bin/bash\nx=''$(literal)''");
    }

    #[test]
    fn unplaceable_user_values_are_refused_naming_token_and_character() {
        let e = user("#!/bin/bash\n# owner {{{U}}}\n", "x\ntouch pwned").unwrap_err();
        assert_eq!(e.field, "{{{U}}}");
        assert_eq!(e.value, "'\\n'");
        assert!(e.rule.contains("a comment"), "{e}");
        let e = user("#cloud-config\nowner: {{{U}}}\n", "o'neil").unwrap_err();
        assert_eq!(e.value, "'\\''");
        assert!(user("#!/bin/bash\necho `{{{U}}}`", "a;b").is_err());
    }

    #[test]
    fn a_user_value_never_decides_where_a_here_document_ends() {
        let alone = "#!/bin/bash\ncat <<EOF\n{{{U}}}\nEOF\n";
        assert!(user(alone, "E").is_ok() && user(alone, "").is_ok(), "a line that is not the delimiter is fine");
        let e = user(alone, "EOF").unwrap_err();
        assert!(e.field == "{{{U}}}" && e.rule.contains("delimiter"), "{e}");
        assert!(user("#!/bin/bash\ncat <<EOF\n{{{U}}}OF\nEOF\n", "E").is_err(), "E and the template's OF");
        assert!(user("#!/bin/bash\ncat <<EOF\n{{{U}}}EOF\nx\nEOF\n", "").is_err(), "empty, then the template's EOF");
        assert!(user("#!/bin/bash\necho ${{{U}}}(id)\n", "").is_err(), "empty after $ would make $(");
    }

    #[test]
    fn hostile_brace_input_is_linear_and_bounded() {
        // These took seconds to minutes before the one-pass scan; the outcome is checked
        // here, the time in benches/plan.rs.
        let braces = "{".repeat(MAX_INPUT_BYTES);
        assert_eq!(r(&braces, &[("A", "x")]).text.len(), MAX_INPUT_BYTES);
        let triples = "{{{".repeat(300_000);
        assert!(r(&triples, &[("A", "x")]).unknown_tokens.is_empty());
        let opened = format!("{}}}}}}}", "{".repeat(900_000));
        assert!(r(&opened, &[("A", "x")]).unknown_tokens.is_empty());
        let e = render(&"x".repeat(MAX_INPUT_BYTES + 1), &[]).unwrap_err();
        assert!(e.rule.contains("at most"), "{e}");
        let many = format!("#!/bin/sh\n{}", "{{{A}}}".repeat(200));
        let e = render(&many, &[&[("A", "x".repeat(10_000))]]).unwrap_err();
        assert_eq!(e.field, "user_data (rendered)");
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
        fn a_user_value_never_changes_the_quoting_after_it(
            prefix in "[a-z '\"$()`#\\\n<{}-]{0,40}",
            value in ".{0,20}",
            suffix in "[a-z '\"$()\n]{0,20}",
        ) {
            let script = format!("#!/bin/bash\n{prefix}{{{{{{U}}}}}}{suffix}");
            let (Ok(hostile), Ok(plain)) = (user(&script, &value), user(&script, "x")) else { return Ok(()) };
            let mut a = shell::Lexer::for_script(&script);
            a.feed(&hostile.text);
            let mut b = shell::Lexer::for_script(&script);
            b.feed(&plain.text);
            prop_assert_eq!(a.context(), b.context());
        }

        #[test]
        fn brace_heavy_input_never_panics(script in "[{}A ]{0,200}") {
            let _ = r(&script, &[("A", "{{{A}}}")]);
        }
    }
}
