//! The module boundaries of docs/architecture.md, held by a test: every `crate::MODULE` path in a
//! module's files must be one the table there allows. A new dependency is a change to the table,
//! made on purpose, not an import that slipped in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The table between the `architecture` markers: module → the modules it may use.
fn allowed(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    let start = doc
        .find("<!-- architecture:")
        .expect("docs/architecture.md has the table's start marker");
    let end = doc
        .find("<!-- /architecture -->")
        .expect("docs/architecture.md has the table's end marker");
    let names = |cell: &str| -> Vec<String> {
        cell.split(',')
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut table = BTreeMap::new();
    for row in doc[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').collect();
        let module = names(cells[1]).pop().expect("a module name");
        table.insert(module, names(cells[2]).into_iter().collect());
    }
    table
}

/// The crate-level modules a line of source names through `crate::`, comments left out
/// (`crate::{a, b}` groups included).
fn crate_paths(line: &str) -> Vec<String> {
    // A comment starts at the first `//` that is not part of a URL's `://`.
    let cut = line
        .match_indices("//")
        .map(|(i, _)| i)
        .find(|&i| !line[..i].ends_with(':'));
    let code = &line[..cut.unwrap_or(line.len())];
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        // `invoice_hub_crate::` or `some_crate::` are not this crate.
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            out.extend(inner.split(',').map(|p| ident(p.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::` path of module `m` that the table does not allow, as "file:line: what".
fn breaches(src: &Path, m: &str, may: &BTreeSet<String>, known: &BTreeSet<String>) -> Vec<String> {
    let mut files = Vec::new();
    if src.join(format!("{m}.rs")).is_file() {
        files.push(src.join(format!("{m}.rs")));
    }
    if src.join(m).is_dir() {
        rust_files(&src.join(m), &mut files);
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for used in crate_paths(line) {
                if used != m && known.contains(&used) && !may.contains(&used) {
                    out.push(format!(
                        "{}:{}: `{m}` uses `{used}`, which docs/architecture.md does not allow",
                        f.strip_prefix(src.parent().unwrap()).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_what_the_table_allows() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = allowed(&std::fs::read_to_string(repo.join("docs/architecture.md")).unwrap());
    let src = repo.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_suffix(';'))
        .filter_map(|l| l.rsplit_once("mod ").map(|(_, m)| m.to_string()))
        .collect();
    let known: BTreeSet<String> = table.keys().cloned().collect();
    assert_eq!(
        declared, known,
        "src/lib.rs's modules and docs/architecture.md's table must name the same modules"
    );
    let mut all = Vec::new();
    for (m, may) in &table {
        all.extend(breaches(&src, m, may, &known));
    }
    assert!(
        all.is_empty(),
        "imports across forbidden boundaries:\n{}",
        all.join("\n")
    );
}

#[test]
fn the_reader_finds_grouped_paths_and_ignores_comments_and_other_crates() {
    assert_eq!(crate_paths("use crate::audit::log;"), ["audit"]);
    assert_eq!(
        crate_paths("use crate::{claim::X, validate};"),
        ["claim", "validate"]
    );
    assert!(crate_paths("// see crate::hub for why").is_empty());
    assert_eq!(
        crate_paths("let u = \"https://x\"; crate::tls::provider(); // crate::hub"),
        ["tls"]
    );
    assert!(crate_paths("some_crate::audit").is_empty());
}
