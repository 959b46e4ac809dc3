//! The work-tree scan cache (`source::scan_cache`): a scan that reuses it gives what a scan
//! without it gives, byte for byte, whatever changed in between; it is rebuilt when damaged; it
//! never lands in the scanned folder.
//!
//! Files are only cached once their times are two seconds old (the racy-entry rule), so each
//! test waits that long once before the scan that writes the cache.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

mod support;
use support::{cached, git_cmd, tm, write};

struct Run {
    stdout: String,
    stderr: String,
}

/// `threatmark scan --format json ROOT -q` with the user cache folder in `cache`.
fn scan(root: &Path, cache: &Path, with_cache: bool) -> Run {
    let mut cmd = tm();
    // The harness turns the cache off; the folder is this test's either way.
    cmd.env("XDG_CACHE_HOME", cache)
        .args(["scan", "--format", "json", "-q", "-j", "2"])
        .arg(root);
    if with_cache {
        cached(&mut cmd, cache);
    }
    let out = cmd.output().expect("threatmark runs");
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A cached scan and a scan without the cache agree (but for the notice that a damaged cache
/// was ignored).
fn same_as_uncached(root: &Path, cache: &Path, what: &str) {
    let (with, without) = (scan(root, cache, true), scan(root, cache, false));
    assert_eq!(with.stdout, without.stdout, "model after {what}");
    let notices = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("threatmark: ignoring the scan cache"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        notices(&with.stderr),
        notices(&without.stderr),
        "diagnostics after {what}"
    );
}

/// A folder to scan and a user cache folder, both removed at the end of the test.
fn folders() -> (tempfile::TempDir, tempfile::TempDir) {
    (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    )
}

/// The scan caches in the user cache folder.
fn caches(cache: &Path) -> Vec<std::path::PathBuf> {
    stored(cache, "scan-")
}

/// The files in the user cache folder whose names start with `prefix`.
fn stored(cache: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    fs::read_dir(cache.join("threatmark"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).expect("meta").ino()
}

/// Until files are two seconds old they are not cached.
fn settle() {
    std::thread::sleep(Duration::from_millis(2200));
}

/// Two larger files that hold nothing, whose names are not UTF-8 and come out as one path,
/// share one key, which the cache keeps for neither: a warm scan that recalled both entries
/// counted two the cache cannot hold, and wrote it again on every run.
#[cfg(target_os = "linux")]
#[test]
fn names_that_collide_as_text_do_not_rewrite_the_cache_on_every_warm_scan() {
    use std::os::unix::ffi::OsStrExt;
    let (root, cache) = folders();
    let r = root.path();
    write(r, "a/t.py", "# @threat T (#t)\n");
    write(r, "a/s.py", "x = 1\n");
    for (name, n) in [(&b"a/n\xff.py"[..], 1), (&b"a/n\xfe.py"[..], 2)] {
        let text = "x = 1  # nothing here\n".repeat(40) + &format!("y = {n}\n");
        fs::write(r.join(std::ffi::OsStr::from_bytes(name)), text).expect("write");
    }
    settle();
    scan(r, cache.path(), true);
    scan(r, cache.path(), true);
    let [file] = &caches(cache.path())[..] else {
        panic!("one scan cache")
    };
    let settled = inode(file);
    for run in 3..=4 {
        scan(r, cache.path(), true);
        // After each run: a rewrite may take the inode the one before it freed.
        assert_eq!(inode(file), settled, "warm scan {run} rewrote the cache");
    }
    same_as_uncached(r, cache.path(), "names that collide as text");
}

// @tests #racy_rule for #parse_cache
// @tests #checksummed_cache for #parse_cache
#[test]
fn a_cached_scan_equals_a_full_scan_after_every_kind_of_change() {
    let (dir, cache) = folders();
    let root = dir.path();
    write(root, "threatmark.toml", "[project]\nname = \"cached\"\n");
    write(
        root,
        "src/api.py",
        "# @component Api (#api)\n# @threat Injection (#sqli) [likelihood: possible]\n# @exposes #api to #sqli with raw SQL\n",
    );
    write(root, "src/plain.rs", "fn main() {}\n");
    write(
        root,
        "src/bad.py",
        "# @mitigates #api against #nope with #nothing\n",
    );
    write(root, "src/blob.rs", "\0\0binary @threat");
    for i in 0..20 {
        write(root, &format!("lib/m{i}.go"), "package lib\n");
    }
    settle();
    let first = scan(root, cache.path(), true);
    // The scan after the first keeps the folders' listings (the first run keeps the `ignore`
    // crate's walk): the cache is rewritten once more.
    let listed = scan(root, cache.path(), true);
    assert_eq!(listed.stdout, first.stdout);
    let saved = caches(cache.path());
    assert_eq!(saved.len(), 1, "one cache for the folder: {saved:?}");
    let (written, ino) = (modified(&saved[0]), inode(&saved[0]));

    // Nothing changed: every file comes from the cache, which is not written again (a rewrite
    // is a new file, renamed into place), only marked as used for the pruning.
    std::thread::sleep(Duration::from_millis(20));
    let second = scan(root, cache.path(), true);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(second.stderr, first.stderr);
    assert_eq!(inode(&saved[0]), ino, "an unchanged scan rewrote the cache");
    assert!(
        modified(&saved[0]) > written,
        "an unchanged scan did not mark the cache used"
    );
    same_as_uncached(root, cache.path(), "no change");

    // An edit of the same size, with the modification time put back: the change time moved.
    let api = root.join("src/api.py");
    let mtime = modified(&api);
    let text = fs::read_to_string(&api).expect("read");
    fs::write(&api, text.replace("possible", "probable")).expect("write");
    fs::File::options()
        .write(true)
        .open(&api)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    assert_eq!(fs::metadata(&api).expect("meta").len() as usize, text.len());
    let edited = scan(root, cache.path(), true);
    assert_ne!(edited.stdout, first.stdout, "the edit was not seen");
    same_as_uncached(root, cache.path(), "a same-size edit with the old mtime");

    // New, deleted and renamed files, a file that becomes binary, and new settings.
    write(root, "src/new.py", "# @threat New (#new)\n");
    fs::remove_file(root.join("src/bad.py")).expect("rm");
    fs::rename(root.join("lib/m3.go"), root.join("lib/moved.go")).expect("mv");
    write(
        root,
        "lib/m4.go",
        "// @threat Now annotated (#m4)\npackage lib\n",
    );
    write(root, "src/plain.rs", "\0fn main() {}\n");
    same_as_uncached(root, cache.path(), "added, removed and renamed files");
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"cached\"\n\n[scan]\nexclude = [\"lib/**\"]\n",
    );
    same_as_uncached(root, cache.path(), "a new configuration");
    settle();
    same_as_uncached(root, cache.path(), "the changes settling");

    // A damaged cache (and memo) is rebuilt, and the scan is the same.
    for path in stored(cache.path(), "") {
        let mut bytes = fs::read(&path).expect("read");
        for at in [bytes.len() / 2, bytes.len() - 2] {
            bytes[at] ^= 0x40;
        }
        fs::write(&path, bytes).expect("write");
    }
    same_as_uncached(root, cache.path(), "damage to the cache");

    // Nothing but the model may ever be written into the scanned folder.
    let mut names: Vec<String> = fs::read_dir(root)
        .expect("root")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["lib", "src", "threatmark.toml"]);
}

/// A Threatspec project's `mime` extensions come from the files under its paths: its settings
/// are reused from the cache only while those folders are unchanged.
#[test]
fn threatspec_settings_are_reused_only_while_their_folders_hold() {
    let (dir, cache) = folders();
    let root = dir.path();
    write(
        root,
        "threatspec.yaml",
        "project:\n  name: \"ts\"\n  description: \"d\"\npaths:\n  - path: 'tpl'\n    mime: 'text/x-c'\n  - 'src/app.py'\n  - path: 'src/x.go'\n    mime: 'text/x-go'\n",
    );
    write(root, "tpl/page.tpl", "// @threat Template (#tpl)\n");
    write(root, "src/app.py", "# @threat App (#app)\n");
    write(root, "src/x.go", "// @threat Go (#go)\n");
    settle();
    same_as_uncached(root, cache.path(), "the first scan");
    same_as_uncached(root, cache.path(), "no change");

    // A new unknown extension under the mime path: `.tmpl` files are now read as C.
    write(root, "tpl/more.tmpl", "// @threat More (#more)\n");
    let run = scan(root, cache.path(), true);
    assert!(run.stdout.contains("\"id\": \"more\""), "{}", run.stdout);
    same_as_uncached(root, cache.path(), "a new extension under a mime path");

    // And a new threatspec.yaml.
    write(
        root,
        "threatspec.yaml",
        "project:\n  name: \"ts2\"\n  description: \"\"\npaths:\n  - 'src'\n",
    );
    same_as_uncached(root, cache.path(), "a new threatspec.yaml");
}

/// A `mime` path named like a source file is taken for a file and left to the walk to type;
/// when it is a folder, the unknown extensions under it are mapped all the same (the scan is
/// run again with them), with and without the cache.
#[test]
fn a_mime_folder_named_like_a_file_maps_what_it_holds() {
    let (dir, cache) = folders();
    let root = dir.path();
    write(
        root,
        "threatspec.yaml",
        "project:\n  name: \"ts\"\npaths:\n  - path: 'src/app.py'\n    mime: 'text/x-python'\n  - path: 'src/views.py'\n    mime: 'text/x-c'\n  - path: 'lib/x.go'\n    mime: 'text/x-go'\n",
    );
    write(root, "src/app.py", "# @threat App (#app)\n");
    write(root, "src/views.py/page.tpl2", "// @threat Page (#page)\n");
    write(root, "lib/x.go", "// @threat Go (#go)\n");
    let run = scan(root, cache.path(), false);
    assert!(run.stdout.contains("\"id\": \"page\""), "{}", run.stdout);
    assert!(run.stdout.contains("\"id\": \"go\""), "{}", run.stdout);
    settle();
    same_as_uncached(root, cache.path(), "the first scan");
    same_as_uncached(root, cache.path(), "no change");
    // The folders' listings are kept now; a comment in threatspec.yaml makes the next scan
    // type its paths again, from the kept listings (the own walker), not from a fresh one.
    same_as_uncached(root, cache.path(), "listings kept");
    let yaml = fs::read_to_string(root.join("threatspec.yaml")).expect("read");
    write(root, "threatspec.yaml", format!("{yaml}# a comment\n"));
    settle();
    same_as_uncached(root, cache.path(), "a comment in threatspec.yaml");
    // The folder named like a file becomes a file.
    fs::remove_dir_all(root.join("src/views.py")).expect("rm");
    write(root, "src/views.py", "# @threat Views (#views)\n");
    settle();
    same_as_uncached(root, cache.path(), "the folder became a file");
    write(
        root,
        "threatspec.yaml",
        format!("{yaml}# another comment\n"),
    );
    settle();
    same_as_uncached(root, cache.path(), "another comment");
}

/// In a git work tree the cache is in the git folder, not in the user's cache folder.
#[test]
fn in_a_repository_the_cache_is_in_the_git_folder() {
    let (dir, cache) = folders();
    let root = dir.path();
    fs::create_dir_all(root.join(".git")).expect("mkdir");
    write(root, "src/a.py", "# @threat A (#a)\n");
    scan(&root.join("src"), cache.path(), true);
    assert!(caches(cache.path()).is_empty());
    let in_git: Vec<_> = fs::read_dir(root.join(".git/threatmark"))
        .expect("cache folder")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("scan-"))
        .collect();
    assert_eq!(in_git.len(), 1);
}

