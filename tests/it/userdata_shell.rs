//! Names a user or the directory controls never change what a bootstrap script means: the
//! rendered scripts parse (`bash -n`), and run with stub commands on `PATH` they pass each
//! name as one argument and create no other file.

use mliy::model::{LaunchId, Principal};
use mliy::plan::LaunchRequest;
use mliy::userdata::{UserTokens, render};
use std::path::Path;
use std::process::Command;

/// Names that are valid somewhere (LDAP allows all of these in a cn or uid) and hostile to a
/// naive substitution.
const HOSTILE: &[&str] = &[
    "dana.o'neil",
    "x'; touch pwned; '",
    "\"; touch pwned; \"",
    "$(touch pwned)",
    "`touch pwned`",
    "${IFS}touch${IFS}pwned",
    "a b\tc",
    "back\\slash\\",
    "' ; touch pwned #",
    "*",
    "line\nbreak; touch pwned",
    "$'\\x27'; touch pwned",
    "EOF",
];

/// A bootstrap in MLiy's style (`scripts/ec2/userdata_MLiy.sh` exports its tokens in single
/// and double quotes), with the user's name in every quoting context a script uses.
const MLIY_STYLE: &str = r#"#!/bin/bash -e
# There is a limit of 4096 bytes on CloudFormation parameters.
export SOURCE_BUCKET='{{{SOURCE_BUCKET}}}'
export OWNER='{{{MLIY_USER}}}'
export OWNER_NAME="{{{MLIY_DISPLAY_NAME}}}"
export LDAP_AUTHZ_GROUP="{{{LDAP_AUTHZ_GROUP}}}"
record single "$OWNER"
record double "$OWNER_NAME"
record bare {{{MLIY_USER}}}
record ansi $'{{{MLIY_USER}}}'
record subst "$(echo '{{{MLIY_USER}}}')"
cat > owner.txt <<EOF
{{{MLIY_USER}}}
EOF
record heredoc "$(cat owner.txt)"
rm owner.txt
"#;

/// Stub commands that append their arguments (NUL-separated) to `<log>/<name>.args` and
/// what they read to `<log>/<name>.input` (the scripts run with stdin empty, or a pipe).
pub(crate) fn stubs(dir: &Path, log: &Path, names: &[&str]) {
    for name in names {
        let log = log.display();
        stub(dir, name, &format!("printf '%s\\0' \"$@\" >> '{log}/{name}.args'\ncat >> '{log}/{name}.input'"));
    }
}

/// An executable `dir/name` running `body` in bash.
pub(crate) fn stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
}

/// Each stub's calls (its arguments, split) from `log`.
pub(crate) fn calls(log: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut calls = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(log).unwrap() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "input") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let name = entry.file_name().to_string_lossy().trim_end_matches(".args").to_string();
        calls.insert(name, text.split('\0').filter(|s| !s.is_empty()).map(String::from).collect());
    }
    calls
}

/// Runs `script` in an empty folder with the stubs first on `PATH` and `/opt/mliy` moved to
/// `home`; returns each stub's calls and what the folder holds afterwards.
pub(crate) fn run_in(
    script: &str,
    names: &[&str],
    home: &Path,
) -> (std::collections::BTreeMap<String, Vec<String>>, Vec<String>) {
    let bin = tempfile::tempdir().unwrap();
    let log = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    stubs(bin.path(), log.path(), names);
    let script = script
        .replace("/opt/notebook/install.sh", &bin.path().join("install.sh").display().to_string())
        .replace("/opt/mliy", &home.display().to_string());
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let out = Command::new("bash").arg("-c").arg(&script).current_dir(work.path()).env("PATH", path).output().unwrap();
    assert!(out.status.success(), "script failed ({}): {}\n{script}", out.status, String::from_utf8_lossy(&out.stderr));
    let left =
        std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    (calls(log.path()), left)
}

/// [`run_in`] with a fresh `/opt/mliy`.
fn run(script: &str, names: &[&str]) -> (std::collections::BTreeMap<String, Vec<String>>, Vec<String>) {
    run_in(script, names, tempfile::tempdir().unwrap().path())
}

fn bash_n(script: &str) {
    let out = Command::new("bash").arg("-n").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "bash -n: {}\n{script}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn hostile_names_keep_the_mliy_style_script_intact() {
    let catalog = [("SOURCE_BUCKET", "mliy-bucket"), ("LDAP_AUTHZ_GROUP", "cn=ds,dc=example,dc=com")];
    for name in HOSTILE {
        let user = [("MLIY_USER", *name), ("MLIY_DISPLAY_NAME", *name)];
        let rendered = render(MLIY_STYLE, &[&UserTokens(&user), &catalog]);
        if name.contains('\n') || *name == "EOF" {
            // A here-document holds whole lines: a name with a newline, or one that is its
            // delimiter line, is refused there.
            assert!(rendered.is_err(), "{name:?}");
            continue;
        }
        let rendered = rendered.unwrap();
        bash_n(&rendered.text);
        let (calls, left) = run(&rendered.text, &["record"]);
        assert!(left.is_empty(), "{name:?} left {left:?}");
        let recorded = &calls["record"];
        let expected: Vec<String> = ["single", "double", "bare", "ansi", "subst", "heredoc"]
            .iter()
            .flat_map(|label| [label.to_string(), name.to_string()])
            .collect();
        assert_eq!(recorded, &expected, "{name:?}");
    }
}

#[test]
fn a_newline_in_a_here_document_is_refused_not_run() {
    let user = [("MLIY_USER", "line\nEOF\ntouch pwned")];
    let e = render(MLIY_STYLE, &[&UserTokens(&user)]).unwrap_err();
    assert_eq!(e.field, "{{{MLIY_USER}}}");
    assert!(e.rule.contains("here-document"), "{e}");
}

#[test]
fn hostile_names_keep_the_example_script_intact() {
    let catalog = mliy::demo::catalog().unwrap();
    let planner = mliy::plan::Planner::new(catalog).unwrap();
    for name in HOSTILE.iter().filter(|n| !n.contains('\n')) {
        let principal = Principal::new(*name, ["cn=data-science,ou=groups,dc=example,dc=com"]);
        let request = LaunchRequest::instance("data-science", "notebook", "t3.large")
            .with_launch_id(LaunchId::parse("0123456789ab").unwrap());
        let plan = planner.plan(&principal, &request).unwrap();
        let script = plan.user_data.clone().unwrap();
        bash_n(&script);
        let (calls, left) =
            run(&script, &["curl", "timedatectl", "aws", "tar", "install.sh", "mkfs", "mount", "mkdir", "crontab"]);
        assert!(left.is_empty(), "{name:?} left {left:?}");
        assert_eq!(calls["install.sh"], ["--owner", name], "{name:?}");
    }
}
