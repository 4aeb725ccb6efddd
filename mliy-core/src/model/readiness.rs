//! When a launched instance counts as ready, and how its bootstrap reports progress.

use serde::{Deserialize, Serialize};

/// What "ready" means for a software config's instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadyWhen {
    /// The bootstrap reported `100` (and the stack is complete).
    #[default]
    Progress100,
    /// The stack is complete and the instance running: with a `ResourceSignal` creation
    /// policy, CloudFormation completes the stack only after the bootstrap's `cfn-signal`.
    StackComplete,
    /// Whichever of the two comes first (a `100` while the stack is still creating counts).
    First,
}

impl ReadyWhen {
    /// The setting as written.
    pub fn name(self) -> &'static str {
        match self {
            ReadyWhen::Progress100 => "progress_100",
            ReadyWhen::StackComplete => "stack_complete",
            ReadyWhen::First => "first",
        }
    }

    /// The default for a template: `first` when its instance waits for a resource signal
    /// (so an image that signals but never reports 100 becomes ready), else `progress_100`.
    pub fn default_for(instance_signalled: bool) -> ReadyWhen {
        if instance_signalled { ReadyWhen::First } else { ReadyWhen::Progress100 }
    }

    /// Whether a bootstrap at `percent` is ready, the stack `creating` or complete.
    pub fn met(self, percent: u8, creating: bool) -> bool {
        match self {
            ReadyWhen::Progress100 => percent >= 100 && !creating,
            ReadyWhen::StackComplete => !creating,
            ReadyWhen::First => percent >= 100 || !creating,
        }
    }

    /// Whether the stack's completion alone makes the instance ready.
    pub fn at_stack_complete(self) -> bool {
        self != ReadyWhen::Progress100
    }
}

/// How the bootstrap script reports progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressProtocol {
    /// mliy's own tokens: `{{{MLIY_PROGRESS_URL}}}` (`{progress_url}/{launch id}`) and
    /// `{{{MLIY_PROGRESS_TOKEN}}}` (the launch's secret).
    #[default]
    Native,
    /// MLiy's images, unchanged: `{{{MANAGER_HOSTNAME}}}` is rendered as
    /// `<portal host>/ajax/s/<launch secret>`, so the image's
    /// `https://$MANAGER_HOSTNAME/ajax/progress/<instance id>/<message>(<n>)` carries the
    /// secret (see [`MliyProgressPath`](crate::model::MliyProgressPath)).
    Mliy,
}

impl ProgressProtocol {
    /// The user-data tokens a script of this protocol reports through.
    pub fn tokens(self) -> &'static [&'static str] {
        match self {
            ProgressProtocol::Native => &["MLIY_PROGRESS_URL", "MLIY_PROGRESS_TOKEN"],
            ProgressProtocol::Mliy => &["MANAGER_HOSTNAME"],
        }
    }
}

/// The longest path [`MliyProgressPath::parse`] reads.
const MAX_PATH: usize = 2048;

/// A report in MLiy's URL form, as a portal's route receives it:
/// `/ajax/s/<secret>/ajax/progress/<instance id>/<message>(<percent>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct MliyProgressPath {
    /// The launch's secret.
    pub secret: crate::secret::Secret,
    /// The EC2 instance id the image reports for.
    pub instance_id: String,
    /// What it is doing, `_` and `-` as spaces.
    pub message: String,
    /// 0–100.
    pub percent: u8,
}

impl std::fmt::Debug for MliyProgressPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MliyProgressPath")
            .field("instance_id", &self.instance_id)
            .field("message", &self.message)
            .field("percent", &self.percent)
            .finish_non_exhaustive()
    }
}

