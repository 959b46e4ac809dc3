//! `threatmark.toml`: what to scan, where to write, and the limits.
//!
//! Unknown keys are rejected with the key's name, because a misspelt `exclude` that silently does
//! nothing is worse than an error. `threatmark init` writes [`DEFAULT_TOML`], which documents
//! every key.
//!
//! This file is the schema and its validation, pure (text in, a `Config` or an error out), below
//! everything that reads; [`load`] finds and reads the file, with the `threatspec.yaml` and
//! GuardLink fallbacks, above the importers it needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Band;

pub mod load;

/// The file name looked up at the scan root.
pub const FILE_NAME: &str = "threatmark.toml";

/// What `threatmark init` writes: every key, commented, with its default.
pub const DEFAULT_TOML: &str = r#"# threatmark configuration. Every key is optional; the values shown are the defaults.

[project]
# Name and description of the model. Set the name: otherwise the folder name is used, and a
# checkout in a folder with another name would yield a different model file.
# name = "my-service"
# description = ""

[scan]
# Globs (gitignore syntax, relative to the scan root) of paths to scan; a folder name includes
# everything below it. Empty means everything.
# include = ["src/**", "deploy/**"]
# Globs of paths to leave out, on top of .gitignore and .threatmarkignore.
# exclude = ["vendor/**", "**/testdata/**"]
# Where `threatmark scan` writes the model, relative to the scan root.
# output = "threatmodel.json"
# Files larger than this many bytes are skipped with a warning (TM022).
# max_file_size = 10485760
# Tree-sitter stops parsing a file after this many milliseconds, or the work they usually buy
# (TM025); its comments are then found lexically.
# parse_timeout_ms = 5000
# Follow symbolic links (loops are detected and reported, TM024).
# follow_symlinks = false
# Walk hidden files and folders such as .github/ (.git/ is always skipped).
# hidden = true

[risk]
# The likelihood x impact matrix. scores[likelihood][impact], likelihood rare..certain (rows),
# impact negligible..severe (columns). Scores must not decrease along a row or a column.
# scores = [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10], [3, 6, 9, 12, 15], [4, 8, 12, 16, 20], [5, 10, 15, 20, 25]]
# Lowest score of each band: very-low, low, medium, high, critical.
# band_edges = [1, 3, 6, 12, 20]
# Display names of the five levels (annotations always use the standard words or 1-5).
# likelihood_labels = ["rare", "unlikely", "possible", "likely", "certain"]
# impact_labels = ["negligible", "minor", "moderate", "major", "severe"]

[check]
# Policies of `threatmark check` (each has a command-line flag too).
# Fail when the change adds an unmitigated exposure at or above this band; "none" disables.
# fail_on_new_unmitigated = "high"
# fail_on_errors = true       # dangling references and other error diagnostics
# fail_on_expired = true      # acceptances past their expiry date
# fail_on_unguarded = true    # boundary crossings that no control guards
# fail_on_stale = true        # the committed model differs from what the code yields

[model]
# Deepest hierarchy a model may have: `:` segments of a component name (`Shop:API:Checkout` is
# 3) and nesting levels of trust boundaries. Deeper names and nestings are cut with an error
# (TM030), so a hostile file cannot make the model quadratic. At most 1024.
# max_depth = 64
# A bare `#id` in a relation that nothing declares is created, named by its id, with a warning
# (TM036), as Threatspec does. One typo away from an existing id (`#prepraed` next to
# `#prepared`) it is an error instead (TM003) and its relation is left out; `false` creates it
# too. A project configured from threatspec.yaml reads ids as Threatspec does (false).
# strict_ids = true

[languages]
# Extra file extensions (without the dot) mapped to a language from `threatmark languages`,
# or to `text`: the whole file is annotation text, as `.txt` files are (Threatspec's design
# files: a line that starts with a tag is an annotation, the rest is prose).
# extensions = { tpl = "go", jenkins = "groovy", design = "text" }