/// A `.git` folder that another user owns (planted above a scanned folder, as `/tmp/.git` for a
/// scan of `/tmp/x`) neither holds nor gives the cache: the user cache folder is used instead.
/// Needs root to give the folder away; skipped otherwise.
// @tests #cache_owner for #parse_cache
#[test]
fn a_git_folder_of_another_user_is_not_trusted() {
    let (dir, cache) = folders();
    let root = dir.path();
    fs::create_dir_all(root.join(".git")).expect("mkdir");
    if std::os::unix::fs::chown(root.join(".git"), Some(65534), Some(65534)).is_err() {
        eprintln!("skipped: not allowed to give a folder to another user");
        return;
    }
    write(root, "src/a.py", "# @threat A (#a)\n");
    scan(&root.join("src"), cache.path(), true);
    assert!(!root.join(".git/threatmark").exists());
    assert_eq!(caches(cache.path()).len(), 1);
}

/// `threatmark scan -q` of `root` with `threads`, the cache on; its stderr bytes.
fn diagnostics_with(root: &Path, cache: &Path, threads: &str) -> Vec<u8> {
    let out = cached(&mut tm(), cache)
        .args(["scan", "--format", "json", "-q", "-j", threads])
        .arg(root)
        .output()
        .expect("threatmark runs");
    out.stderr
}

