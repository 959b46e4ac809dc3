//! What a scan of a repository's work tree adds around the per-file pipeline and the model
//! assembly: the refusal of a configuration linked out of the repository (before it is read),
//! and after the assembly a Threatspec project's `imports` and TM049. `threatmark scan` (and
//! every command that scans the work tree) and the editor servers' workspace call the same
//! functions, so the model and the diagnostics an editor or an agent sees are the ones `scan`
//! writes.

use std::path::Path;

use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};

use super::ScanResult;

/// A configuration file that is a symbolic link out of the scan root: see
/// [`refuse_linked_config`].
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is a symbolic link to {real}, outside the scan root; refusing to read it (pass `--config {real}` to use it anyway)"
)]
pub(crate) struct LinkedConfig {
    path: String,
    real: String,
}

/// The configuration comes from the repository. A `threatmark.toml` (or `threatspec.yaml`) that
/// is a symbolic link to a file outside the scan root would be read, and a line of it echoed in
/// the parse error: `threatmark.toml -> ~/.aws/credentials` printed a key into CI logs. Such a
/// link is refused; a link inside the repository (a shared configuration) is fine, and so is
/// any file given with `--config` (the caller does not ask then).
pub(crate) fn refuse_linked_config(root: &Path) -> Result<(), LinkedConfig> {
    let Ok(root_real) = std::fs::canonicalize(root) else {
        return Ok(()); // The scan reports an unreadable root itself.
    };
    for name in [
        crate::config::FILE_NAME,
        crate::import::threatspec::CONFIG_FILE,
        crate::import::guardlink::CONFIG_FILE,
    ] {
        let path = root.join(name);
        let linked = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if !linked {
            continue;
        }
        match std::fs::canonicalize(&path) {
            Ok(real) if real.starts_with(&root_real) => {}
            // A dangling link is not read (`Config::load` wants a file).
            Err(_) => {}
            Ok(real) => {
                return Err(LinkedConfig {
                    path: crate::render::escape::printable(&path.display().to_string()),
                    real: crate::render::escape::printable(&real.display().to_string()),
                });
            }
        }
    }
    Ok(())
}

/// Whether [`finish`] merges a Threatspec project's `imports`. `check` and `diff` compare the
/// work tree with revisions, whose scans merge none, so they leave them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Imports {
    Merge,
    Leave,
}

/// Complete the assembled result of the work tree at `root`: merge a Threatspec project's
/// `imports` (other projects' models; an import that cannot be read is an error, as in
/// `scan`), and add TM049 when `threatmark.toml` hides a `threatspec.yaml` (unless the
/// configuration was given explicitly). `loaded` is the root's `threatspec.yaml` as the
/// configuration was just loaded from it, if it was (see [`names_imports`]).
pub(crate) fn finish(
    root: &Path,
    explicit_config: Option<&Path>,
    config: &Config,
    result: &mut ScanResult,
    imports: Imports,
    loaded: Option<&str>,
) -> anyhow::Result<()> {
    // Only a project that names imports pays for a copy of its model (and on a failed
    // import the result keeps the model it had).
    if imports == Imports::Merge && names_imports(root, config, loaded) {
        result.model = crate::import::threatspec::with_imports(
            root,
            result.model.clone(),
            &config.risk,
            config.scan.max_file_size,
        )?;
    }
    if explicit_config.is_none()
        && let Some(shadowed) = shadowed_threatspec(root)
    {
        result.diagnostics.push(shadowed);
        crate::diagnostic::normalize(&mut result.diagnostics);
    }
    Ok(())
}

/// Does the root's `threatspec.yaml` (read as the project's configuration: no
/// `threatmark.toml` beside it) mention `imports`? The cheap test `with_imports` starts with;
/// the workspace rebuilds such a project on every refresh, since an imported model can change
/// without a walked file changing. `loaded`: the file's text as the configuration was just
/// loaded from it, tested instead of reading the file again (a `threatspec.yaml` that lists
/// every file is a few hundred kilobytes); one over `[scan] max_file_size` is still read, to
/// fail as before.
pub(crate) fn names_imports(root: &Path, config: &Config, loaded: Option<&str>) -> bool {
    if let Some(text) = loaded.filter(|t| t.len() as u64 <= config.scan.max_file_size) {
        return text.contains("imports");
    }
    let file = root.join(crate::import::threatspec::CONFIG_FILE);
    if root.join(crate::config::FILE_NAME).is_file() || !file.is_file() {
        return false;
    }
    let rules = crate::input::Rules {
        confine: Some(root),
        limit: config.scan.max_file_size,
        setting: "[scan] max_file_size",
    };
    // Unreadable: `with_imports` reads it again and says why.
    crate::input::read_string(&file, &rules).map_or(true, |t| t.contains("imports"))
}

/// TM049 when `threatmark.toml` hides a `threatspec.yaml` beside it, with the TOML that
/// carries its settings over: adding a `threatmark.toml` (for `[diagnostics]`, say) must not
/// silently change what a Threatspec project's scan reads.
fn shadowed_threatspec(root: &Path) -> Option<Diagnostic> {
    let name = crate::import::threatspec::CONFIG_FILE;
    let yaml = root.join(name);
    if !root.join(crate::config::FILE_NAME).is_file() || !yaml.is_file() {
        return None;
    }
    let rules = crate::input::Rules {
        confine: Some(root),
        limit: 1024 * 1024,
        setting: "the threatspec.yaml size limit (1 MiB)",
    };
    let carried = crate::input::read_string(&yaml, &rules)
        .ok()
        .and_then(|text| Config::from_threatspec(&text, &yaml, root).ok());
    let help = match carried {
        Some(ts) => {
            let list = |items: &[String]| {
                let quoted: Vec<String> = items
                    .iter()
                    .map(|i| serde_json::to_string(i).unwrap_or_default())
                    .collect();
                format!("[{}]", quoted.join(", "))
            };
            format!(
                "to keep its settings, put them in threatmark.toml: `[scan] include = {}`, `exclude = {}`, `[model] strict_ids = {}`; or pass `--config {name}`",
                list(&ts.scan.include),
                list(&ts.scan.exclude),
                ts.model.strict_ids
            )
        }
        None => format!(
            "it does not read as a Threatspec configuration either; pass `--config {name}` to see why"
        ),
    };
    Some(
        Diagnostic::new(
            Code::ShadowedThreatspecConfig,
            format!("`{name}` is not read: `threatmark.toml` takes precedence"),
        )
        .in_file(name)
        .help(help),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text the configuration was loaded from is tested, not the file read again; a text
    /// over `[scan] max_file_size` still reads the file (to fail as before), as does no text.
    #[test]
    fn names_imports_tests_the_loaded_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(
            root.join(crate::import::threatspec::CONFIG_FILE),
            "paths:\n  - src\n",
        )
        .expect("write");
        let config = Config::default();
        let loaded = "paths:\n  - src\nimports:\n  - ../other\n";
        assert!(names_imports(root, &config, Some(loaded)));
        assert!(!names_imports(root, &config, Some("paths:\n  - src\n")));
        assert!(!names_imports(root, &config, None));
        let mut small = Config::default();
        small.scan.max_file_size = 4;
        assert!(
            names_imports(root, &small, Some("paths: []\n")),
            "the file is over the limit: read, and refused, as before"
        );
    }
}
