//! Embeds `public/` (the phone page) into the binary: writes a table of `include_bytes!` of
//! every file, so `cr-server` is one file that runs anywhere, in debug builds too.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, root, out);
        } else {
            let rel =
                path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
            out.push((rel, path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let public = manifest.join("../../public");
    let public = public.canonicalize().unwrap_or_else(|e| {
        panic!(
            "the phone page directory {} is missing ({e}); it is embedded into cr-server",
            public.display()
        )
    });
    println!("cargo:rerun-if-changed={}", public.display());
    let mut files = Vec::new();
    walk(&public, &public, &mut files);
    let mut code = String::from("/// Files of `public/`: path relative to it, and contents.\n");
    code.push_str("pub(crate) static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, path) in files {
        writeln!(code, "    ({rel:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("assets.rs");
    fs::write(out, code).expect("writing assets.rs");
}
