//! Replays every captured Claude Code `.raw` fixture through vt100 (the emulator `cr` uses) at
//! its recorded size and checks that the screen equals the `.txt` written by the capture.
//!
//! Usage: `cargo run --manifest-path tests/claude/replay/Cargo.toml [-- FIXTURE_DIR]`.
//! Ends with the plain `N passed, N failed` line and exits non-zero on any failure.

use std::fs;
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../crates/cli/tests/fixtures/claude")
    });
    let mut metas = Vec::new();
    collect(&root, &mut metas);
    metas.sort();
    let (mut passed, mut failed) = (0, 0);
    for meta in &metas {
        match check(meta) {
            Ok(()) => passed += 1,
            Err(why) => {
                failed += 1;
                println!("FAIL {}: {why}", meta.display());
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || metas.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Every `.json` that has a `.raw` beside it (hook payload files have none).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json")
            && path.with_extension("raw").exists()
        {
            out.push(path);
        }
    }
}

fn check(meta_path: &Path) -> Result<(), String> {
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(meta_path).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let size = |key: &str| {
        meta[key]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .and_then(NonZeroU16::new)
            .ok_or(format!("bad {key}"))
    };
    let (rows, cols) = (size("rows")?, size("cols")?);
    let raw = fs::read(meta_path.with_extension("raw")).map_err(|e| e.to_string())?;
    let want = fs::read_to_string(meta_path.with_extension("txt")).map_err(|e| e.to_string())?;
    let mut parser = vt100::Parser::new(rows, cols, 0);
    parser.process(&raw);
    let got: Vec<String> =
        parser.screen().rows(0, cols.get()).map(|r| r.trim_end_matches(' ').to_owned()).collect();
    let want: Vec<&str> = want.strip_suffix('\n').unwrap_or(&want).split('\n').collect();
    if got.len() != want.len() {
        return Err(format!("{} rows, want {}", got.len(), want.len()));
    }
    let diffs: Vec<String> = got
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|(_, (g, w))| g != *w)
        .map(|(i, (g, w))| format!("row {i}: want {w:?} got {g:?}"))
        .collect();
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.into_iter().take(3).collect::<Vec<_>>().join("; "))
    }
}
