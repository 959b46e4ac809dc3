//! Gives the binary a build identity for its caches (`.git/threatmark/`, the user cache): a hash
//! of everything that shapes what a file yields (the sources, the grammar queries and the locked
//! grammar crates). The package version alone stays the same across commits, so a parser fix
//! would otherwise hide behind outcomes cached by an older build.

use std::path::{Path, PathBuf};

fn main() {
    let mut files = Vec::new();
    for dir in ["src", "grammars"] {
        println!("cargo:rerun-if-changed={dir}");
        collect(Path::new(dir), &mut files);
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={file}");
        files.push(PathBuf::from(file));
    }
    files.sort();
    // FNV-1a: no dependency for a build script, and any change is all that must show.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for file in &files {
        // A missing file (no Cargo.lock in a published package) just adds nothing.
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        feed(file.to_string_lossy().as_bytes());
        feed(&[0xff]);
        feed(&bytes);
        feed(&[0xff]);
    }
    println!(
        "cargo:rustc-env=THREATMARK_BUILD_ID={}+{hash:016x}",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}