[diagnostics]
# Which diagnostics scan and analyze print (codes, prefixes of codes such as "TM1", names such
# as "stride-gap", or "ALL"; the more specific entry wins). `threatmark check` lists what is
# hidden and decides on everything. Diagnostics that say part of the input was not read (TM022,
# TM023, ...) are always shown. A comment `threatmark: ignore[TM103] why` hides those codes on
# its own line and the line below it.
# select = ["ALL"]
# ignore = ["TM103", "TM106"]
# per-file-ignores = { "tests/**" = ["TM1"] }

[report]
# Link every source location in `threatmark report` and `threatmark site` to a web page.
# Placeholders: {rev} (the commit checked out, or --source-rev), {path} (from the repository
# root, URL-encoded) and {line}. Only http:// and https:// URLs are accepted.
# source_url = "https://github.com/ORG/REPO/blob/{rev}/{path}#L{line}"
# A folder, relative to the scan root, whose files override the built-in templates by file
# name (`threatmark templates export DIR` writes the built-ins as a starting point).
# templates = ".threatmark/templates"
"#;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path}: [languages] extensions: `{ext}` maps to unknown language `{lang}` (see `threatmark languages`)"
    )]
    UnknownLanguage {
        path: PathBuf,
        ext: String,
        lang: String,
    },
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub project: ProjectConfig,
    #[serde(default)]
    pub scan: ScanConfig,
    #[serde(default)]
    pub languages: LanguagesConfig,
    #[serde(default)]
    pub risk: crate::analysis::RiskMatrix,
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub report: ReportConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub diagnostics: DiagnosticsConfig,
    #[serde(default)]
    pub library: LibraryConfig,
    #[serde(default)]
    pub suggest: SuggestConfig,
}

/// `[library]`: rule files added to the builtin threat library (docs/library.md).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LibraryConfig {
    /// TOML rule files, relative to the repository and inside it.
    pub paths: Vec<String>,
}

/// `[suggest]`: suggestions of `threatmark suggest` that were considered and not followed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SuggestConfig {
    pub dismiss: Vec<crate::analysis::suggest::Dismissal>,
}

/// `[diagnostics]`: which diagnostics are shown (see `crate::suppress`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosticsConfig {
    /// Codes, prefixes of codes or names shown; empty means all.
    pub select: Vec<String>,
    /// Codes, prefixes or names hidden.
    pub ignore: Vec<String>,
    /// Glob (gitignore syntax, from the scan root) → codes hidden in the files it matches.
    #[serde(rename = "per-file-ignores")]
    pub per_file_ignores: BTreeMap<String, Vec<String>>,
}

impl DiagnosticsConfig {
    /// The compiled rules; `Err` names the key (checked when the configuration is parsed).
    pub fn rules(&self) -> Result<crate::suppress::Rules, String> {
        crate::suppress::Rules::new(&self.select, &self.ignore, &self.per_file_ignores)
    }
}

/// `[model]`: limits of the model build.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Deepest component hierarchy (`:` segments) and boundary nesting (TM030 beyond it).
    pub max_depth: usize,
    /// A bare `#id` in a relation one typo away from an existing id is an error (TM003), not a
    /// new entity (TM036). False in a project configured from `threatspec.yaml`.
    pub strict_ids: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        let limits = crate::model::Limits::default();
        Self {
            max_depth: limits.max_depth,
            strict_ids: limits.strict_ids,
        }
    }
}

impl ModelConfig {
    /// The limits the model build applies.
    pub fn limits(&self) -> crate::model::Limits {
        crate::model::Limits {
            max_depth: self.max_depth,
            strict_ids: self.strict_ids,
        }
    }
}

/// `[report]`: `threatmark report` and `threatmark site`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Link template for source locations: `https://.../{rev}/{path}#L{line}`.
    pub source_url: Option<String>,
    /// Template override folder, relative to the scan root (no `..`).
    pub templates: Option<String>,
}

