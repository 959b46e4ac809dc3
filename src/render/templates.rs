//! The built-in handlebars templates (embedded with `include_str!`) and user overrides.
//!
//! A template's name is its file name without `.hbs` (`report.md.hbs` is `report.md`,
//! `links.hbs` the partial `links`); `style.css` and `site.js` keep their names. Every
//! template is also a partial. Users override any of them, or add partials, by putting a file
//! with the same name in a folder given with `--templates` (or `[report] templates`).
//!
//! Registries run in strict mode (a missing field is an error, not an empty string). HTML
//! registries use handlebars' HTML escaping; the Markdown registry escapes with
//! [`escape::markdown`], so `{{x}}` is safe in both and `{{{x}}}` is never needed for
//! repository text. In Markdown a link target is written `({{md-url x}})`: the escape puts
//! bare URLs in code spans so that repository prose never links anywhere.

use std::collections::BTreeMap;
use std::path::Path;

use handlebars::Handlebars;

use super::escape;

/// Every built-in template: (file name, text).
pub(crate) const BUILTINS: &[(&str, &str)] = &[
    (
        "badge-risk.hbs",
        include_str!("../../templates/badge-risk.hbs"),
    ),
    (
        "badge-status.hbs",
        include_str!("../../templates/badge-status.hbs"),
    ),
    (
        "findings-table.hbs",
        include_str!("../../templates/findings-table.hbs"),
    ),
    (
        "flow-table.hbs",
        include_str!("../../templates/flow-table.hbs"),
    ),
    ("heatmap.hbs", include_str!("../../templates/heatmap.hbs")),
    ("layout.hbs", include_str!("../../templates/layout.hbs")),
    ("links.hbs", include_str!("../../templates/links.hbs")),
    ("md-band.hbs", include_str!("../../templates/md-band.hbs")),
    ("md-links.hbs", include_str!("../../templates/md-links.hbs")),
    (
        "md-sources.hbs",
        include_str!("../../templates/md-sources.hbs"),
    ),
    ("outline.hbs", include_str!("../../templates/outline.hbs")),
    (
        "plan-table.hbs",
        include_str!("../../templates/plan-table.hbs"),
    ),
    (
        "relations-table.hbs",
        include_str!("../../templates/relations-table.hbs"),
    ),
    (
        "report.html.hbs",
        include_str!("../../templates/report.html.hbs"),
    ),
    (
        "report.md.hbs",
        include_str!("../../templates/report.md.hbs"),
    ),
    (
        "risk-bars.hbs",
        include_str!("../../templates/risk-bars.hbs"),
    ),
    (
        "site-boundaries.html.hbs",
        include_str!("../../templates/site-boundaries.html.hbs"),
    ),
    (
        "site-boundary.html.hbs",
        include_str!("../../templates/site-boundary.html.hbs"),
    ),
    (
        "site-component.html.hbs",
        include_str!("../../templates/site-component.html.hbs"),
    ),
    (
        "site-components.html.hbs",
        include_str!("../../templates/site-components.html.hbs"),
    ),
    (
        "site-control.html.hbs",
        include_str!("../../templates/site-control.html.hbs"),
    ),
    (
        "site-controls.html.hbs",
        include_str!("../../templates/site-controls.html.hbs"),
    ),
    (
        "site-findings.html.hbs",
        include_str!("../../templates/site-findings.html.hbs"),
    ),
    (
        "site-index.html.hbs",
        include_str!("../../templates/site-index.html.hbs"),
    ),
    (
        "site-plan.html.hbs",
        include_str!("../../templates/site-plan.html.hbs"),
    ),
    (
        "site-search.html.hbs",
        include_str!("../../templates/site-search.html.hbs"),
    ),
    (
        "site-threat.html.hbs",
        include_str!("../../templates/site-threat.html.hbs"),
    ),
    (
        "site-threats.html.hbs",
        include_str!("../../templates/site-threats.html.hbs"),
    ),
    (
        "site-timeline.html.hbs",
        include_str!("../../templates/site-timeline.html.hbs"),
    ),
    ("site.js", include_str!("../../templates/site.js")),
    (
        "sources-annotated.hbs",
        include_str!("../../templates/sources-annotated.hbs"),
    ),
    ("sources.hbs", include_str!("../../templates/sources.hbs")),
    ("stats.hbs", include_str!("../../templates/stats.hbs")),
    ("style.css", include_str!("../../templates/style.css")),
    (
        "threat-table.hbs",
        include_str!("../../templates/threat-table.hbs"),
    ),
];

/// Largest template file read from an override folder.
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// Why templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("cannot read templates from {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// A template file (or the folder) that may not be read: outside the repository, not a
    /// regular file, or too big.
    #[error("template folder: {0}")]
    Refused(#[from] crate::input::ReadError),
    #[error("template {file}: {message}")]
    Parse { file: String, message: String },
    #[error("rendering {template}: {message}")]
    Render { template: String, message: String },
}

/// How `{{x}}` escapes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escaping {
    Html,
    Markdown,
}

/// The template name of a file name.
pub(crate) fn name_of(file: &str) -> &str {
    file.strip_suffix(".hbs").unwrap_or(file)
}

/// A set of template files: the built-ins, possibly overlaid with a user's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateSet {
    files: BTreeMap<String, String>,
    /// Files that came from the override folder, sorted.
    pub overridden: Vec<String>,
}

impl Default for TemplateSet {
    fn default() -> Self {
        Self::builtin()
    }
}

impl TemplateSet {
    pub(crate) fn builtin() -> Self {
        Self {
            files: BUILTINS
                .iter()
                .map(|(f, t)| ((*f).to_string(), (*t).to_string()))
                .collect(),
            overridden: Vec::new(),
        }
    }