// @tests #cached_diagnostics for #parse_cache
/// Per-file diagnostics keep their snippet, caret and label when their file comes from the
/// cache: a second scan prints the first one's diagnostics byte for byte, whatever the thread
/// count (parse errors, attribute errors, TM029, binary and encoding warnings, model-level
/// diagnostics).
#[test]
fn a_cached_scan_prints_the_same_diagnostics_byte_for_byte() {
    let (dir, cache) = folders();
    let root = dir.path();
    write(
        root,
        "src/api.py",
        "# @component Api (#api)\n# @threat Injection (#sqli) [impact: hgih; stride: X]\n# @mitigates #api against #sqli\n# @threat\n# @mitigtes #api against #sqli with #c\n# @exposes #api to #nope\n# @component Red (#red) in #nowhere\n# @control Guard (#g) [owner: ]\n",
    );
    write(root, "src/inv.rs", "// @threat T\u{200B}wo (#two)\n");
    write(
        root,
        "src/attr.go",
        "// @threat Bad [likelihood: likely; bogus]\n",
    );
    write(root, "src/blob.rs", "\0\0binary @threat");
    fs::create_dir_all(root.join("src")).expect("mkdir");
    fs::write(root.join("src/latin.py"), b"# @threat Caf\xe9 (#cafe)\n").expect("write");
    settle();
    let first = diagnostics_with(root, cache.path(), "2");
    let text = String::from_utf8_lossy(&first).into_owned();
    for code in [
        "TM001", "TM002", "TM003", "TM005", "TM006", "TM007", "TM020", "TM021", "TM029", "TM036",
    ] {
        assert!(text.contains(&format!("[{code}]")), "no {code} in:\n{text}");
    }
    assert!(text.contains("^"), "no caret in the first scan:\n{text}");
    assert_eq!(
        caches(cache.path()).len(),
        1,
        "the first scan wrote a cache"
    );
    for threads in ["2", "1", "4"] {
        let again = diagnostics_with(root, cache.path(), threads);
        assert_eq!(
            String::from_utf8_lossy(&again),
            text,
            "a cached scan with {threads} threads printed other diagnostics"
        );
    }
}

/// The harness never lets a test write the developer's cache: a run that turns the cache on
/// without a folder of its own writes it in the harness's folder, not under `$HOME`.
#[test]
fn the_harness_keeps_the_cache_out_of_home() {
    let (dir, home) = folders();
    let root = dir.path();
    write(root, "threatmark.toml", "[project]\nname = \"home\"\n");
    write(root, "src/a.py", "# @threat A (#a)\n");
    settle();
    let out = tm()
        .env("HOME", home.path())
        .env_remove("THREATMARK_NO_CACHE")
        .args(["scan", "--format", "json", "-q"])
        .arg(root)
        .output()
        .expect("threatmark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !home.path().join(".cache").exists(),
        "the run wrote under $HOME"
    );
    assert!(!caches(&support::cache_home()).is_empty());
}

/// The cache grows with what files contribute, not with how many there are: a file that holds
/// nothing is kept as a 16-byte fingerprint of its path and stat (issue 20: a million files
/// made a 159 MB cache), and a same-size edit of such a file, with its modification time put
/// back, is still seen.
// @tests #racy_rule for #parse_cache
#[test]
fn plain_files_cost_a_fingerprint_in_the_cache() {
    let (dir, cache) = folders();
    let root = dir.path();
    let body = format!("package lib\n\n// {}\n", "x".repeat(600));
    for i in 0..1000 {
        write(
            root,
            &format!("lib/d{}/plain_file_number_{i}.go", i / 100),
            &body,
        );
    }
    write(
        root,
        "src/api.py",
        "# @component Api (#api)\n# @threat T (#t)\n",
    );
    settle();
    let first = scan(root, cache.path(), true);
    let saved = caches(cache.path());
    assert_eq!(saved.len(), 1, "{saved:?}");
    let size = fs::metadata(&saved[0]).expect("cache").len();
    // 1,000 entries of 16 bytes, each name in its folder's listing (front-coded: 3 bytes and
    // what differs from the name before, 6 or 7 here), the annotated file's record, the header
    // and the index.
    assert!(
        size < 1000 * (16 + 10) + 4096,
        "a cache of {size} bytes for 1,000 files that hold nothing"
    );
    same_as_uncached(root, cache.path(), "no change");

    // A plain file gains an annotation without changing its size or its modification time.
    let edited = root.join("lib/d3/plain_file_number_345.go");
    let mtime = modified(&edited);
    let annotated = body.replacen(
        &format!("// {}", "x".repeat(24)),
        "// @threat Hidden (#hidden)",
        1,
    );
    assert_eq!(annotated.len(), body.len());
    fs::write(&edited, &annotated).expect("write");
    fs::File::options()
        .write(true)
        .open(&edited)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    let run = scan(root, cache.path(), true);
    assert!(
        run.stdout.contains("\"id\": \"hidden\""),
        "the edit was not seen"
    );
    assert_ne!(run.stdout, first.stdout);
    same_as_uncached(root, cache.path(), "a same-size edit of a plain file");
}