/// `[check]`: the policies of `threatmark check`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    /// Fail when the change adds an unmitigated exposure at or above this risk band
    /// (`very-low` .. `critical`); `None` (written `none`) switches the policy off.
    #[serde(with = "threshold_serde")]
    pub fail_on_new_unmitigated: Option<Band>,
    /// Fail on error diagnostics (dangling references, malformed annotations).
    pub fail_on_errors: bool,
    /// Fail on expired acceptances.
    pub fail_on_expired: bool,
    /// Fail on boundary crossings that no control guards.
    pub fail_on_unguarded: bool,
    /// Fail when the committed model file differs from what the code yields.
    pub fail_on_stale: bool,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self {
            fail_on_new_unmitigated: Some(Band::High),
            fail_on_errors: true,
            fail_on_expired: true,
            fail_on_unguarded: true,
            fail_on_stale: true,
        }
    }
}

/// `none` or a band, as `fail_on_new_unmitigated` and `--fail-on` take it: `Some(None)` is
/// `none` (checked first: `none` is also an alias of `very-low` in a severity).
pub(crate) fn threshold(word: &str) -> Option<Option<Band>> {
    match word {
        "none" => Some(None),
        b => Band::parse(b).map(Some),
    }
}

/// `fail_on_new_unmitigated` in TOML: a band's word, or `none`.
mod threshold_serde {
    use super::Band;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &Option<Band>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.map_or("none", Band::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Band>, D::Error> {
        let word = String::deserialize(d)?;
        super::threshold(&word).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "[check] fail_on_new_unmitigated: `{word}` is not a band ({} | none)",
                Band::words()
            ))
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// The highest `[scan] max_file_size` a configuration may set.
pub const MAX_FILE_SIZE_LIMIT: u64 = 1 << 30;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub output: String,
    pub max_file_size: u64,
    pub parse_timeout_ms: u64,
    pub follow_symlinks: bool,
    pub hidden: bool,
    /// Globs that no `exclude` removes (GuardLink's sidecars under `.guardlink/annotations/`,
    /// see `import::guardlink`). Not a key of threatmark.toml.
    #[serde(skip)]
    pub keep: Vec<String>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            include: Vec::new(),
            exclude: Vec::new(),
            output: "threatmodel.json".into(),
            max_file_size: 10 * 1024 * 1024,
            parse_timeout_ms: 5000,
            follow_symlinks: false,
            hidden: true,
            keep: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LanguagesConfig {
    /// Extension (lower case, no dot) → language name.
    #[serde(default)]
    pub extensions: BTreeMap<String, String>,
}

impl Config {
    /// Parse and validate TOML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.risk.validate().map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // The repository sets it: a ceiling keeps a pull request from making every read
        // unbounded (`max_file_size = 18446744073709551615`).
        if config.scan.max_file_size > MAX_FILE_SIZE_LIMIT {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "[scan] max_file_size: {} is over the ceiling of {MAX_FILE_SIZE_LIMIT} bytes (1 GiB)",
                    config.scan.max_file_size
                ),
            });
        }
        let depth = config.model.max_depth;
        if !(1..=crate::model::MAX_DEPTH_LIMIT).contains(&depth) {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "[model] max_depth: {depth} is out of range (1 to {})",
                    crate::model::MAX_DEPTH_LIMIT
                ),
            });
        }
        if let Some(url) = &config.report.source_url
            && let Err(why) = crate::source_url::SourceUrl::parse(url)
        {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("[report] source_url: {why}"),
            });
        }
        if let Some(dir) = &config.report.templates {
            let p = Path::new(dir);
            let escapes = p.is_absolute()
                || dir.starts_with(['/', '\\'])
                || p.components().any(|c| {
                    !matches!(
                        c,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                });
            if escapes || dir.trim().is_empty() {
                return Err(ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: format!(
                        "[report] templates: `{dir}` must be a folder inside the scan root (relative, without `..`)"
                    ),
                });
            }
        }
        config
            .diagnostics
            .rules()
            .map_err(|message| ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            })?;
        let mut normalized = BTreeMap::new();
        for (ext, lang) in &config.languages.extensions {
            if crate::lang::by_name(lang).is_none() && lang != crate::lang::design_text::NAME {
                return Err(ConfigError::UnknownLanguage {
                    path: path.to_path_buf(),
                    ext: ext.clone(),
                    lang: lang.clone(),
                });
            }
            normalized.insert(
                ext.trim_start_matches('.').to_ascii_lowercase(),
                lang.clone(),
            );
        }
        config.languages.extensions = normalized;
        Ok(config)
    }

    /// The extension override for `ext`, if configured.
    pub fn language_for_extension(&self, ext: &str) -> Option<&str> {
        self.languages.extensions.get(ext).map(String::as_str)
    }
}

