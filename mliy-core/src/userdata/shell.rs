//! The quoting context of each position in a shell script, so that a value a user controls
//! can be escaped for the place it lands in and never changes what the script means.
//!
//! [`Lexer`] reads the rendered script byte by byte, as it is written, and keeps a stack of
//! the quoting constructs it is in: `'…'`, `"…"`, `$'…'`, `$( … )`, backticks, `${…}`,
//! comments and here-documents (`<<EOF`, `<<'EOF'`, `<<-EOF`). [`Lexer::escape`] then makes a
//! value literal for the current context, or says which character cannot be placed there.

/// Where a position falls, as far as escaping a value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// An unquoted word (at the top level or inside `$( … )`).
    Bare,
    /// Inside `'…'`.
    Single,
    /// Inside `"…"`.
    Double,
    /// Inside `$'…'`.
    AnsiC,
    /// A comment, up to the end of the line.
    Comment,
    /// The body of a here-document whose delimiter is quoted (`<<'EOF'`): literal lines.
    HeredocLiteral,
    /// The body of a here-document with `$`, `` ` `` and `\` expansion (`<<EOF`).
    HeredocExpanding,
    /// Backticks, `${…}`, a here-document's delimiter, right after `$` or `\`, or a script
    /// that is not a shell script: only plain characters may go here.
    Plain,
}

impl Context {
    /// How the context is named in errors.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Context::Bare => "an unquoted word",
            Context::Single => "single quotes",
            Context::Double => "double quotes",
            Context::AnsiC => "$'…' quotes",
            Context::Comment => "a comment",
            Context::HeredocLiteral => "a quoted here-document (no newline, no delimiter line)",
            Context::HeredocExpanding => "a here-document (no newline, no delimiter line)",
            Context::Plain => "a place where only plain characters are safe",
        }
    }
}

/// A value that cannot be placed in a context: the character that cannot, or `None` for an
/// empty value where only plain characters may stand (right after `$`, `\` or `<<`, the
/// empty value would join them to the script's next character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unplaceable {
    pub(crate) ch: Option<char>,
    pub(crate) context: Context,
}

/// Characters that mean nothing to the shell anywhere in a word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ',' | ':' | '/' | '@' | '%' | '+' | '-')
}

#[derive(Debug)]
enum Frame {
    /// Unquoted text; `depth` counts the `(` opened inside a `$( … )` (the outermost frame
    /// never closes).
    Top {
        depth: u32,
    },
    Single,
    Double,
    AnsiC,
    Comment,
    Backtick,
    Param {
        depth: u32,
    },
    Heredoc(Heredoc),
}

#[derive(Debug, Clone)]
struct Heredoc {
    delim: Vec<u8>,
    strip_tabs: bool,
    literal: bool,
    /// The current line, while it can still equal the delimiter.
    line: Option<Vec<u8>>,
    /// A user value stands on the current line.
    user_line: bool,
}

/// Reads a here-document's delimiter word after `<<` or `<<-`.
#[derive(Debug, Default)]
struct DelimReader {
    strip_tabs: bool,
    word: Vec<u8>,
    quoted: bool,
    quote: Option<u8>,
    started: bool,
    escaped: bool,
}

/// An incremental reader of a shell script's quoting structure.
#[derive(Debug)]
pub(crate) struct Lexer {
    /// False for scripts that are not shell scripts: every position is [`Context::Plain`].
    shell: bool,
    stack: Vec<Frame>,
    /// The previous byte was an unescaped `\`.
    escaped: bool,
    /// The previous byte was an unescaped `$` where `$` expands.
    dollar: bool,
    /// At the start of a word (where `#` starts a comment).
    word_start: bool,
    /// Consecutive `<` just read at the top level.
    less: u8,
    /// Reading a here-document delimiter.
    delim: Option<DelimReader>,
    /// Here-documents whose bodies start at the next newline.
    pending: Vec<Heredoc>,
    /// A line holding a user value ended a here-document.
    user_ended_heredoc: bool,
}

impl Lexer {
    /// A lexer for `script`'s kind: shell when its `#!` line names a POSIX shell.
    pub(crate) fn for_script(script: &str) -> Self {
        let first = script.lines().next().unwrap_or("");
        let shell = first.strip_prefix("#!").is_some_and(|line| {
            line.split_whitespace().take(2).any(|w| {
                let name = w.rsplit('/').next().unwrap_or(w);
                matches!(name, "sh" | "bash" | "dash" | "ksh" | "zsh" | "ash")
            })
        });
        Lexer {
            shell,
            stack: vec![Frame::Top { depth: 0 }],
            escaped: false,
            dollar: false,
            word_start: true,
            less: 0,
            delim: None,
            pending: Vec::new(),
            user_ended_heredoc: false,
        }
    }

