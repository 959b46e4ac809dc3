//! `threatmark site`: a static, self-contained, multi-page HTML site. Pure: model, analysis,
//! options and templates in, a list of (relative path, contents) out; the CLI writes them.
//!
//! Pages link to each other with relative URLs, so the site works from `file://` and from any
//! static host. Nothing is loaded from the network: the CSS is inlined, the diagrams are inline
//! SVG, and the only script (optional table filtering) is inlined and allowed by its hash in a
//! Content-Security-Policy that forbids every other script, so even a template mistake could not
//! run injected code. Page file names come from [`escape::slug`], never from raw ids.

use std::collections::BTreeMap;

use serde::Serialize;

use super::escape;
use super::templates::{self, Escaping, TemplateError, TemplateSet};
use super::view::{self, LinkMode, Options, ProjectView, ReportView};
use crate::analysis::{Analysis, RiskMatrix};
use crate::model::ThreatModel;

/// One file of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiteFile {
    /// Relative to the site root, `/`-separated, made of slugs only.
    pub path: String,
    pub contents: String,
}

#[derive(Debug, Serialize)]
struct PageInfo {
    /// `index`, `plan`, `findings`, `threats`, `components`, `controls`, `boundaries`,
    /// `timeline`, `threat`, `component`, `control` or `boundary`.
    kind: &'static str,
    title: String,
    /// The navigation entry to highlight.
    active: &'static str,
}

#[derive(Debug, Serialize)]
struct Counts {
    plan: usize,
    threats: usize,
    components: usize,
    controls: usize,
    boundaries: usize,
    findings: usize,
}

#[derive(Debug, Serialize)]
struct SiteInfo {
    has_timeline: bool,
    /// The Content-Security-Policy of every page.
    csp: String,
    counts: Counts,
}

/// The root context of every site page.
#[derive(Debug, Serialize)]
struct Page<'a> {
    view_version: u32,
    /// `""` for pages at the root, `"../"` for pages in a folder; prefix every `href`.
    base: &'static str,
    page: PageInfo,
    project: &'a ProjectView,
    site: &'a SiteInfo,
    /// The whole view model on index and list pages, else null.
    report: Option<&'a ReportView>,
    /// The element of an element page, else null.
    item: Option<serde_json::Value>,
}

/// The folders of element pages.
const PAGE_FOLDERS: [&str; 4] = ["threats", "components", "controls", "boundaries"];