/// A small deterministic generator (xorshift64*), so a failing sequence can be replayed from
/// its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())].clone())
    }
}

/// Every file and folder below `root`, relative, links not followed, sorted.
fn listing(root: &Path) -> (Vec<String>, Vec<String>) {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("below root")
                .to_string_lossy()
                .into_owned();
            // Git's own folder is git's to edit.
            if rel == ".git" || rel.starts_with(".git/") {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(rel);
                stack.push(path);
            } else if kind.is_file() && rel != "threatmark.toml" {
                files.push(rel);
            }
        }
    }
    files.sort();
    dirs.sort();
    (files, dirs)
}

/// Text of `len` bytes: an annotation when `annotated` and it fits, else a plain comment.
fn text_of(len: usize, annotated: bool, n: u64) -> String {
    let note = format!("# @threat Edit {n} (#e{n})");
    let body = if annotated && note.len() < len {
        note
    } else {
        "#".to_string()
    };
    let mut text = body;
    while text.len() + 1 < len {
        text.push('x');
    }
    text.push('\n');
    text.truncate(len.max(1));
    text
}

/// One random edit of the tree; returns what it did.
fn random_edit(root: &Path, rng: &mut Rng, n: u64) -> String {
    let (files, dirs) = listing(root);
    let mut folders = dirs.clone();
    folders.push(String::new());
    let folder = rng.pick(&folders).unwrap_or_default();
    let at = |name: &str| match folder.as_str() {
        "" => name.to_string(),
        f => format!("{f}/{name}"),
    };
    match rng.below(20) {
        0 => {
            let rel = at(&format!("new{n}.py"));
            write(root, &rel, format!("x = {n}\n"));
            format!("created plain {rel}")
        }
        1 => {
            let rel = at(&format!("note{n}.py"));
            write(root, &rel, format!("# @threat New {n} (#n{n})\n"));
            format!("created annotated {rel}")
        }
        2 => match rng.pick(&files) {
            Some(rel) => {
                let _ = fs::remove_file(root.join(&rel));
                format!("deleted {rel}")
            }
            None => "nothing to delete".into(),
        },
        3 => match rng.pick(&files) {
            Some(rel) => {
                let to = at(&format!("moved{n}.py"));
                let _ = fs::rename(root.join(&rel), root.join(&to));
                format!("renamed {rel} to {to}")
            }
            None => "nothing to rename".into(),
        },
        4..=6 => match rng.pick(&files) {
            // Same size, the modification time put back (`touch -r` to the old time).
            Some(rel) => {
                let path = root.join(&rel);
                let len = fs::metadata(&path).map(|m| m.len() as usize).unwrap_or(1);
                let mtime = modified(&path);
                let annotated = rng.below(2) == 0;
                let _ = fs::write(&path, text_of(len, annotated, n));
                let _ = fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(mtime));
                format!("same-size edit of {rel} (annotated: {annotated}), old mtime")
            }
            None => "nothing to edit".into(),
        },
        7 => {
            let rel = at(".gitignore");
            match rng.below(3) {
                0 => {
                    let _ = fs::remove_file(root.join(&rel));
                    format!("deleted {rel}")
                }
                1 => {
                    let target = rng
                        .pick(&files)
                        .and_then(|f| f.rsplit('/').next().map(str::to_string))
                        .unwrap_or_else(|| "*.go".into());
                    write(root, &rel, format!("{target}\n"));
                    format!("{rel} ignores {target}")
                }
                _ => {
                    write(root, &rel, "*.rb\n!keep*.py\n");
                    format!("{rel} ignores *.rb")
                }
            }
        }
        8 => {
            let rel = at(&format!("d{n}"));
            for i in 0..3 {
                write(root, &format!("{rel}/f{i}.py"), format!("y = {i}\n"));
            }
            format!("created folder {rel}")
        }
        9 => match rng.pick(&dirs) {
            Some(dir) => {
                let _ = fs::remove_dir_all(root.join(&dir));
                format!("deleted folder {dir}")
            }
            None => "no folder to delete".into(),
        },
        10 => match rng.pick(&dirs) {
            Some(dir) => {
                let to = format!("r{n}");
                let _ = fs::rename(root.join(&dir), root.join(&to));
                format!("renamed folder {dir} to {to}")
            }
            None => "no folder to rename".into(),
        },
        11 => match (rng.pick(&dirs), rng.pick(&dirs)) {
            (Some(dir), Some(other)) if !other.starts_with(&dir) => {
                let _ = fs::remove_dir_all(root.join(&dir));
                let _ = std::os::unix::fs::symlink(root.join(&other), root.join(&dir));
                format!("replaced folder {dir} by a link to {other}")
            }
            _ => "no folder to replace".into(),
        },
        12 => match rng.pick(&files) {
            Some(rel) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = if rng.below(2) == 0 { 0o000 } else { 0o644 };
                let _ = fs::set_permissions(root.join(&rel), fs::Permissions::from_mode(mode));
                format!("chmod {mode:o} {rel}")
            }
            None => "nothing to chmod".into(),
        },
        14 => {
            // An ignore file edited in place, same size, its modification time put back: no
            // folder time moves, so only its own stat tells (what the listing cache keeps).
            let ignores: Vec<String> = files
                .iter()
                .filter(|f| f.ends_with(".gitignore") || f.ends_with(".threatmarkignore"))
                .cloned()
                .collect();
            match rng.pick(&ignores) {
                Some(rel) => {
                    let path = root.join(&rel);
                    let len = fs::metadata(&path).map(|m| m.len() as usize).unwrap_or(0);
                    let mtime = modified(&path);
                    let pattern = *["*.py", "*.rb", "f1*", "!*", "p*/", "*/"]
                        .get(rng.below(6))
                        .unwrap_or(&"*");
                    let mut text = format!("{pattern}\n");
                    if text.len() + 2 <= len {
                        text.push('#');
                        while text.len() + 1 < len {
                            text.push('x');
                        }
                        text.push('\n');
                    }
                    let _ = fs::write(&path, &text);
                    let _ = fs::File::options()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(mtime));
                    format!(
                        "{rel} now ignores {pattern} (size {len} -> {}), old mtime",
                        text.len()
                    )
                }
                None => "no ignore file to edit".into(),
            }
        }
        15 => match rng.pick(&dirs) {
            // A folder that cannot be listed (but can be written into), or can again.
            Some(dir) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = if rng.below(2) == 0 { 0o311 } else { 0o755 };
                let _ = fs::set_permissions(root.join(&dir), fs::Permissions::from_mode(mode));
                format!("chmod {mode:o} folder {dir}")
            }
            None => "no folder to chmod".into(),
        },
        16 => match rng.pick(&dirs) {
            Some(dir) => {
                let _ = fs::remove_dir_all(root.join(&dir));
                let _ = fs::write(root.join(&dir), format!("# @threat F{n} (#f{n})\n"));
                format!("replaced folder {dir} by a file")
            }
            None => "no folder to replace".into(),
        },
        17 => {
            let rel = at(".threatmarkignore");
            let pattern = *["f1*.py", "!*.rb", "sub/", "*.py\n!f2.py"]
                .get(rng.below(4))
                .unwrap_or(&"x");
            write(root, &rel, format!("{pattern}\n"));
            format!("{rel} ignores {pattern:?}")
        }
        18 | 19 => match rng.pick(&files) {
            // Tracked files pass `.gitignore`: the index decides, and no folder time moves.
            Some(rel) => {
                let git = |args: &[&str]| git_cmd(root).args(args).output();
                if !root.join(".git").exists() {
                    let _ = git(&["init", "-q"]);
                }
                let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
                write(root, ".gitignore", format!("{name}\n*.rb\n"));
                if rng.below(2) == 0 {
                    let _ = git(&["add", "-f", "--", &rel]);
                    format!("git add -f {rel}, ignored by name")
                } else {
                    let _ = git(&["rm", "-q", "--cached", "--", &rel]);
                    format!("git rm --cached {rel}, ignored by name")
                }
            }
            None => "nothing to track".into(),
        },
        _ => match rng.pick(&files) {
            // Replaced by another file of the same size and name (a new inode).
            Some(rel) => {
                let path = root.join(&rel);
                let len = fs::metadata(&path).map(|m| m.len() as usize).unwrap_or(1);
                let _ = fs::remove_file(&path);
                let _ = fs::write(&path, text_of(len, true, n));
                format!("replaced {rel} by a file of the same size")
            }
            None => "nothing to replace".into(),
        },
    }
}

