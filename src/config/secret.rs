//! Where a secret comes from. The file names the source, never the value, unless the admin
//! insists by writing `{literal: …}`.

use super::one_of::one_of;
use mliy_core::error::{Error, Result};
use mliy_core::secret::Secret;
use serde::{Deserialize, Serialize, Serializer};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a secret file or a command's output may be.
const MAX_SECRET_BYTES: usize = 64 * 1024;
/// Longest a secret command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A secret's source: `{env: NAME}`, `{file: PATH}` (owner-only permissions),
/// `{command: "program arg …"}` (run without a shell; its standard output, MLiy's
/// `LdapBindPassword` style) or `{literal: "…"}`.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file readable by its owner only (relative to the config file's folder).
    File(PathBuf),
    /// A program and its arguments.
    Command(CommandLine),
    /// The value itself, written in the config file.
    Literal(Literal),
}

/// A value written in the config file (shown as `****`).
#[derive(Debug, Clone)]
pub struct Literal(pub Secret);

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(|s| Literal(Secret::new(s)))
    }
}

one_of!(
    SecretSource,
    "a secret's source: {env: NAME}, {file: PATH}, {command: \"program arg …\"}, or {literal: \"…\"} to write the value in the file",
    units: [],
    data: ["env" => Env, "file" => File, "command" => Command, "literal" => Literal]
);

/// A command: a string split at whitespace (no shell, no quoting) or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine(pub Vec<String>);

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Line(String),
            List(Vec<String>),
        }
        let words = match Form::deserialize(d)? {
            Form::Line(line) => line.split_whitespace().map(String::from).collect(),
            Form::List(list) => list,
        };
        if words.first().is_none_or(|w| w.is_empty()) {
            return Err(serde::de::Error::custom("a command names a program: \"program arg …\" or [program, arg, …]"));
        }
        Ok(CommandLine(words))
    }
}

impl Serialize for SecretSource {
    /// The source, never a value: `{literal: "****"}`.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            SecretSource::Env(name) => map.serialize_entry("env", name)?,
            SecretSource::File(path) => map.serialize_entry("file", path)?,
            SecretSource::Command(line) => map.serialize_entry("command", &line.0.join(" "))?,
            SecretSource::Literal(_) => map.serialize_entry("literal", "****")?,
        }
        map.end()
    }
}

impl SecretSource {
    /// Whether reading it runs a program (not done by `mliy config check` without
    /// `--connect`).
    pub fn runs_a_command(&self) -> bool {
        matches!(self, SecretSource::Command(_))
    }

    /// Reads the secret. `field` names it in errors; `base` is the config file's folder.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field and the source: an unset or empty variable, a
    /// file others may read or write, a command that fails, an empty value.
    pub fn resolve(&self, field: &str, base: &Path) -> Result<Secret> {
        let value = match self {
            SecretSource::Env(name) => std::env::var(name)
                .map_err(|_| Error::validation(field, format!("env {name}"), "the environment variable is not set"))?,
            SecretSource::File(path) => read_private(field, &base.join(path))?,
            SecretSource::Command(line) => run(field, line)?,
            SecretSource::Literal(Literal(secret)) => secret.expose().to_string(),
        };
        let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value);
        if value.is_empty() {
            return Err(Error::validation(field, self.describe(), "the secret is empty"));
        }
        Ok(Secret::new(value))
    }

    /// The source, for messages: `env NAME`, `file PATH`, `command PROGRAM`, `literal`.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(name) => format!("env {name}"),
            SecretSource::File(path) => format!("file {}", path.display()),
            SecretSource::Command(line) => format!("command {}", line.0[0]),
            SecretSource::Literal(_) => "literal".into(),
        }
    }
}

/// A secret file's text, if only its owner may read and write it.
fn read_private(field: &str, path: &Path) -> Result<String> {
    let shown = format!("file {}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| Error::validation(field, &shown, format!("cannot be read: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o066 != 0 {
            return Err(Error::validation(
                field,
                &shown,
                format!("its mode is {mode:03o}: others may read or change it; chmod 600 it"),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    mliy_core::files::read_bounded(path, MAX_SECRET_BYTES)
        .map_err(|e| Error::validation(field, &shown, format!("cannot be read: {e}")))
}

/// A command's standard output, within [`COMMAND_TIMEOUT`]. Its standard error is passed
/// through to the operator, never into an error.
fn run(field: &str, line: &CommandLine) -> Result<String> {
    let shown = format!("command {}", line.0[0]);
    let fail = |rule: String| Error::validation(field, &shown, rule);
    let mut child = Command::new(&line.0[0])
        .args(&line.0[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    // Read while it runs, so that a long output cannot fill the pipe and stall it.
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut out = Vec::new();
        if let Some(stdout) = stdout {
            let _ = stdout.take(MAX_SECRET_BYTES as u64 + 1).read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| fail(e.to_string()))? {
            Some(status) => break status,
            None if started.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("did not finish within {} s", COMMAND_TIMEOUT.as_secs())));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    if !status.success() {
        return Err(fail(format!("exited with {status}")));
    }
    let out = reader.join().map_err(|_| fail("its output could not be read".into()))?;
    if out.len() > MAX_SECRET_BYTES {
        return Err(fail(format!("printed more than {MAX_SECRET_BYTES} bytes")));
    }
    String::from_utf8(out).map_err(|_| fail("printed something that is not UTF-8".into()))
}
