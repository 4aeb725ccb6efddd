//! `AllowedPattern`: a Java regular expression (`java.util.regex`), matched against the
//! whole value as CloudFormation does.
//!
//! Patterns are compiled with Rust's `regex` when they can be (linear time), with
//! `fancy-regex` when they need Java's look-around or back-references (bounded
//! backtracking), and otherwise kept unchecked with a warning — never refused, since
//! CloudFormation itself accepts them.

/// How a pattern is checked.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Linear(regex::Regex),
    Backtracking(Box<fancy_regex::Regex>),
    /// Not checkable here; the reason.
    Unchecked(String),
}

impl Pattern {
    /// Compiles `java`, anchored at both ends.
    pub(crate) fn compile(java: &str) -> Pattern {
        let rust = translate(java);
        let anchored = format!("^(?:{rust})$");
        if let Ok(re) = regex::Regex::new(&anchored) {
            return Pattern::Linear(re);
        }
        match fancy_regex::Regex::new(&anchored) {
            Ok(re) => Pattern::Backtracking(Box::new(re)),
            Err(e) => Pattern::Unchecked(e.to_string()),
        }
    }

    /// Whether `value` matches (an unchecked pattern, or one that runs out of its
    /// backtracking budget, lets CloudFormation decide).
    pub(crate) fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Linear(re) => re.is_match(value),
            Pattern::Backtracking(re) => re.is_match(value).unwrap_or(true),
            Pattern::Unchecked(_) => true,
        }
    }

    /// Why the pattern is not checked here, if it is not.
    pub(crate) fn unchecked(&self) -> Option<&str> {
        match self {
            Pattern::Unchecked(why) => Some(why),
            _ => None,
        }
    }
}

/// Java syntax Rust's engines read differently: in a character class, a `-` right after a
/// class escape (`[\w-]`, `[\d-.]`) or before the closing `]` is a literal dash.
fn translate(java: &str) -> String {
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::with_capacity(java.len() + 4);
    let (mut in_class, mut after_class_escape, mut i) = (false, false, 0);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                out.push(c);
                out.push(next);
                after_class_escape = in_class && "wWdDsS".contains(next);
                i += 2;
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '-' if in_class && (after_class_escape || chars.get(i + 1) == Some(&']')) => {
                out.push_str("\\-");
                after_class_escape = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        after_class_escape = false;
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_compile_and_match_whole_values() {
        let dash = Pattern::compile(r"[\w-]+");
        assert!(matches!(dash, Pattern::Linear(_)));
        assert!(dash.matches("my-stack_1") && !dash.matches("my stack"));
        let look = Pattern::compile(r"^(?=.*[0-9])(?=.*[a-z])[a-z0-9]{8,}$");
        assert!(matches!(look, Pattern::Backtracking(_)));
        assert!(look.matches("abc12345") && !look.matches("abcdefgh") && !look.matches("abc1"));
        let part = Pattern::compile("[a-z]+");
        assert!(!part.matches("abc1"), "the whole value must match");
        let odd = Pattern::compile(r"[a-z&&[^b]]+(?<name>\k<nope>)");
        assert!(odd.unchecked().is_some() && odd.matches("anything"));
        assert_eq!(translate(r"[\d-.]x-y[a-]"), r"[\d\-.]x-y[a\-]");
    }
}