/// Random sequences of edits between cached scans (created, deleted and renamed files and
/// folders, same-size edits with the old modification time, edits in the same second as the
/// scan that wrote the cache, ignore files created, edited and deleted, folders replaced by
/// links, permission changes): every cached scan equals a scan without the cache. Many small
/// files that contribute nothing, so the folders' fingerprints (which spare reading them) are
/// what is tested. And folder-level edits, for the listing cache (which spares listing folders
/// whose stat is unchanged): ignore files edited in place with their old times, folders made
/// unreadable and readable again, folders replaced by files, `.threatmarkignore` files, a git
/// index that starts or stops tracking an ignored file. `THREATMARK_TEST_SEED` replays one
/// seed.
// @tests #racy_rule for #parse_cache
// @tests #folder_fingerprint for #parse_cache
#[test]
fn random_edits_between_cached_scans_are_always_seen() {
    let seeds: Vec<u64> = match std::env::var("THREATMARK_TEST_SEED") {
        Ok(s) => vec![s.parse().expect("a number")],
        Err(_) => vec![0x5eed_0001, 0x5eed_0002, 0x5eed_0003],
    };
    for seed in seeds {
        let (dir, cache) = folders();
        let root = dir.path();
        write(root, "threatmark.toml", "[project]\nname = \"random\"\n");
        for d in 0..4 {
            for i in 0..12 {
                let rel = format!("p{d}/f{i}.py");
                match i {
                    0 => write(root, &rel, format!("# @threat T{d} (#t{d})\n")),
                    1 => write(root, &rel, format!("# {}\n", "z".repeat(700))),
                    _ => write(root, &rel, format!("v = {i}\n")),
                }
            }
            write(root, &format!("p{d}/sub/g.rb"), "# plain\n");
        }
        let mut rng = Rng(seed);
        settle();
        same_as_uncached(
            root,
            cache.path(),
            &format!("seed {seed:#x}: the first scan"),
        );
        let mut done = Vec::new();
        for round in 0..8u64 {
            for k in 0..1 + rng.below(3) as u64 {
                done.push(random_edit(root, &mut rng, round * 10 + k));
            }
            // Right after the edits (within the racy window), then once they settled.
            same_as_uncached(root, cache.path(), &format!("seed {seed:#x}: {done:?}"));
            settle();
            same_as_uncached(
                root,
                cache.path(),
                &format!("seed {seed:#x}: {done:?}, settled"),
            );
        }
        // Folders made unreadable would outlive the test (each pass opens one more level).
        for _ in 0..8 {
            let (_, dirs) = listing(root);
            for d in dirs {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(root.join(d), fs::Permissions::from_mode(0o755));
            }
        }
    }
}

