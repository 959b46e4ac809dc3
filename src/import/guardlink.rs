//! GuardLink projects, unchanged: which files a project with a `.guardlink/config.json` (and no
//! `threatmark.toml`) is made of. docs/migrating-from-guardlink.md is the user's side of this.
//!
//! GuardLink 2.0 records `include`/`exclude` globs in `config.json` at `init`, but its parser
//! never reads them: every caller of `parseProject` passes only the root and the project name,
//! so the files are always its built-in `DEFAULT_INCLUDE` minus `DEFAULT_EXCLUDE`
//! (src/parser/parse-project.ts), plus the sidecars under `.guardlink/annotations/`, which no
//! exclude drops. Reading those lists would make us differ from GuardLink both ways (a project's
//! `config.json` typically lists only `*.ts` while GuardLink also reads its `.py` files), so we
//! take the files GuardLink takes; the only key read is `project`, as GuardLink does.
//!
//! [`config_from`] is pure; the caller reads the file.
//!
//! @threat Files the project's own tool never reads fail the gate (#foreign_files) [stride: D; likelihood: likely; impact: minor]:
//! a GuardLink project's test fixtures redeclare ids and hold sample annotations; read as the model, they are false errors
//! @control GuardLink's file selection (#guardlink_files): a project with a `.guardlink/config.json` and no threatmark.toml is read from the files GuardLink reads
//! @mitigates #scanner against #foreign_files with #guardlink_files

use crate::config::Config;

/// GuardLink's configuration file, relative to the scan root.
pub const CONFIG_FILE: &str = ".guardlink/config.json";

/// GuardLink's `DEFAULT_INCLUDE`.
pub const INCLUDE: &[&str] = &[
    "**/*.ts",
    "**/*.tsx",
    "**/*.js",
    "**/*.jsx",
    "**/*.py",
    "**/*.rb",
    "**/*.go",
    "**/*.rs",
    "**/*.java",
    "**/*.kt",
    "**/*.scala",
    "**/*.c",
    "**/*.cpp",
    "**/*.cc",
    "**/*.h",
    "**/*.hpp",
    "**/*.cs",
    "**/*.swift",
    "**/*.dart",
    "**/*.sql",
    "**/*.lua",
    "**/*.hs",
    "**/*.tf",
    "**/*.hcl",
    "**/*.yaml",
    "**/*.yml",
    "**/*.sh",
    "**/*.bash",
    "**/*.html",
    "**/*.xml",
    "**/*.svg",
    "**/*.css",
    "**/*.ex",
    "**/*.exs",
    "**/*.[gG][aA][lL]",
];

/// GuardLink's `DEFAULT_EXCLUDE` (with the outputs it writes itself).
pub const EXCLUDE: &[&str] = &[
    "**/node_modules/**",
    "**/dist/**",
    "**/build/**",
    "**/.git/**",
    "**/__pycache__/**",
    "**/target/**",
    "**/vendor/**",
    "**/.next/**",
    "**/tests/**",
    "**/test/**",
    "**/__tests__/**",
    "**/.bravos/**",
    "**/.bugb/**",
    "**/threat-dashboard.html",
    "**/threat-model.md",
    "**/threat-model.json",
    "**/guardlink.sarif.json",
];

/// Sidecars GuardLink reads even under an excluded folder name (its GL-503 rescue): the
/// folders under `.guardlink/annotations/` and the `.gal` files in them.
pub const KEEP: &[&str] = &[
    ".guardlink/annotations/**/",
    ".guardlink/annotations/**/*.[gG][aA][lL]",
];

/// Extensions GuardLink reads that no language of ours claims, with the language whose comment
/// tokens are the ones GuardLink looks for in them (src/parser/comment-strip.ts).
pub const EXTENSIONS: &[(&str, &str)] = &[
    ("css", "groovy"),  // `/* */`
    ("dart", "groovy"), // `//`, `/* */`, `'''` strings
    ("ex", "graphql"),  // `#`, `"""` strings
    ("exs", "graphql"),
    ("hs", "sql"), // `--`
    ("svg", "html"),
];

/// The configuration a GuardLink project means, from its `config.json` text: GuardLink's file
/// selection, and its `project` name. A `config.json` that does not parse still means a
/// GuardLink project (GuardLink itself then only loses the name).
pub fn config_from(text: &str) -> Config {
    let mut config = Config::default();
    config.project.name = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("project")?.as_str().map(str::trim).map(String::from))
        .filter(|n| !n.is_empty());
    config.scan.include = INCLUDE.iter().map(|g| g.to_string()).collect();
    config.scan.exclude = EXCLUDE.iter().map(|g| g.to_string()).collect();
    config.scan.keep = KEEP.iter().map(|g| g.to_string()).collect();
    config.languages.extensions = EXTENSIONS
        .iter()
        .map(|(e, l)| (e.to_string(), l.to_string()))
        .collect();
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_read_and_the_lists_are_guardlinks() {
        let c = config_from(r#"{"project": " desk ", "include": ["**/*.ts"], "exclude": []}"#);
        assert_eq!(c.project.name.as_deref(), Some("desk"));
        assert!(c.scan.include.iter().any(|g| g == "**/*.py"));
        assert!(c.scan.exclude.iter().any(|g| g == "**/tests/**"));
        let broken = config_from("{ not json");
        assert_eq!(broken.project.name, None);
        assert_eq!(broken.scan.include.len(), INCLUDE.len());
    }

    #[test]
    fn mapped_extensions_are_unknown_to_us_and_map_to_known_languages() {
        for (ext, lang) in EXTENSIONS {
            assert!(crate::lang::by_name(lang).is_some(), "{lang}");
            assert!(
                crate::lang::detect(&format!("x.{ext}"), b"", |_| None).is_none(),
                "{ext} has a language of its own now: drop it here"
            );
        }
    }
}