impl MliyProgressPath {
    /// Reads a request path (percent-encoded or not; a query string is ignored).
    ///
    /// # Errors
    /// [`Error::Validation`](crate::Error::Validation) naming the part that is missing or
    /// malformed; the secret never appears in it.
    pub fn parse(path: &str) -> crate::error::Result<MliyProgressPath> {
        let bad = |value: &str, rule: &str| crate::error::Error::validation("path", value, rule);
        if path.len() > MAX_PATH {
            return Err(bad(&format!("{} bytes", path.len()), "at most 2048 bytes"));
        }
        let path = path.split('?').next().unwrap_or_default();
        let rest = path
            .trim_start_matches('/')
            .strip_prefix("ajax/s/")
            .ok_or_else(|| bad("(path)", "must be /ajax/s/<secret>/ajax/progress/<instance id>/<message>(<n>)"))?;
        let (secret, rest) =
            rest.split_once('/').ok_or_else(|| bad("(path)", "no /ajax/progress/ after the secret"))?;
        let rest =
            rest.strip_prefix("ajax/progress/").ok_or_else(|| bad("(path)", "no /ajax/progress/ after the secret"))?;
        let (instance_id, report) =
            rest.split_once('/').ok_or_else(|| bad(rest, "must be <instance id>/<message>(<n>)"))?;
        let hex = instance_id.strip_prefix("i-").unwrap_or_default();
        if hex.is_empty() || hex.len() > 17 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(instance_id, "an EC2 instance id: i- and hex digits"));
        }
        let report = percent_decode(report).ok_or_else(|| bad(report, "must be UTF-8 after percent-decoding"))?;
        let (message, percent) = parse_report(&report).ok_or_else(|| bad(&report, "must be <message>(<0 to 100>)"))?;
        Ok(MliyProgressPath {
            secret: crate::secret::Secret::new(secret),
            instance_id: instance_id.to_string(),
            message,
            percent,
        })
    }
}

/// `rebooting_MLiy(90)` → (`rebooting MLiy`, 90).
pub fn parse_report(report: &str) -> Option<(String, u8)> {
    let (message, n) = report.strip_suffix(')')?.rsplit_once('(')?;
    let percent: u8 = n.parse().ok().filter(|p| *p <= 100)?;
    Some((message.replace(['_', '-'], " ").trim().to_string(), percent))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_table() {
        use ReadyWhen::*;
        // (mode, percent, creating) → met
        for (mode, p, creating, want) in [
            (Progress100, 100, false, true),
            (Progress100, 100, true, false),
            (Progress100, 90, false, false),
            (StackComplete, 10, false, true),
            (StackComplete, 100, true, false),
            (First, 100, true, true),
            (First, 10, false, true),
            (First, 90, true, false),
        ] {
            assert_eq!(mode.met(p, creating), want, "{mode:?} {p} {creating}");
        }
        assert_eq!(ReadyWhen::default_for(true), First);
        assert_eq!(ReadyWhen::default_for(false), Progress100);
    }

    #[test]
    fn mliy_paths() {
        let p = MliyProgressPath::parse("/ajax/s/abc123/ajax/progress/i-0123abcd/rebooting_MLiy(90)").unwrap();
        assert_eq!(
            (p.secret.expose(), p.instance_id.as_str(), p.message.as_str(), p.percent),
            ("abc123", "i-0123abcd", "rebooting MLiy", 90)
        );
        let p = MliyProgressPath::parse("/ajax/s/abc/ajax/progress/i-0a/done%28100%29?x=1").unwrap();
        assert_eq!((p.message.as_str(), p.percent), ("done", 100));
        let p = MliyProgressPath::parse("/ajax/s/abc/ajax/progress/i-0a/set-up_x(7)").unwrap();
        assert_eq!(p.message, "set up x");
        for bad in [
            "/ajax/progress/i-0a/done(100)",
            "/ajax/s/abc/ajax/progress/i-0a/done(101)",
            "/ajax/s/abc/ajax/progress/i-0a/done",
            "/ajax/s/abc/ajax/progress/vol-0a/done(1)",
            "/ajax/s/abc/ajax/progress/i-0a/done(1",
            "/ajax/s/abc/ajax/progress/i-0a/%ff(1)",
            "/ajax/s/abc/ajax/progress/i-0a/%f",
        ] {
            let e = MliyProgressPath::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("abc"), "the secret stays out of errors: {e}");
        }
        assert!(MliyProgressPath::parse(&"a".repeat(5000)).is_err());
        assert!(!format!("{p:?}").contains("abc"));
    }
}