/// A warm walk keeps folder descriptors for the folders waiting to be listed, within a share of
/// the process's limit: a deep tree whose every level leaves a folder waiting, scanned warm
/// under a low `ulimit -n`, reads every file (no "Too many open files") and gives the cold
/// scan's model and diagnostics.
#[cfg(target_os = "linux")]
#[test]
fn a_warm_walk_of_a_deep_tree_stays_within_the_descriptor_limit() {
    let (dir, cache) = folders();
    let root = dir.path();
    let tree = |edit: &str| {
        let mut level = String::new();
        for depth in 0..40 {
            for i in 0..10 {
                let text = match i {
                    0 => format!("# @threat Deep {depth}{edit} (#deep{depth})\n"),
                    _ => format!("x = {i}{edit}\n"),
                };
                write(root, &format!("{level}f{i}.py"), text);
            }
            for leaf in ["a", "c"] {
                write(root, &format!("{level}{leaf}/g.py"), "y = 1\n");
            }
            level.push_str("b/");
        }
    };
    tree("");
    settle();
    // The first scan writes the cache, the second the listings.
    scan(root, cache.path(), true);
    scan(root, cache.path(), true);
    // Every file changes, none of the folders: the listings hold, and every file is read.
    tree("0");
    let cold = scan(root, cache.path(), false);
    let mut cmd = std::process::Command::new("sh");
    support::isolate(&mut cmd);
    let out = cmd
        .env_remove("THREATMARK_NO_CACHE")
        .env("XDG_CACHE_HOME", cache.path())
        .args(["-c", "ulimit -n 32 && exec \"$0\" \"$@\""])
        .arg(support::BIN)
        // One thread: every level's first folder waits while the chain below it is walked.
        .args(["scan", "--format", "json", "-q", "-j", "1"])
        .arg(root)
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warm scan failed: {stderr}");
    assert!(
        stderr == cold.stderr,
        "diagnostics of the warm scan: {}",
        stderr.chars().take(600).collect::<String>()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        cold.stdout,
        "model of the warm scan"
    );
}

/// One `threatmark scan` of `root` with the cache in `cache` (`None`: no cache) and the phase
/// timings on: its outputs, whether it answered from the memo of the last scan, and the model
/// file it wrote (`-o`), if any.
struct Recalled {
    code: i32,
    stdout: Vec<u8>,
    /// Without the timings, and with the summary's seconds blanked (they are a clock's).
    stderr: String,
    model: Option<Vec<u8>>,
    recalled: bool,
    /// Recalled with the diagnostics as the memo's scan rendered them.
    rendering_recalled: bool,
}