/// Whether `path` has the shape of a file [`render`] writes: `.nojekyll`, a list page at the
/// root, or `<folder>/<slug>.html` for an element. `site` deletes nothing else, whatever a
/// manifest in the output folder claims: `CNAME`, scripts and hand-written files never have
/// this shape.
pub(crate) fn is_site_path(path: &str) -> bool {
    const ROOT: [&str; 9] = [
        ".nojekyll",
        "index.html",
        "plan.html",
        "findings.html",
        "threats.html",
        "components.html",
        "controls.html",
        "boundaries.html",
        "timeline.html",
    ];
    if ROOT.contains(&path) {
        return true;
    }
    let Some((folder, file)) = path.split_once('/') else {
        return false;
    };
    let Some(slug) = file.strip_suffix(".html") else {
        return false;
    };
    PAGE_FOLDERS.contains(&folder)
        && !slug.is_empty()
        && slug.len() <= 48
        && slug.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

/// The Content-Security-Policy for pages whose only script has this text.
pub(crate) fn csp(script: &str) -> String {
    format!(
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {}; base-uri 'none'; form-action 'none'",
        escape::csp_hash(script)
    )
}

/// Render every page of the site.
pub(crate) fn render(
    model: &ThreatModel,
    analysis: &Analysis,
    matrix: &RiskMatrix,
    opts: &Options,
    templates: &TemplateSet,
) -> Result<Vec<SiteFile>, TemplateError> {
    let opts = Options {
        links: LinkMode::Site,
        ..opts.clone()
    };
    let v = view::build(model, analysis, matrix, &opts);
    let hb = templates.registry(Escaping::Html)?;
    let script = templates::render(&hb, "site.js", &serde_json::json!({}))?;
    let site = SiteInfo {
        has_timeline: v.timeline.is_some(),
        csp: csp(&script),
        counts: Counts {
            plan: v.plan.len(),
            threats: v.threats.len(),
            components: v.components.len(),
            controls: v.controls.len(),
            boundaries: v.boundaries.len(),
            findings: v.findings.len(),
        },
    };
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |path: String, contents: String| -> Result<(), TemplateError> {
        if files.contains_key(&path) {
            return Err(TemplateError::Render {
                template: path.clone(),
                message: "two elements map to the same page; rename one of their ids".into(),
            });
        }
        files.insert(path, contents);
        Ok(())
    };

    let lists: [(&str, &'static str, &'static str, &str); 8] = [
        ("index.html", "index", "index", "Overview"),
        ("plan.html", "plan", "plan", "Remediation plan"),
        ("findings.html", "findings", "findings", "Findings"),
        ("threats.html", "threats", "threats", "Threats"),
        ("components.html", "components", "components", "Components"),
        ("controls.html", "controls", "controls", "Controls"),
        (
            "boundaries.html",
            "boundaries",
            "boundaries",
            "Trust boundaries",
        ),
        ("timeline.html", "timeline", "timeline", "Timeline"),
    ];
    for (path, kind, active, title) in lists {
        if kind == "timeline" && v.timeline.is_none() {
            continue;
        }
        let page = Page {
            view_version: v.view_version,
            base: "",
            page: PageInfo {
                kind,
                title: title.to_string(),
                active,
            },
            project: &v.project,
            site: &site,
            report: Some(&v),
            item: None,
        };
        let html = templates::render(&hb, &format!("site-{kind}.html"), &page)?;
        add(path.to_string(), html)?;
    }

    fn element<T: Serialize>(
        hb: &handlebars::Handlebars<'_>,
        v: &ReportView,
        site: &SiteInfo,
        kind: &'static str,
        active: &'static str,
        name: &str,
        item: &T,
    ) -> Result<String, TemplateError> {
        let page = Page {
            view_version: v.view_version,
            base: "../",
            page: PageInfo {
                kind,
                title: name.to_string(),
                active,
            },
            project: &v.project,
            site,
            report: None,
            item: Some(serde_json::to_value(item).unwrap_or_default()),
        };
        templates::render(hb, &format!("site-{kind}.html"), &page)
    }
    for t in &v.threats {
        let html = element(&hb, &v, &site, "threat", "threats", &t.item.name, t)?;
        add(format!("threats/{}.html", t.item.slug), html)?;
    }
    for c in &v.components {
        let html = element(&hb, &v, &site, "component", "components", &c.item.name, c)?;
        add(format!("components/{}.html", c.item.slug), html)?;
    }
    for c in &v.controls {
        let html = element(&hb, &v, &site, "control", "controls", &c.item.name, c)?;
        add(format!("controls/{}.html", c.item.slug), html)?;
    }
    for b in &v.boundaries {
        let html = element(&hb, &v, &site, "boundary", "boundaries", &b.item.name, b)?;
        add(format!("boundaries/{}.html", b.item.slug), html)?;
    }
    // GitHub Pages: serve the files as they are (no Jekyll processing).
    add(".nojekyll".to_string(), String::new())?;
    Ok(files
        .into_iter()
        .map(|(path, contents)| SiteFile { path, contents })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_paths_are_only_what_render_writes() {
        for ok in [
            ".nojekyll",
            "index.html",
            "timeline.html",
            "threats/sqli.html",
            "components/app_web.html",
            "boundaries/x-0a1b2c3d.html",
        ] {
            assert!(is_site_path(ok), "{ok}");
        }
        for bad in [
            "CNAME",
            "deploy.sh",
            "scripts/app.js",
            "threats/notes.txt",
            "threats/.html",
            "threats/A.html",
            "threats/a/b.html",
            "other/a.html",
            "../index.html",
            "threats/../index.html",
            "/index.html",
            "_config.yml",
            ".threatmark-site",
            "index.htm",
        ] {
            assert!(!is_site_path(bad), "{bad}");
        }
        // Every slug is a site path.
        for id in ["a", "A:B", "..", "x/y", "\u{202e}evil", &"z".repeat(200)] {
            let path = format!("threats/{}.html", escape::slug(id));
            assert!(is_site_path(&path), "{path}");
        }
    }
}