    /// The context of the next byte.
    pub(crate) fn context(&self) -> Context {
        if !self.shell || self.escaped || self.dollar || self.delim.is_some() || self.less >= 2 {
            return Context::Plain;
        }
        match self.stack.last() {
            Some(Frame::Top { .. }) | None => Context::Bare,
            Some(Frame::Single) => Context::Single,
            Some(Frame::Double) => Context::Double,
            Some(Frame::AnsiC) => Context::AnsiC,
            Some(Frame::Comment) => Context::Comment,
            Some(Frame::Heredoc(h)) if h.literal => Context::HeredocLiteral,
            Some(Frame::Heredoc(_)) => Context::HeredocExpanding,
            Some(Frame::Backtick | Frame::Param { .. }) => Context::Plain,
        }
    }

    /// `value` made literal for the current context.
    ///
    /// # Errors
    /// The first character that cannot be placed here (a NUL anywhere, a newline in a
    /// comment or a here-document, anything but plain characters in [`Context::Plain`]).
    pub(crate) fn escape(&self, value: &str) -> Result<String, Unplaceable> {
        let context = self.context();
        let refuse = |ch| Err(Unplaceable { ch: Some(ch), context });
        if value.is_empty() && self.shell && context == Context::Plain {
            return Err(Unplaceable { ch: None, context });
        }
        if let Some(ch) = value.chars().find(|&c| c == '\0') {
            return refuse(ch);
        }
        let mut out = String::with_capacity(value.len() + 2);
        match context {
            Context::Bare if value.chars().all(is_plain) && !value.is_empty() => out.push_str(value),
            Context::Bare => {
                out.push('\'');
                push_single_quoted(&mut out, value);
                out.push('\'');
            }
            Context::Single => push_single_quoted(&mut out, value),
            Context::Double => push_escaped(&mut out, value, &['\\', '"', '$', '`']),
            Context::AnsiC => push_escaped(&mut out, value, &['\\', '\'']),
            Context::Comment | Context::HeredocLiteral | Context::HeredocExpanding => {
                if value.contains('\n') {
                    return refuse('\n');
                }
                let special: &[char] = if context == Context::HeredocExpanding { &['\\', '$', '`'] } else { &[] };
                push_escaped(&mut out, value, special);
            }
            Context::Plain => match value.chars().find(|&c| !is_plain(c)) {
                Some(ch) => return refuse(ch),
                None => out.push_str(value),
            },
        }
        Ok(out)
    }

    /// Notes that a user value was just placed: should its line in a here-document turn out
    /// to be the delimiter, the value decided where the document ends.
    pub(crate) fn mark_user_value(&mut self) {
        if let Some(Frame::Heredoc(h)) = self.stack.last_mut() {
            h.user_line = true;
        }
    }

    /// Whether a line holding a user value ended a here-document (see
    /// [`Lexer::mark_user_value`]).
    pub(crate) fn user_ended_heredoc(&self) -> bool {
        self.user_ended_heredoc
    }

