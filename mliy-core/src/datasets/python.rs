//! Just enough of Python to find the paths a code cell reads: its string literals (f-strings
//! with their `{name}` parts), the names assigned a string, and the first argument of read
//! calls. One pass over the text; nothing is run.

use std::collections::HashMap;

/// A piece of a string's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Known text.
    Text(String),
    /// The value of a name (an f-string's `{name}`, or a name in a `+` chain).
    Name(String),
    /// Something not followed here (a call, an expression).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Name(String),
    Str(Vec<Piece>),
    Assign,
    Op(char),
}

/// The logical lines of `code` (newlines inside brackets joined), as tokens.
fn lines(code: &str) -> Vec<Vec<Tok>> {
    let mut lexer = Lexer { chars: code.chars().collect(), at: 0 };
    let (mut out, mut line, mut depth) = (Vec::new(), Vec::new(), 0usize);
    while let Some(c) = lexer.peek(0) {
        match c {
            '\n' if depth == 0 => {
                lexer.at += 1;
                out.push(std::mem::take(&mut line));
            }
            '#' => lexer.skip_comment(),
            '\\' => lexer.at += if lexer.peek(1) == Some('\n') { 2 } else { 1 },
            c if c.is_whitespace() => lexer.at += 1,
            _ if lexer.string_starts() => line.push(Tok::Str(lexer.string())),
            c if c.is_alphabetic() || c == '_' => line.push(Tok::Name(lexer.name())),
            '=' if lexer.peek(1) != Some('=')
                && !line.last().is_some_and(|t| matches!(t, Tok::Op('=' | '!' | '<' | '>'))) =>
            {
                lexer.at += 1;
                line.push(Tok::Assign);
            }
            c => {
                lexer.at += 1;
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                line.push(Tok::Op(c));
            }
        }
    }
    out.push(line);
    out
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn skip_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.at += 1;
        }
    }

    fn name(&mut self) -> String {
        let start = self.at;
        while self.peek(0).is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// The length of a string prefix (`r`, `f`, `rb`, …) at the cursor, if a quote follows it.
    fn prefix_len(&self) -> Option<usize> {
        let is_prefix = |c: Option<char>| c.is_some_and(|c| "rRbBfFuU".contains(c));
        let quote = |c: Option<char>| matches!(c, Some('\'' | '"'));
        let before = self.at.checked_sub(1).and_then(|i| self.chars.get(i).copied());
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        (0..=2).find(|&n| quote(self.peek(n)) && (0..n).all(|i| is_prefix(self.peek(i))))
    }

    fn string_starts(&self) -> bool {
        self.prefix_len().is_some()
    }

    /// Reads a string literal at the cursor into its pieces.
    fn string(&mut self) -> Vec<Piece> {
        let n = self.prefix_len().unwrap_or(0);
        let prefix: String = self.chars[self.at..self.at + n].iter().collect::<String>().to_ascii_lowercase();
        self.at += n;
        let quote = self.peek(0).unwrap_or('"');
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.at += if triple { 3 } else { 1 };
        let (raw, f) = (prefix.contains('r'), prefix.contains('f'));
        let mut pieces = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c == quote && (!triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote))) {
                self.at += if triple { 3 } else { 1 };
                break;
            }
            if c == '\n' && !triple {
                break;
            }
            self.at += 1;
            match c {
                '\\' if !raw => text.push(self.escaped()),
                '{' if f && self.peek(0) == Some('{') => {
                    self.at += 1;
                    text.push('{');
                }
                '}' if f && self.peek(0) == Some('}') => {
                    self.at += 1;
                    text.push('}');
                }
                '{' if f => {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(self.placeholder());
                }
                c => text.push(c),
            }
        }
        pieces.push(Piece::Text(text));
        pieces.retain(|p| *p != Piece::Text(String::new()));
        pieces
    }

    fn escaped(&mut self) -> char {
        let c = self.peek(0).unwrap_or('\\');
        self.at += 1;
        match c {
            'n' => '\n',
            't' => '\t',
            c => c,
        }
    }

    /// An f-string's `{…}` after its `{`: a plain name (with `!r` or `:fmt`) or unknown.
    fn placeholder(&mut self) -> Piece {
        let start = self.at;
        let mut depth = 1usize;
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            self.at += 1;
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner: String = self.chars[start..self.at.saturating_sub(1).max(start)].iter().collect();
        let name = inner.split(['!', ':']).next().unwrap_or("").trim();
        let plain = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if plain { Piece::Name(name.to_string()) } else { Piece::Unknown }
    }
}

