//! The IO shell of the Threatspec import: reads a project's committed output folder and the
//! annotated files it names (to make paths relative and find real lines), then calls the pure
//! [`convert`](super::convert).

use std::collections::BTreeMap;
use std::path::{Component as PathPart, Path, PathBuf};

use serde_json::Value;

use super::{
    CLI_RULES, CONFIG_FILE, Imported, OUTPUT_DIR, Outputs, convert, parse_config, relative_to_root,
};
use crate::model::Project;

/// The output folder of a project folder, or the folder itself when it holds the files.
pub fn output_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(OUTPUT_DIR);
    if nested.join("threatmodel.json").is_file() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// Read a Threatspec project's committed output: `DIR/threatmodel/*.json` or `DIR/*.json`.
/// Paths are made relative to the project folder (the parent of `threatmodel/`), and lines are
/// found again in the annotated files when they are there (Threatspec numbers lines within each
/// comment, so its `line` is usually 1); a line that cannot be found is 0.
pub fn load_dir(dir: &Path) -> anyhow::Result<Imported> {
    load_dir_with(dir, &CLI_RULES)
}

/// [`load_dir`], reading every file under `rules`.
pub fn load_dir_with(dir: &Path, rules: &crate::input::Rules<'_>) -> anyhow::Result<Imported> {
    use anyhow::Context;
    let out_dir = output_dir(dir);
    let read = |name: &str, required: bool| -> anyhow::Result<Option<Value>> {
        let p = out_dir.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            if required {
                anyhow::bail!("{} not found", p.display());
            }
            return Ok(None);
        }
        let text = crate::input::read_string(&p, rules)?;
        let v = serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        Ok(Some(v))
    };
    let outputs = Outputs {
        threatmodel: read("threatmodel.json", true)?.unwrap_or(Value::Null),
        threats: read("threats.json", false)?,
        controls: read("controls.json", false)?,
        components: read("components.json", false)?,
    };
    let project_root = if out_dir.file_name().is_some_and(|n| n == OUTPUT_DIR) {
        out_dir
            .parent()
            .map_or_else(|| dir.to_path_buf(), Path::to_path_buf)
    } else {
        out_dir.clone()
    };
    let project = project_of(&project_root, rules);
    let files = FileCache::new(&project_root, rules);
    let locate = |file: &str, annotation: &str, _line: u32| files.locate(file, annotation);
    let mut imported = convert(project, &outputs, &locate);
    if imported.model.component("").is_some() {
        imported
            .warnings
            .push("a record names an empty component id".into());
    }
    Ok(imported)
}

/// The project of a Threatspec folder: `project` of its threatspec.yaml, else the folder name.
fn project_of(root: &Path, rules: &crate::input::Rules<'_>) -> Project {
    let from_yaml = crate::input::read_string(&root.join(CONFIG_FILE), rules)
        .ok()
        .and_then(|t| parse_config(&t).ok())
        .filter(|c| !c.project.name.trim().is_empty());
    match from_yaml {
        Some(c) => Project {
            name: c.project.name.trim().to_string(),
            description: c.project.description.trim().to_string(),
        },
        None => Project {
            name: crate::source::fs::folder_name(root),
            description: String::new(),
        },
    }
}

/// The annotated files, read on demand, to make paths relative and find real lines.
struct FileCache<'a> {
    root: PathBuf,
    abs_root: PathBuf,
    rules: crate::input::Rules<'a>,
    texts: std::cell::RefCell<BTreeMap<String, Option<String>>>,
}

impl<'a> FileCache<'a> {
    fn new(root: &Path, rules: &crate::input::Rules<'a>) -> Self {
        Self {
            root: root.to_path_buf(),
            rules: *rules,
            abs_root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            texts: std::cell::RefCell::new(BTreeMap::new()),
        }
    }

    /// The repository path of a recorded file name: relative names as they are; absolute ones
    /// under the project folder relative to it; other absolute ones (recorded on another
    /// machine) by the longest tail that exists under the project folder, else as written.
    fn relative(&self, file: &str) -> String {
        let p = Path::new(file);
        if !p.is_absolute() {
            return relative_to_root(file, Path::new("")).unwrap_or_else(|| file.to_string());
        }
        if let Ok(rest) = p.strip_prefix(&self.abs_root) {
            return rest.to_string_lossy().replace('\\', "/");
        }
        let parts: Vec<String> = p
            .components()
            .filter_map(|c| match c {
                PathPart::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        for start in 0..parts.len() {
            let tail = parts[start..].join("/");
            if self.root.join(&tail).is_file() {
                return tail;
            }
        }
        file.to_string()
    }

    fn locate(&self, file: &str, annotation: &str) -> (String, u32, u32) {
        let rel = self.relative(file);
        let mut texts = self.texts.borrow_mut();
        let text = texts
            .entry(rel.clone())
            .or_insert_with(|| crate::input::read_string(&self.root.join(&rel), &self.rules).ok());
        let found = text.as_deref().and_then(|t| {
            if annotation.is_empty() {
                return None;
            }
            t.lines().enumerate().find_map(|(i, l)| {
                let at = l.find(annotation)?;
                let column = l[..at].chars().count() + 1;
                Some((u32::try_from(i + 1).ok()?, u32::try_from(column).ok()?))
            })
        });
        let (line, column) = found.unwrap_or((0, 0));
        (rel, line, column)
    }
}
