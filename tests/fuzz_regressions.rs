//! Every input a fuzzer once crashed on (`fuzz/regressions/<target>/`), replayed through the
//! same checks as the fuzz target (`fuzz/checks.rs`), on stable Rust, in `make test`. The
//! samples under `fuzz/regressions/` also hold one ordinary input per target, so the checks
//! themselves are exercised even before the first crash is found.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("read input");
            (p, data)
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    for (path, data) in inputs(target) {
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check again",
            path.display()
        );
    }
}

#[test]
fn validation_regressions() {
    replay("validate", checks::validate);
}

#[test]
fn policy_assessment_regressions() {
    replay("policy_assess", checks::policy_assess);
}

#[test]
fn policy_file_regressions() {
    replay("policy_file", checks::policy_file);
}