impl Config {
    /// What this configuration asks of `threatmark check`'s gate.
    pub(crate) fn policy(&self) -> crate::gate::Policy {
        let mut settings = BTreeMap::new();
        if let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(self) {
            for (section, table) in sections {
                if section == "project" {
                    continue;
                }
                match table {
                    serde_json::Value::Object(table) => {
                        for (key, value) in table {
                            settings.insert(format!("{section}.{key}"), shown(&value));
                        }
                    }
                    other => {
                        settings.insert(section, shown(&other));
                    }
                }
            }
        }
        crate::gate::Policy {
            fail_on_new_unmitigated: self.check.fail_on_new_unmitigated,
            fail_on_errors: self.check.fail_on_errors,
            fail_on_expired: self.check.fail_on_expired,
            fail_on_unguarded: self.check.fail_on_unguarded,
            fail_on_stale: self.check.fail_on_stale,
            risk: self.risk.clone(),
            output: self.scan.output.clone(),
            settings,
        }
    }
}

/// A setting's value as TOML readers write it: `"high"`, `true`, `[1, 3, 6]`.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(shown).collect();
            format!("[{}]", items.join(", "))
        }
        serde_json::Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", serde_json::Value::from(k.as_str()), shown(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_a_band_or_none() {
        let parse = |v: &str| {
            Config::parse(
                &format!("[check]\nfail_on_new_unmitigated = \"{v}\"\n"),
                Path::new("t.toml"),
            )
        };
        let band = |v: &str| parse(v).expect("parses").check.fail_on_new_unmitigated;
        assert_eq!(band("none"), None);
        assert_eq!(band("High"), Some(Band::High));
        assert_eq!(band("2"), Some(Band::Low));
        let err = parse("bogus").expect_err("not a band").to_string();
        assert!(err.contains("`bogus` is not a band"), "{err}");
        // Written back as the word (policy changes show it so).
        let off = parse("none").expect("parses");
        let json = serde_json::to_value(&off.check).expect("serialises");
        assert_eq!(json["fail_on_new_unmitigated"], "none");
    }

    fn parsed(toml: &str) -> Config {
        Config::parse(toml, Path::new("threatmark.toml")).expect("config")
    }

    #[test]
    fn every_changed_setting_is_listed_with_what_the_gate_does() {
        let base = parsed("[project]\nname = \"a\"\n");
        let head = parsed(
            "[project]\nname = \"b\"\n[check]\nfail_on_stale = false\n[model]\nmax_depth = 1024\n[scan]\noutput = \"m.json\"\n[report]\ntemplates = \"tpl\"\n",
        );
        let changes: Vec<(String, &str)> =
            crate::gate::policy_changes(&base.policy(), &head.policy())
                .into_iter()
                .map(|c| (c.key, c.effect))
                .collect();
        assert_eq!(
            changes,
            vec![
                (
                    "check.fail_on_stale".into(),
                    "the stricter of the two applies"
                ),
                (
                    "model.max_depth".into(),
                    "each side is scanned with its own"
                ),
                ("report.templates".into(), "the head's is used"),
                ("scan.output".into(), "the head's is checked for staleness"),
            ],
            "a renamed project is no policy change"
        );
        assert!(crate::gate::policy_changes(&base.policy(), &base.policy()).is_empty());
    }

    #[test]
    fn default_file_parses_to_defaults() {
        let c = Config::parse(DEFAULT_TOML, Path::new("t.toml")).expect("parses");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[scan]\nexclud = []\n", Path::new("t.toml"));
        assert!(err.is_err_and(|e| e.to_string().contains("exclud")));
    }

    #[test]
    fn report_section_is_validated() {
        let ok = Config::parse(
            "[report]\nsource_url = \"https://example.com/r/blob/{rev}/{path}#L{line}\"\ntemplates = \"docs/tpl\"\n",
            Path::new("t"),
        )
        .expect("valid");
        assert_eq!(ok.report.templates.as_deref(), Some("docs/tpl"));
        for bad in [
            "[report]\nsource_url = \"javascript:alert(1)\"\n",
            "[report]\nsource_url = \"https://x/{nope}\"\n",
            "[report]\ntemplates = \"../elsewhere\"\n",
            "[report]\ntemplates = \"/etc\"\n",
            "[report]\ntemplate = \"x\"\n",
        ] {
            assert!(Config::parse(bad, Path::new("t")).is_err(), "{bad}");
        }
    }

    #[test]
    fn model_depth_is_validated() {
        let c = Config::parse("[model]\nmax_depth = 8\n", Path::new("t")).expect("valid");
        assert_eq!(c.model.limits().max_depth, 8);
        assert_eq!(Config::default().model.max_depth, 64);
        for bad in [
            "[model]\nmax_depth = 0\n",
            "[model]\nmax_depth = 1025\n",
            "[model]\nmax_depth = -1\n",
            "[model]\nmax_depth = 18446744073709551616\n",
            "[model]\ndepth = 3\n",
            "[scan]\nmax_file_size = 1073741825\n",
            "[scan]\nmax_file_size = 18446744073709551615\n",
        ] {
            assert!(Config::parse(bad, Path::new("t")).is_err(), "{bad}");
        }
    }

    #[test]
    fn diagnostics_section_is_validated() {
        let c = Config::parse(
            "[diagnostics]\nselect = [\"TM1\", \"TM022\"]\nignore = [\"stride-gap\"]\nper-file-ignores = { \"tests/**\" = [\"TM103\"] }\n",
            Path::new("t"),
        )
        .expect("valid");
        let rules = c.diagnostics.rules().expect("compiles");
        assert!(!rules.shows(crate::diagnostic::Code::StrideGap, None));
        assert!(!rules.shows(crate::diagnostic::Code::MissingClause, None));
        assert!(
            Config::default()
                .diagnostics
                .rules()
                .expect("default")
                .is_default()
        );
        for (bad, key) in [
            (
                "[diagnostics]\nselect = [\"TM9\"]\n",
                "[diagnostics] select: `TM9`",
            ),
            (
                "[diagnostics]\nignore = [\"TM023\"]\n",
                "[diagnostics] ignore: TM023",
            ),
            (
                "[diagnostics]\nper-file-ignores = { \"a/**\" = [\"nope\"] }\n",
                "per-file-ignores `a/**`: `nope`",
            ),
            ("[diagnostics]\nignores = []\n", "ignores"),
        ] {
            let err = Config::parse(bad, Path::new("t"))
                .expect_err(bad)
                .to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_language_is_an_error() {
        let err = Config::parse(
            "[languages]\nextensions = { x = \"cobol\" }\n",
            Path::new("t"),
        );
        assert!(matches!(err, Err(ConfigError::UnknownLanguage { .. })));
    }
}