    /// Reads `text`, which follows what was read before.
    pub(crate) fn feed(&mut self, text: &str) {
        if self.shell {
            for &b in text.as_bytes() {
                self.byte(b);
            }
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(reader) = &mut self.delim {
            // The byte that ends the delimiter word is read as usual too.
            let Some(done) = reader.byte(b) else { return };
            self.delim = None;
            self.pending.push(done);
        }
        if std::mem::take(&mut self.escaped) {
            self.word_start = false;
            self.heredoc_line(b);
            return;
        }
        let dollar = std::mem::take(&mut self.dollar);
        match self.stack.last_mut() {
            Some(Frame::Top { .. }) | None => self.top(b, dollar),
            Some(Frame::Single) => self.pop_on(b, b'\''),
            Some(Frame::AnsiC) => match b {
                b'\\' => self.escaped = true,
                _ => self.pop_on(b, b'\''),
            },
            Some(Frame::Comment) if b == b'\n' => {
                self.stack.pop();
                self.word_start = true;
                self.start_heredocs();
            }
            Some(Frame::Comment) => {}
            Some(Frame::Double) => self.expanding(b, dollar, Some(b'"')),
            Some(Frame::Backtick) => match b {
                b'\\' => self.escaped = true,
                _ => self.pop_on(b, b'`'),
            },
            Some(Frame::Param { depth }) => match b {
                b'{' => *depth += 1,
                b'}' if *depth == 0 => {
                    self.stack.pop();
                }
                b'}' => *depth -= 1,
                _ => {}
            },
            Some(Frame::Heredoc(h)) => {
                let literal = h.literal;
                if !literal {
                    self.expanding(b, dollar, None);
                }
                self.heredoc_line(b);
            }
        }
    }

    fn pop_on(&mut self, b: u8, end: u8) {
        if b == end {
            self.stack.pop();
        }
    }

    /// Inside `"…"` or an expanding here-document: `\`, `$( … )`, `${…}` and backticks.
    fn expanding(&mut self, b: u8, dollar: bool, end: Option<u8>) {
        match b {
            b'(' if dollar => self.stack.push(Frame::Top { depth: 0 }),
            b'{' if dollar => self.stack.push(Frame::Param { depth: 0 }),
            b'\\' => self.escaped = true,
            b'$' => self.dollar = true,
            b'`' => self.stack.push(Frame::Backtick),
            _ if Some(b) == end => {
                self.stack.pop();
            }
            _ => {}
        }
    }

    /// Unquoted text: quotes, expansions, comments, parentheses, here-documents.
    fn top(&mut self, b: u8, dollar: bool) {
        let less = std::mem::take(&mut self.less);
        let word_start = std::mem::replace(&mut self.word_start, false);
        if less == 2 && b != b'<' {
            // `<<` then this byte: a here-document's delimiter starts.
            let mut reader = DelimReader { strip_tabs: b == b'-', ..DelimReader::default() };
            if b != b'-' {
                let _ = reader.byte(b);
            }
            self.delim = Some(reader);
            return;
        }
        match b {
            b'<' if less < 2 => self.less = less + 1,
            // `<<<`: a here-string, not a here-document.
            b'<' => {}
            b'\'' if dollar => self.stack.push(Frame::AnsiC),
            b'(' if dollar => self.stack.push(Frame::Top { depth: 0 }),
            b'{' if dollar => self.stack.push(Frame::Param { depth: 0 }),
            b'\'' => self.stack.push(Frame::Single),
            b'"' => self.stack.push(Frame::Double),
            b'`' => self.stack.push(Frame::Backtick),
            b'\\' => self.escaped = true,
            b'$' => self.dollar = true,
            b'#' if word_start => self.stack.push(Frame::Comment),
            b'(' => {
                if let Some(Frame::Top { depth }) = self.stack.last_mut() {
                    *depth += 1;
                }
                self.word_start = true;
            }
            b')' => {
                let nested = self.stack.len() > 1;
                match self.stack.last_mut() {
                    Some(Frame::Top { depth }) if *depth > 0 => *depth -= 1,
                    Some(Frame::Top { .. }) if nested => {
                        self.stack.pop();
                    }
                    _ => {}
                }
                self.word_start = true;
            }
            b'\n' => {
                self.word_start = true;
                self.start_heredocs();
            }
            b' ' | b'\t' | b';' | b'&' | b'|' | b'>' => self.word_start = true,
            _ => {}
        }
    }

    /// After a newline: the bodies of the here-documents named on the line begin.
    fn start_heredocs(&mut self) {
        if !self.pending.is_empty() {
            // Bodies follow one another: the first named is read first (top of the stack).
            for h in self.pending.drain(..).rev() {
                self.stack.push(Frame::Heredoc(h));
            }
        }
    }

    /// Follows a here-document's lines and ends it at its delimiter line.
    fn heredoc_line(&mut self, b: u8) {
        let Some(Frame::Heredoc(h)) = self.stack.last_mut() else { return };
        if b != b'\n' {
            if let Some(line) = &mut h.line {
                let tab = b == b'\t' && h.strip_tabs && line.is_empty();
                if !tab {
                    line.push(b);
                    if line.len() > h.delim.len() {
                        h.line = None;
                    }
                }
            }
            return;
        }
        let ends = h.line.as_deref() == Some(h.delim.as_slice());
        self.user_ended_heredoc |= ends && h.user_line;
        h.line = Some(Vec::new());
        h.user_line = false;
        if ends {
            self.stack.pop();
        }
    }
}

impl DelimReader {
    /// Reads one byte of the delimiter word; the here-document once the word ended.
    fn byte(&mut self, b: u8) -> Option<Heredoc> {
        if std::mem::take(&mut self.escaped) {
            self.word.push(b);
            return None;
        }
        match (self.quote, b) {
            (Some(q), _) if q == b => self.quote = None,
            (Some(_), _) => self.word.push(b),
            (None, b' ' | b'\t') if !self.started => {}
            (None, b'\'' | b'"') => {
                self.quoted = true;
                self.started = true;
                self.quote = Some(b);
            }
            (None, b'\\') => {
                self.quoted = true;
                self.started = true;
                self.escaped = true;
            }
            (None, b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')') => {
                return Some(Heredoc {
                    delim: std::mem::take(&mut self.word),
                    strip_tabs: self.strip_tabs,
                    literal: self.quoted,
                    line: Some(Vec::new()),
                    user_line: false,
                });
            }
            (None, _) => {
                self.started = true;
                self.word.push(b);
            }
        }
        None
    }
}

fn push_single_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
}