/// The methods and functions whose first argument is a path read: Spark's `load`, `parquet`,
/// `csv`, `json`, `orc`, `text`, `table`, and pandas' `read_*`.
fn is_read_call(name: &str) -> bool {
    matches!(name, "load" | "parquet" | "csv" | "json" | "orc" | "text" | "table") || name.starts_with("read_")
}

/// What a cell's code names: every string literal, and the value of each read call's first
/// argument, with the names in them resolved from the cell's earlier assignments.
pub(crate) struct Found {
    /// String literals, resolved.
    pub literals: Vec<Vec<Piece>>,
    /// Read calls' path arguments, resolved.
    pub read_paths: Vec<Vec<Piece>>,
}

/// Reads `code` in one pass.
pub(crate) fn scan(code: &str) -> Found {
    let mut vars: HashMap<String, Vec<Piece>> = HashMap::new();
    let mut found = Found { literals: Vec::new(), read_paths: Vec::new() };
    for line in lines(code) {
        for tok in &line {
            if let Tok::Str(pieces) = tok {
                found.literals.push(resolve(pieces, &vars));
            }
        }
        for (i, tok) in line.iter().enumerate() {
            if let (Tok::Name(name), Some(Tok::Op('('))) = (tok, line.get(i + 1))
                && is_read_call(name)
            {
                found.read_paths.push(value(first_argument(&line[i + 2..]), &vars));
            }
        }
        if let [Tok::Name(target), Tok::Assign, rest @ ..] = line.as_slice() {
            let v = value(rest, &vars);
            if v.iter().any(|p| matches!(p, Piece::Text(_))) {
                vars.insert(target.clone(), v);
            } else {
                vars.remove(target);
            }
        }
    }
    found
}

/// The tokens of the first argument (`path=` dropped) up to its `,` or `)`.
fn first_argument(toks: &[Tok]) -> &[Tok] {
    let toks = match toks {
        [Tok::Name(_), Tok::Assign, rest @ ..] => rest,
        t => t,
    };
    let mut depth = 0usize;
    let end = toks
        .iter()
        .position(|t| match t {
            Tok::Op('(' | '[' | '{') => {
                depth += 1;
                false
            }
            Tok::Op(')' | ']' | '}') if depth > 0 => {
                depth -= 1;
                false
            }
            Tok::Op(',' | ')') => depth == 0,
            _ => false,
        })
        .unwrap_or(toks.len());
    &toks[..end]
}

/// The value of `a + b + …` where each term is a string or a name; anything else is unknown.
fn value(toks: &[Tok], vars: &HashMap<String, Vec<Piece>>) -> Vec<Piece> {
    let mut out = Vec::new();
    for term in toks.split(|t| *t == Tok::Op('+')) {
        match term {
            [Tok::Str(pieces)] => out.extend(resolve(pieces, vars)),
            [Tok::Name(n)] => out.extend(vars.get(n).cloned().unwrap_or(vec![Piece::Unknown])),
            _ => out.push(Piece::Unknown),
        }
    }
    out
}

/// `pieces` with each name replaced by its value, when the cell assigned it one.
fn resolve(pieces: &[Piece], vars: &HashMap<String, Vec<Piece>>) -> Vec<Piece> {
    pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Name(n) => vars.get(n).cloned().unwrap_or(vec![Piece::Unknown]),
            p => vec![p.clone()],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pieces: &[Piece]) -> String {
        pieces.iter().map(|p| if let Piece::Text(t) = p { t.as_str() } else { "{?}" }).collect()
    }

    #[test]
    fn read_calls_are_followed_through_assignments() {
        let code = "bucket = 's3://lake'  # the lake\nday = f\"{bucket}/sales/\"\n\
                    df = spark.read.format('parquet').load(day + \"2024\")\n\
                    pdf = pd.read_csv(path=f'{bucket}/{unknown}/x.csv', sep=',')\nx = (\n  'a'\n)";
        let found = scan(code);
        let reads: Vec<String> = found.read_paths.iter().map(|p| text(p)).collect();
        assert_eq!(reads, ["s3://lake/sales/2024", "s3://lake/{?}/x.csv"]);
        let literals: Vec<String> = found.literals.iter().map(|p| text(p)).collect();
        assert!(literals.contains(&"s3://lake/sales/".to_string()), "{literals:?}");
        assert!(literals.contains(&"a".to_string()), "{literals:?}");
    }

    #[test]
    fn strings_keep_their_quotes_and_escapes() {
        let found = scan("a = r'C:\\x' + \"\"\"multi\nline\"\"\" + 'it\\'s' == b\"x\"\nprint(rb'raw')");
        let literals: Vec<String> = found.literals.iter().map(|p| text(p)).collect();
        assert_eq!(literals, ["C:\\x", "multi\nline", "it's", "x", "raw"]);
    }
}