    /// Replace or add one file.
    pub(crate) fn set(&mut self, file: &str, text: impl Into<String>) {
        self.files.insert(file.to_string(), text.into());
        if !self.overridden.iter().any(|f| f == file) {
            self.overridden.push(file.to_string());
            self.overridden.sort();
        }
    }

    /// The built-ins overlaid with the `*.hbs`, `style.css` and `site.js` files of `dir`
    /// (not recursive; hidden files and other extensions are ignored). A template file that
    /// is not a regular file or is over 1 MiB is an error that names it.
    pub(crate) fn with_overrides(dir: &Path) -> Result<Self, TemplateError> {
        Self::load(dir, None)
    }

    /// [`Self::with_overrides`] for a folder named by the repository (`[report] templates`):
    /// the folder and each file must resolve inside `root`, so a template linked to
    /// `/proc/self/environ` or `~/.aws/credentials` is refused rather than published.
    pub(crate) fn with_overrides_in(dir: &Path, root: &Path) -> Result<Self, TemplateError> {
        Self::load(dir, Some(root))
    }

    fn load(dir: &Path, confine: Option<&Path>) -> Result<Self, TemplateError> {
        let read_err = |source| TemplateError::Read {
            path: escape::printable(&dir.display().to_string()),
            source,
        };
        let rules = crate::input::Rules {
            confine,
            limit: MAX_TEMPLATE_BYTES,
            setting: "templates are at most 1 MiB",
        };
        if let Some(root) = confine {
            crate::input::confined(dir, root)?;
        }
        let mut set = Self::builtin();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let wanted = name.ends_with(".hbs") || name == "style.css" || name == "site.js";
            let safe = !name.starts_with('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !wanted || !safe {
                continue;
            }
            // A link is followed only where it may lead (inside `root` for a repository's
            // folder); a FIFO, a device or a file over 1 MiB is refused by name.
            let text = crate::input::read_string(&entry.path(), &rules)?;
            set.set(&name, text);
        }
        Ok(set)
    }

    /// A strict-mode registry with every template registered under its name.
    pub(crate) fn registry(
        &self,
        escaping: Escaping,
    ) -> Result<Handlebars<'static>, TemplateError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        match escaping {
            Escaping::Html => {
                hb.register_escape_fn(handlebars::html_escape);
                hb.register_helper("code-text", Box::new(code_text_html));
            }
            Escaping::Markdown => {
                // `{{code-text text}}`: text whose paired backticks are code (a rule's
                // rationale), escaped around them.
                hb.register_helper("code-text", Box::new(code_text_md));
                hb.register_escape_fn(escape::markdown);
                // `{{md-url url}}`: a link target, which `escape::markdown` would put in a code
                // span (it neutralises bare URLs in prose).
                hb.register_helper("md-url", Box::new(md_url));
            }
        }
        for (file, text) in &self.files {
            hb.register_template_string(name_of(file), text)
                .map_err(|e| TemplateError::Parse {
                    file: file.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(hb)
    }
}

fn string_param(
    h: &handlebars::Helper<'_>,
    name: &'static str,
) -> Result<String, handlebars::RenderError> {
    let value = h
        .param(0)
        .ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
    Ok(match value.value() {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// `code-text` in HTML: paired backticks become `<code>`, the rest is escaped.
fn code_text_html(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    out.write(&escape::html_with_code(&string_param(h, "code-text")?))?;
    Ok(())
}

/// `code-text` in Markdown: paired backticks stay code spans, the rest is escaped.
fn code_text_md(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    out.write(&escape::markdown_with_code(
        &string_param(h, "code-text")?,
        false,
    ))?;
    Ok(())
}

/// The `md-url` helper of the Markdown registry: its one parameter as a link destination.
fn md_url(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let value = h
        .param(0)
        .ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex("md-url", 0))?;
    let text = match value.value() {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    out.write(&escape::markdown_url(&text))?;
    Ok(())
}

/// Render one template, mapping errors to [`TemplateError::Render`].
pub(crate) fn render<T: serde::Serialize>(
    hb: &Handlebars<'_>,
    name: &str,
    data: &T,
) -> Result<String, TemplateError> {
    hb.render(name, data).map_err(|e| TemplateError::Render {
        template: name.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_in_both_modes() {
        let set = TemplateSet::builtin();
        set.registry(Escaping::Html).expect("html registry");
        set.registry(Escaping::Markdown).expect("markdown registry");
    }

    #[test]
    fn triple_stash_only_on_generated_markup() {
        // Repository text must always go through escaping: the only unescaped values in the
        // built-in templates are the diagrams threatmark draws itself and the search index
        // (JSON whose `<`, `>` and `&` are escapes: see site::json_for_html).
        let allowed = [
            "{{{search_index}}}",
            "{{{@root.local_diagram}}}",
            "{{{diagram.svg}}}",
            "{{{diagram.mermaid}}}",
            "{{{timeline.svg}}}",
        ];
        for (file, text) in BUILTINS {
            let mut rest = *text;
            while let Some(i) = rest.find("{{{") {
                let end = rest[i..].find("}}}").map_or(rest.len(), |e| i + e + 3);
                let used = &rest[i..end];
                assert!(allowed.contains(&used), "{file}: {used}");
                rest = &rest[end..];
            }
            assert!(!text.contains("{{{{"), "{file}: raw blocks");
            assert!(!text.contains("{{&"), "{file}: unescaped");
        }
    }

    #[test]
    fn strict_mode_rejects_missing_fields() {
        let mut set = TemplateSet::builtin();
        set.set("report.md.hbs", "{{no_such_field}}");
        let hb = set.registry(Escaping::Markdown).expect("registry");
        assert!(render(&hb, "report.md", &serde_json::json!({})).is_err());
    }
}
