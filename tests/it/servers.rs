//! Finding server programs for integration tests: a missing one skips the test loudly, or
//! fails it when `MLIY_REQUIRE_SERVERS=1` (as `.ci/run` sets).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The program's path, or `None` (after saying so) when the test should skip.
pub(crate) fn find(program: &str, candidates: &[&str]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(program)).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = candidates.iter().map(PathBuf::from).chain(on_path).find(|p| p.is_file());
    if found.is_none() {
        let required = std::env::var("MLIY_REQUIRE_SERVERS").is_ok_and(|v| v == "1");
        assert!(!required, "{program} is required (MLIY_REQUIRE_SERVERS=1) but was not found");
        eprintln!("SKIPPED: {program} not found; install it (scripts/test.sh does) to run this test");
    }
    found
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Makes a CA and a server certificate for 127.0.0.1 with the openssl command.
pub(crate) fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").expect("ext");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mliy test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}