fn scan_recalling(root: &Path, cache: Option<&Path>, args: &[&str], model: &Path) -> Recalled {
    let _ = fs::remove_file(model);
    let mut cmd = tm();
    cmd.env("THREATMARK_TIMINGS", "1").args(args);
    if !args.contains(&"--format") {
        cmd.arg("-o").arg(model);
    }
    if let Some(cache) = cache {
        cached(&mut cmd, cache);
    }
    let out = cmd.arg(root).output().expect("threatmark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let recalled = stderr.contains("ms  memo recalled");
    let rendering_recalled = stderr.contains("ms  memo recalled, with its rendering");
    let stderr = stderr
        .lines()
        .filter(|l| !l.starts_with("threatmark timings:"))
        .map(|l| match (l.starts_with("threatmark: "), l.rfind(" in ")) {
            (true, Some(at)) if l.ends_with('s') => format!("{} in _s", &l[..at]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    Recalled {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
        model: fs::read(model).ok(),
        recalled,
        rendering_recalled,
    }
}

/// A scan with the cache equals one without (model, stdout, stderr but the clock, exit code);
/// whether it answered from the memo is returned.
fn recalled_as_uncached(root: &Path, cache: &Path, args: &[&str], what: &str) -> bool {
    as_uncached(root, cache, args, what).recalled
}

/// [`recalled_as_uncached`], with what the cached scan did.
fn as_uncached(root: &Path, cache: &Path, args: &[&str], what: &str) -> Recalled {
    let out = tempfile::tempdir().expect("dir");
    let model = out.path().join("m.json");
    let with = scan_recalling(root, Some(cache), args, &model);
    let without = scan_recalling(root, None, args, &model);
    assert!(!without.recalled, "{what}: recalled without a cache");
    assert_eq!(with.code, without.code, "{what}: exit code");
    assert_eq!(
        String::from_utf8_lossy(&with.stdout),
        String::from_utf8_lossy(&without.stdout),
        "{what}: stdout"
    );
    assert_eq!(with.stderr, without.stderr, "{what}: stderr");
    assert_eq!(with.model, without.model, "{what}: model file");
    with
}

/// A tree with errors, warnings, snippets, a binary file and suppressions (by the
/// configuration and by a comment), settled.
fn diagnosed_tree(root: &Path) {
    write(
        root,
        "threatmark.toml",
        "[project]\nname = \"memo\"\n\n[scan]\nexclude = [\"threatspec.yaml\"]\n\n[diagnostics]\nper-file-ignores = { \"src/quiet/**\" = [\"TM036\"] }\n",
    );
    // Hidden by threatmark.toml (TM049, whose help quotes its paths), and not walked.
    write(root, "threatspec.yaml", "paths:\n  - 'src'\n");
    write(
        root,
        "src/api.py",
        "# @component Api (#api)\n# @threat Injection (#sqli) [impact: hgih; stride: X]\n# @mitigates #api against #sqli\n# @threat\n# @exposes #api to #nope\n# @accepts #sqli to #api with fine for now [expires: 2001-01-01]\n",
    );
    write(
        root,
        "src/quiet/q.py",
        "# @exposes #api to #hushed\n# threatmark: ignore[TM036]\n# @exposes #api to #also_hushed\n",
    );
    write(root, "src/inv.rs", "// @threat T\u{200B}wo (#two)\n");
    write(root, "src/blob.rs", "\0\0binary @threat");
    for i in 0..30 {
        write(root, &format!("lib/m{i}.go"), "package lib\n");
    }
    settle();
}

/// The scan's memo: once every file comes from the cache, a scan of an unchanged tree answers
/// from the memo of the last one, and writes and prints what a scan without any cache does,
/// in every diagnostic format, with and without colour, `--strict`, `-q`, the model to a file
/// or to stdout.
#[cfg(unix)]
#[test]
fn a_recalled_scan_writes_and_prints_what_a_scan_does() {
    let (dir, cache) = folders();
    let root = dir.path();
    diagnosed_tree(root);
    // The first scan writes the cache, the second (every file from it) the memo.
    let model = cache.path().join("m.json");
    for _ in 0..2 {
        assert!(!scan_recalling(root, Some(cache.path()), &["scan"], &model).recalled);
    }
    assert_eq!(stored(cache.path(), "memo-").len(), 1, "one memo");
    let mut recalled = 0;
    for format in ["full", "concise", "json", "github", "sarif"] {
        for color in ["never", "always"] {
            for extra in [
                &[][..],
                &["--strict"],
                &["-q"],
                &["--format", "json", "-j", "1"],
            ] {
                let mut args = vec!["--color", color, "scan", "--output-format", format];
                args.extend_from_slice(extra);
                let what = format!("{args:?}");
                recalled += usize::from(recalled_as_uncached(root, cache.path(), &args, &what));
            }
        }
    }
    assert_eq!(
        recalled, 40,
        "every scan of the unchanged tree was recalled"
    );
    let strict = scan_recalling(root, Some(cache.path()), &["scan", "--strict"], &model);
    assert!(strict.recalled && strict.code == 1, "errors fail --strict");
}

/// A memo keeps the diagnostics as the scan that wrote it rendered them: a recall in the same
/// format and colour prints that text, one in any other renders the diagnostics afresh, and
/// each prints and writes what a scan without a cache does.
#[cfg(unix)]
#[test]
fn a_memo_prints_its_stored_rendering_only_in_its_own_format_and_colour() {
    let (dir, cache) = folders();
    let root = dir.path();
    diagnosed_tree(root);
    let model = cache.path().join("m.json");
    assert!(!scan_recalling(root, Some(cache.path()), &["scan"], &model).recalled);
    let args =
        |[format, color]: [&'static str; 2]| ["--color", color, "scan", "--output-format", format];
    let renderings = ["full", "concise", "json", "github", "sarif"]
        .into_iter()
        .flat_map(|format| ["never", "always"].map(|color| [format, color]));
    for written in renderings.clone() {
        for memo in stored(cache.path(), "memo-") {
            fs::remove_file(memo).expect("remove the memo");
        }
        let writer = scan_recalling(root, Some(cache.path()), &args(written), &model);
        assert!(!writer.recalled, "{written:?} writes the memo");
        for read in renderings.clone() {
            let what = format!("a memo written with {written:?}, read with {read:?}");
            let reader = as_uncached(root, cache.path(), &args(read), &what);
            assert!(reader.recalled, "{what}: recalled");
            assert_eq!(reader.rendering_recalled, read == written, "{what}");
        }
    }
}

/// A memo keeps the model file as its scan left it, settled: a recall that finds it so reads
/// and writes no model, and one that finds it edited (to the same size, its modification
/// time put back), replaced or removed since writes it again, as a scan without a cache does.
#[cfg(unix)]
#[test]
fn a_recalled_scan_rewrites_a_model_file_changed_since_its_memo() {
    let (dir, cache) = folders();
    let root = dir.path().join("tree");
    diagnosed_tree(&root);
    let model = dir.path().join("m.json");
    let expected = dir.path().join("expected.json");
    let out = tm()
        .env("THREATMARK_NO_CACHE", "1")
        .args(["scan", "-q", "-o"])
        .arg(&expected)
        .arg(&root)
        .output()
        .expect("threatmark runs");
    assert!(out.status.success());
    let expected = fs::read(&expected).expect("the model");
    // Whether the scan was recalled, and whether it left the model file as it was.
    let scan = || {
        let mut cmd = tm();
        cmd.env("THREATMARK_TIMINGS", "1")
            .args(["scan", "-q", "-o"]);
        cached(&mut cmd, cache.path());
        let out = cmd
            .arg(&model)
            .arg(&root)
            .output()
            .expect("threatmark runs");
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(fs::read(&model).ok().as_ref(), Some(&expected), "{stderr}");
        (
            stderr.contains("ms  memo recalled"),
            stderr.contains("ms  model file unchanged"),
        )
    };
    // A memo written anew while the model file is settled, then recalled without the model.
    let primed = || {
        for memo in stored(cache.path(), "memo-") {
            fs::remove_file(memo).expect("remove the memo");
        }
        settle();
        assert_eq!(scan(), (false, false), "the memo is written");
        assert_eq!(scan(), (true, true), "the model file is as the memo says");
    };
    assert_eq!(scan(), (false, false), "the cache is written");
    primed();

    let mtime = modified(&model);
    let mut edited = fs::read(&model).expect("read");
    let at = edited.len() / 2;
    edited[at] = if edited[at] == b' ' { b'\t' } else { b' ' };
    fs::write(&model, &edited).expect("write");
    fs::File::options()
        .write(true)
        .open(&model)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    assert_eq!(
        scan(),
        (true, false),
        "edited to the same size, the time put back"
    );

    primed();
    let other = dir.path().join("other.json");
    fs::write(&other, &edited).expect("write");
    fs::rename(&other, &model).expect("rename");
    assert_eq!(scan(), (true, false), "replaced");

    primed();
    fs::remove_file(&model).expect("remove");
    assert_eq!(scan(), (true, false), "removed");
    assert_eq!(scan(), (true, false), "written since, not settled");
}

/// Each input of the memo changed alone makes the next scan compute its results (the same as
/// a scan without a cache), and the memo is used again once that state has its own: a file
/// edited to the same size with its modification time put back (once settled, the walk finds
/// it in the cache with its new stat), a root configuration file the walk does not see (a
/// `threatspec.yaml` that `threatmark.toml` hides and excludes: TM049 quotes it), the
/// configuration given with `--config` (outside the tree) edited, `--config` itself, and a
/// damaged memo. The same folder reached through a link scans as it does.
#[cfg(unix)]
#[test]
fn each_input_of_the_memo_changed_alone_is_a_miss() {
    let (dir, cache) = folders();
    let root = dir.path().join("tree");
    diagnosed_tree(&root);
    let hit = |args: &[&str], what: &str| recalled_as_uncached(&root, cache.path(), args, what);
    let prime = |args: &[&str], what: &str| {
        let mut n = 0;
        while !hit(args, what) {
            n += 1;
            assert!(n < 4, "{what}: never recalled");
        }
    };
    prime(&["scan"], "unchanged");

    // A same-size edit, the modification time put back.
    let api = root.join("src/api.py");
    let mtime = modified(&api);
    let text = fs::read_to_string(&api).expect("read");
    fs::write(&api, text.replace("hgih", "high")).expect("write");
    fs::File::options()
        .write(true)
        .open(&api)
        .and_then(|f| f.set_modified(mtime))
        .expect("set mtime");
    assert!(!hit(&["scan"], "a same-size edit"));
    settle();
    prime(&["scan"], "the edit settled");

    // A root configuration file that is not walked.
    write(&root, "threatspec.yaml", "paths:\n  - 'lib'\n");
    assert!(!hit(&["scan"], "threatspec.yaml edited"));
    prime(&["scan"], "threatspec.yaml edited");

    // A configuration outside the tree, edited (threatspec.yaml is walked with it: settled).
    settle();
    let outside = dir.path().join("outside.toml");
    fs::write(&outside, "[project]\nname = \"one\"\n").expect("write");
    let config = outside.to_str().expect("utf-8");
    assert!(!hit(&["scan", "--config", config], "--config given"));
    prime(&["scan", "--config", config], "--config");
    fs::write(&outside, "[project]\nname = \"two\"\n").expect("write");
    assert!(!hit(&["scan", "--config", config], "--config edited"));
    prime(&["scan", "--config", config], "--config edited");
    assert!(!hit(&["scan"], "--config left out"));

    // The same folder through a link: its cache, another project name.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&root, &link).expect("symlink");
    recalled_as_uncached(&link, cache.path(), &["scan"], "through a link");
    prime(&["scan"], "the root again");

    // A damaged memo: a miss, and rewritten.
    for path in stored(cache.path(), "memo-") {
        let mut bytes = fs::read(&path).expect("read");
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        fs::write(&path, bytes).expect("write");
    }
    assert!(!hit(&["scan"], "a damaged memo"));
    assert!(hit(&["scan"], "the memo rewritten"));
}

/// A recalled scan still saves the scan cache when the walk recorded something anew: a file
/// that no language reads, added to a folder, changes no outcome (the memo answers) but the
/// folder's listing, which every later scan would list again if only the memo were used.
#[cfg(unix)]
#[test]
fn a_recalled_scan_keeps_the_scan_cache_current() {
    let (dir, cache) = folders();
    let root = dir.path();
    diagnosed_tree(root);
    let model = cache.path().join("m.json");
    let mut n = 0;
    while !scan_recalling(root, Some(cache.path()), &["scan"], &model).recalled {
        n += 1;
        assert!(n < 4, "never recalled");
    }
    let saved = || {
        let scan = caches(cache.path());
        assert_eq!(scan.len(), 1, "one scan cache");
        fs::read(&scan[0]).expect("read the scan cache")
    };
    let before = saved();
    write(root, "lib/img.png", "not source");
    settle();
    let after = scan_recalling(root, Some(cache.path()), &["scan"], &model);
    assert!(after.recalled, "a file no language reads changes no result");
    assert_ne!(saved(), before, "the new listing is saved");
    assert!(recalled_as_uncached(
        root,
        cache.path(),
        &["scan"],
        "after the save"
    ));
}

/// Whether a scan of `root` with the cache in `cache` started saving the cache before it built
/// the model (the order of its timing marks), and that it saved one.
fn saved_before_the_build(root: &Path, cache: &Path) -> bool {
    let mut cmd = tm();
    cmd.env("THREATMARK_TIMINGS", "1")
        .args(["scan", "-q", "--format", "json"]);
    cached(&mut cmd, cache);
    let out = cmd.arg(root).output().expect("threatmark runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let at = |mark: &str| {
        stderr
            .lines()
            .position(|l| l.starts_with("threatmark timings:") && l.ends_with(mark))
    };
    let saved = at("ms  scan cache saved").expect("the cache is saved");
    saved < at("ms  model built").expect("the model is built")
}

/// A first run (no cache of its configuration) starts writing the cache before it builds the
/// model, on the core the single-threaded build leaves idle: every outcome is its own. A run
/// that took outcomes from a cache starts it after the build, which decodes them: a damaged
/// record must not be written again.
#[test]
fn a_first_run_writes_the_cache_while_the_model_is_built() {
    let (dir, cache) = folders();
    let root = dir.path();
    write(root, "a.py", "# @threat Spoofing (#spoof)\n");
    write(root, "b.py", "x = 1\n".repeat(200));
    settle();
    assert!(saved_before_the_build(root, cache.path()), "the first run");
    assert_eq!(caches(cache.path()).len(), 1);
    write(root, "c.py", "# @threat Tampering (#tamper)\n");
    assert!(
        !saved_before_the_build(root, cache.path()),
        "a run with the cache"
    );
    same_as_uncached(root, cache.path(), "a first run and an edit");
}
