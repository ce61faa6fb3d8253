//! Mermaid's own parser (npm `mermaid` under node with jsdom: scripts/mermaid, installed by
//! scripts/ensure-mermaid.sh) run on every Mermaid block of a job summary.

use std::path::Path;
use std::process::Command;

/// The ```mermaid blocks of `markdown`.
pub fn blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```mermaid\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(b, _)| b.to_string()))
        .collect()
}

/// Every block parses; returns how many there were, with their diagram types.
pub fn assert_parses(what: &str, markdown: &str) -> Vec<String> {
    let blocks = blocks(markdown);
    assert!(
        !blocks.is_empty(),
        "{what}: no Mermaid block in\n{markdown}"
    );
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let f = dir.path().join(format!("{i}.mmd"));
            std::fs::write(&f, b).unwrap();
            f
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mermaid/parse.mjs");
    let out = Command::new("node")
        .arg(&script)
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("node does not run ({e}): run scripts/ensure-mermaid.sh"));
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what}: Mermaid refused a chart (scripts/ensure-mermaid.sh installs the parser):\n{said}\n{markdown}"
    );
    said.lines()
        .filter_map(|l| l.rsplit(": ").next().map(String::from))
        .collect()
}