fn push_escaped(out: &mut String, value: &str, special: &[char]) {
    for c in value.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_at(script: &str) -> Context {
        let mut lexer = Lexer::for_script(&format!("#!/bin/bash\n{script}"));
        lexer.feed(&format!("#!/bin/bash\n{script}"));
        lexer.context()
    }

    #[test]
    fn contexts() {
        assert_eq!(context_at("echo "), Context::Bare);
        assert_eq!(context_at("echo '"), Context::Single);
        assert_eq!(context_at("echo \"a "), Context::Double);
        assert_eq!(context_at("echo \"$(ls "), Context::Bare);
        assert_eq!(context_at("echo \"$(ls '"), Context::Single);
        assert_eq!(context_at("echo \"$(ls) "), Context::Double);
        assert_eq!(context_at("echo $'"), Context::AnsiC);
        assert_eq!(context_at("echo 'it''s' # "), Context::Comment);
        assert_eq!(context_at("echo a#b "), Context::Bare);
        assert_eq!(context_at("echo `"), Context::Plain);
        assert_eq!(context_at("echo ${"), Context::Plain);
        assert_eq!(context_at("echo \\"), Context::Plain);
        assert_eq!(context_at("cat <<EOF\n"), Context::HeredocExpanding);
        assert_eq!(context_at("cat <<'EOF' >x\nhi "), Context::HeredocLiteral);
        assert_eq!(context_at("cat <<-\"E\"\n\tx\n\tE\n"), Context::Bare);
        assert_eq!(context_at("cat <<EOF\n$(echo '"), Context::Single);
        assert_eq!(context_at("cat <<EOF\nEOFX\nEOF\necho "), Context::Bare);
        assert_eq!(context_at("cat <<<'x' "), Context::Bare);
        assert_eq!(context_at("x=$((1 + (2) ))\n"), Context::Bare);
    }

    #[test]
    fn escapes_stay_in_their_context() {
        let value = "o'neil \"$(x)\" `y` \\ #";
        for prefix in ["echo ", "echo '", "echo \"", "echo $'"] {
            let mut lexer = Lexer::for_script("#!/bin/sh\n");
            lexer.feed(&format!("#!/bin/sh\n{prefix}"));
            let before = lexer.context();
            let escaped = lexer.escape(value).unwrap();
            lexer.feed(&escaped);
            assert_eq!(lexer.context(), before, "{prefix}{escaped}");
        }
    }

    #[test]
    fn refusals_name_the_character() {
        let mut lexer = Lexer::for_script("#!/bin/bash\n");
        lexer.feed("#!/bin/bash\n# owner: ");
        assert_eq!(lexer.escape("a\nrm -rf /"), Err(Unplaceable { ch: Some('\n'), context: Context::Comment }));
        let plain = Lexer::for_script("#cloud-config\n");
        assert_eq!(plain.escape("o'neil").unwrap_err().ch, Some('\''));
        let mut dollar = Lexer::for_script("#!/bin/sh\n");
        dollar.feed("#!/bin/sh\necho $");
        assert_eq!(dollar.escape("").unwrap_err().ch, None, "an empty value would join $ to what follows");
        assert_eq!(dollar.escape("HOME").unwrap(), "HOME");
        assert_eq!(plain.escape("dana.o-neil@example.com").unwrap(), "dana.o-neil@example.com");
    }
}
