//! The line between the layers, enforced: nothing in the core (the engine, the sync step,
//! the futures and the stream, the errors) or in the instrumentation it calls names the
//! server or client layer above it. The layers import the core, never the other way.
//!
//! Nor does it reach the core through the crate root's re-exports (`crate::HandshakeError`):
//! the root re-exports the layers too, so an import through it is, on the module map, an
//! arrow into the root and from there up. The core names its own modules.
//!
//! Read from the source: every `crate::...` path outside comments, `use crate::{...}` groups
//! included. A failure names the file and the path.

use std::path::{Path, PathBuf};

/// The modules of the layers above the core (the crate root re-exports them under these
/// names; `server` and `client` are their folders).
const LAYERS: [&str; 13] = [
    "server",
    "choose",
    "client",
    "listener",
    "accept",
    "proxy",
    "certificates",
    "acme",
    "tickets",
    "storage",
    "https",
    "roots",
    "metrics",
];

/// The core's own modules: all a core file may name.
const CORE: [&str; 7] = [
    "engine", "io", "error", "step", "trace", "measure", "key_log",
];

/// The core, and what may name which layer (the metrics events name the metrics module's
/// labels: that is the one place the core's events meet them).
fn core_files() -> Vec<(PathBuf, &'static [&'static str])> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(PathBuf, &'static [&'static str])> = Vec::new();
    for dir in ["engine", "io", "error"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(src.join(dir))
            .expect("a core folder")
            .map(|entry| entry.expect("an entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "rs"))
            .collect();
        found.sort();
        files.extend(found.into_iter().map(|path| (path, &[][..])));
    }
    for file in ["step.rs", "trace.rs", "key_log.rs"] {
        files.push((src.join(file), &[]));
    }
    files.push((src.join("measure.rs"), &["metrics"]));
    // The metrics module's names and labels, which the core's events use.
    files.push((src.join("metrics.rs"), &[]));
    files
}

/// The first path segment of every `crate::` path in `code`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut level = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => level += 1,
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        let segment = item.trim().split("::").next().unwrap_or("").to_string();
                        // A trailing comma leaves nothing after it.
                        if !segment.is_empty() {
                            found.push(segment);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            let segment: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(segment);
        }
    }
    found
}

#[test]
fn the_core_names_no_layer_above_it() {
    let mut crossings = Vec::new();
    let files = core_files();
    assert!(
        files.len() > 20,
        "the core's files were found: {}",
        files.len()
    );
    for (path, allowed) in files {
        let text = std::fs::read_to_string(&path).expect("a source file");
        // Code only: comments (docs included) may mention the layers.
        let code: String = text
            .lines()
            .map(|line| match line.find("//") {
                Some(at) => &line[..at],
                None => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        for segment in crate_paths(&code) {
            let segment = segment.as_str();
            if LAYERS.contains(&segment) && !allowed.contains(&segment) {
                crossings.push(format!(
                    "{} names the layer `crate::{segment}`",
                    path.display()
                ));
            } else if !CORE.contains(&segment) && !allowed.contains(&segment) {
                crossings.push(format!(
                    "{} names `crate::{segment}`, through the root: name the core's own module",
                    path.display()
                ));
            }
        }
    }
    assert!(crossings.is_empty(), "{}", crossings.join("\n"));
}

#[test]
fn the_check_sees_a_crossing() {
    let found = crate_paths("use crate::{engine::Engine, listener::{ListenError, TlsListener}};\nlet x = crate::accept::Accept::new();");
    assert_eq!(found, ["engine", "listener", "accept"]);
    let found = crate_paths("use crate::{\n    error::HandshakeError,\n    HandshakeReport,\n};");
    assert_eq!(found, ["error", "HandshakeReport"]);
}

/// rustls' connection calls that move bytes: record I/O, plaintext in and out, close_notify,
/// early data. The engine (`src/engine/`) is the only code that makes them, so that moving to
/// another rustls API (0.24's caller-owned buffers, ARCHITECTURE.md's port plan) changes that
/// folder, not the stream, the step or the layers.
const DRIVING_RUSTLS: [&str; 8] = [
    ".reader()",
    ".writer()",
    ".read_tls(",
    ".write_tls(",
    ".process_new_packets(",
    ".send_close_notify(",
    ".early_data()",
    ".complete_io(",
];

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The calls from [`DRIVING_RUSTLS`] in `code`, comments left out.
fn driving_calls(code: &str) -> Vec<&'static str> {
    code.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .flat_map(|line| {
            DRIVING_RUSTLS
                .into_iter()
                .filter(|call| line.contains(call))
        })
        .collect()
}

#[test]
fn only_the_engine_drives_rustls_connection() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "the sources were found: {}", files.len());
    let engine = src.join("engine");
    let mut outside = Vec::new();
    for path in files.iter().filter(|path| !path.starts_with(&engine)) {
        let text = std::fs::read_to_string(path).expect("a source file");
        for call in driving_calls(&text) {
            outside.push(format!("{} calls rustls' `{call}`", path.display()));
        }
    }
    assert!(outside.is_empty(), "{}", outside.join("\n"));
}

#[test]
fn the_check_sees_a_call_outside_the_engine() {
    let code = "let n = conn.reader().read(buf)?; // conn.writer() in a comment\nconn.send_close_notify();";
    assert_eq!(driving_calls(code), [".reader()", ".send_close_notify("]);
}
