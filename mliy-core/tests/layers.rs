#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.
//! The floors of `mliy-core` (ARCHITECTURE.md): every module imports only modules on lower
//! floors, and the model imports nothing of the crate but `error`, `secret` and `clock`.
//! Read from the source: `crate::<module>` paths outside comments and test code.

use std::collections::BTreeMap;
use std::path::Path;

/// Each top-level module and its floor, from the ground up.
const FLOORS: &[(&str, u8)] = &[
    ("error", 1),
    ("secret", 1),
    ("clock", 1),
    ("files", 2),
    ("template", 2),
    ("model", 2),
    ("userdata", 3),
    ("catalog_load", 3),
    ("import", 3),
    ("auth", 3),
    ("dns", 3),
    ("pricing", 3),
    ("objects", 3),
    ("plan", 4),
    ("lifecycle", 4),
    ("cloud", 4),
    ("library", 4),
    ("datasets", 4),
    ("store", 5),
    ("deploy", 5),
    ("sim", 5),
    ("engine", 6),
    ("testkit", 7),
];

/// The `crate::x` modules a file's code (not its comments or tests) names.
fn imports(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            found.push(name);
        }
    }
    found
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let floors: BTreeMap<&str, u8> = FLOORS.iter().copied().collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let floor = *floors.get(module.as_str()).unwrap_or_else(|| panic!("{module} has no floor in FLOORS"));
        for import in imports(&std::fs::read_to_string(&path).unwrap()) {
            let Some(&to) = floors.get(import.as_str()) else { continue };
            let allowed = import == module || to < floor;
            if !allowed {
                wrong.push(format!("{} imports crate::{import} (floor {to} >= {floor})", rel.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run back up:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_import_that_runs_back_up() {
    let text = "use crate::engine::Engine;\n// use crate::sim::SimCloud;\n#[cfg(test)]\nuse crate::testkit;\n";
    assert_eq!(imports(text), ["engine"]);
}
