//! `threatmark site`: a static, self-contained, multi-page HTML site. Pure: model, analysis,
//! options and templates in, a list of (relative path, contents) out; the CLI writes them.
//!
//! Pages link to each other with relative URLs, so the site works from `file://` and from any
//! static host. Nothing is loaded from the network: the CSS is inlined, the diagrams are inline
//! SVG, and the only script (optional table filtering) is inlined and allowed by its hash in a
//! Content-Security-Policy that forbids every other script, so even a template mistake could not
//! run injected code. Page file names come from [`escape::slug`], never from raw ids.
//!
//! Search works offline and from `file://` (where `fetch()` is refused): `search.html` carries
//! its index as a JSON data block (`<script type="application/json">`, never executed, so the
//! CSP need not allow it), with `<`, `>` and `&` written as `\u` escapes so no repository text
//! can close the block. The hashed script reads it with `JSON.parse` and shows results with
//! `textContent` only: the index is data, never HTML.
//!
//! Each boundary and component page has its own diagram: the element, its neighbours and the
//! boundaries they sit in, as a sub-model drawn by the same diagram entry point as the overview,
//! focused on the element (its boundary open, the others collapsed on a big model) and with the
//! flows' numbers in the whole model, so arrows match the page's flow table.
//!
//! Cost: with the built-in templates a list page is rendered with only the view-model parts it
//! reads ([`ReportPart`]), since handlebars copies the page data per block and partial; element
//! pages (and their diagrams) render on the `--threads` threads, in contiguous chunks joined in
//! order, so the files are the same for any thread count.
//!
//! @threat Script injection through the site's search (#site_search_injection) [stride: T; likelihood: possible; impact: major; cwe: 79; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a name or description such as `</script><img onerror=...>` in the search index closes its block or is shown as markup, and runs in the browser of whoever reads the threat model
//! @control Search index is data (#search_index_data): the index is JSON in a non-executed `application/json` block with `<`, `>` and `&` as `\u` escapes; the one hashed script parses it and shows results with textContent only
//! @mitigates #renderer against #site_search_injection with #search_index_data

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::escape;
use super::templates::{self, Escaping, TemplateError, TemplateSet};
use super::view::{self, LinkMode, Options, ProjectView, ReportView};
use super::{layout, svg};
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
    /// The view model on index and list pages (with the built-in templates only the parts
    /// the page reads), else null.
    report: Option<ReportPart<'a>>,
    /// The element of an element page, else null.
    item: Option<serde_json::Value>,
    /// The search index as JSON text, safe inside a `<script type="application/json">` block
    /// (search page only, else empty).
    search_index: String,
    /// The element's own diagram (component and boundary pages, else empty): inline SVG drawn
    /// by threatmark, links already relative to the page.
    local_diagram: String,
}

/// The root fields of the view model every list page gets: small, and read by the layout.
const SMALL_PARTS: [&str; 6] = [
    "view_version",
    "project",
    "analysis_date",
    "source_links",
    "summary",
    "matrix",
];

/// The big root fields of the view model each built-in list page reads (besides
/// [`SMALL_PARTS`]).
fn page_parts(kind: &str) -> &'static [&'static str] {
    match kind {
        "index" => &["diagram", "flows", "plan", "threats", "timeline"],
        "plan" => &["plan"],
        "findings" => &["findings", "coverage"],
        "threats" => &["threats", "actors"],
        "components" => &["components"],
        "controls" => &["controls"],
        "boundaries" => &["outline", "boundaries"],
        "timeline" => &["timeline"],
        _ => &[],
    }
}

/// The view model as a page's `report`: whole, or only some root fields. Handlebars copies
/// the data a page is rendered with several times (for the layout block, each `#with`, each
/// partial), so on a model of 2,000 components the whole view model (tens of MB) made the
/// list pages take seconds each and a gigabyte of memory; a page that reads only the plan
/// gets only the plan. Custom templates may read anything, so they get the whole model.
#[derive(Debug)]
struct ReportPart<'a> {
    view: &'a ReportView,
    /// None: every field.
    keys: Option<&'static [&'static str]>,
}

impl Serialize for ReportPart<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(keys) = self.keys else {
            return self.view.serialize(s);
        };
        let v = self.view;
        let mut m = s.serialize_map(None)?;
        for key in SMALL_PARTS.iter().chain(keys) {
            match *key {
                "view_version" => m.serialize_entry(key, &v.view_version)?,
                "project" => m.serialize_entry(key, &v.project)?,
                "analysis_date" => m.serialize_entry(key, &v.analysis_date)?,
                "source_links" => m.serialize_entry(key, &v.source_links)?,
                "summary" => m.serialize_entry(key, &v.summary)?,
                "matrix" => m.serialize_entry(key, &v.matrix)?,
                "plan" => m.serialize_entry(key, &v.plan)?,
                "threats" => m.serialize_entry(key, &v.threats)?,
                "controls" => m.serialize_entry(key, &v.controls)?,
                "components" => m.serialize_entry(key, &v.components)?,
                "boundaries" => m.serialize_entry(key, &v.boundaries)?,
                "outline" => m.serialize_entry(key, &v.outline)?,
                "actors" => m.serialize_entry(key, &v.actors)?,
                "flows" => m.serialize_entry(key, &v.flows)?,
                "findings" => m.serialize_entry(key, &v.findings)?,
                "coverage" => m.serialize_entry(key, &v.coverage)?,
                "diagram" => m.serialize_entry(key, &v.diagram)?,
                "timeline" => m.serialize_entry(key, &v.timeline)?,
                _ => {}
            }
        }
        m.end()
    }
}

/// The part of `model` a local diagram shows: `keep` components, the flows between two of
/// them that `flow` selects, and the boundaries around them (with their ancestors). The rest
/// of the model is left out, so the diagram engine draws it as it draws any model.
fn sub_model(
    model: &ThreatModel,
    keep: &BTreeSet<&str>,
    flow: impl Fn(&crate::model::Flow) -> bool,
) -> ThreatModel {
    let nesting = model.boundary_nesting();
    let mut bounds: BTreeSet<&str> = BTreeSet::new();
    for c in model
        .components
        .iter()
        .filter(|c| keep.contains(c.id.as_str()))
    {
        if let Some(b) = c.extra.boundary.as_deref() {
            bounds.insert(b);
            bounds.extend(nesting.ancestors(b));
        }
    }
    ThreatModel {
        schema_version: model.schema_version,
        project: model.project.clone(),
        components: model
            .components
            .iter()
            .filter(|c| keep.contains(c.id.as_str()))
            .cloned()
            .collect(),
        boundaries: model
            .boundaries
            .iter()
            .filter(|b| bounds.contains(b.id.as_str()))
            .map(|b| {
                let mut b = b.clone();
                b.extra.components.retain(|c| keep.contains(c.as_str()));
                b
            })
            .collect(),
        flows: model
            .flows
            .iter()
            .filter(|f| {
                keep.contains(f.link.source.as_str())
                    && keep.contains(f.link.target.as_str())
                    && flow(f)
            })
            .cloned()
            .collect(),
        ..ThreatModel::default()
    }
}

/// Draw a sub-model with the overview's diagram entry point, for a page one folder down:
/// arrows carry the flows' numbers in the whole model (those of the page's flow table).
fn local_svg(
    model: &ThreatModel,
    analysis: &Analysis,
    focus: layout::Focus<'_>,
    numbers: &BTreeMap<String, usize>,
) -> String {
    let opts = layout::Options {
        focus,
        numbers: Some(numbers),
    };
    let svg = svg::diagram(
        &layout::layout_with(model, analysis, &opts),
        svg::Links::Site,
    );
    // Site links are relative to the root; element pages live one folder down.
    svg.replace("href=\"components/", "href=\"../components/")
        .replace("href=\"boundaries/", "href=\"../boundaries/")
        .replace("href=\"components.html", "href=\"../components.html")
}

/// A component, every component it has a flow with, and those flows.
fn component_diagram(
    model: &ThreatModel,
    analysis: &Analysis,
    id: &str,
    numbers: &BTreeMap<String, usize>,
) -> String {
    let mut keep: BTreeSet<&str> = BTreeSet::from([id]);
    for f in &model.flows {
        if f.link.source == id {
            keep.insert(&f.link.target);
        } else if f.link.target == id {
            keep.insert(&f.link.source);
        }
    }
    let sub = sub_model(model, &keep, |f| f.link.source == id || f.link.target == id);
    local_svg(&sub, analysis, layout::Focus::Component(id), numbers)
}

/// Every component inside a boundary (at any depth), the components outside it that have a
/// flow with one of them, and the flows that touch the inside.
fn boundary_diagram(
    model: &ThreatModel,
    analysis: &Analysis,
    id: &str,
    inside: &BTreeSet<&str>,
    numbers: &BTreeMap<String, usize>,
) -> String {
    let mut keep = inside.clone();
    for f in &model.flows {
        if inside.contains(f.link.source.as_str()) {
            keep.insert(&f.link.target);
        } else if inside.contains(f.link.target.as_str()) {
            keep.insert(&f.link.source);
        }
    }
    let sub = sub_model(model, &keep, |f| {
        inside.contains(f.link.source.as_str()) || inside.contains(f.link.target.as_str())
    });
    local_svg(&sub, analysis, layout::Focus::Boundary(id), numbers)
}

/// One entry of the search index. Short keys keep the index small on large models.
#[derive(Debug, Serialize)]
struct SearchEntry<'a> {
    /// `threat`, `component`, `control` or `finding`.
    k: &'static str,
    /// Name (or finding code and message).
    n: String,
    /// Id, or the finding's code.
    i: &'a str,
    /// Link, relative to the site root.
    h: String,
    /// More text to match: description, type.
    t: &'a str,
}

/// The search index of the site, as JSON text that can sit in an HTML data block.
fn search_index<'a>(v: &'a ReportView) -> String {
    let element = |k, item: &'a super::view::ItemRef, t: &'a str| SearchEntry {
        k,
        n: item.name.clone(),
        i: &item.id,
        h: item.href.clone(),
        t,
    };
    let mut entries: Vec<SearchEntry<'_>> = Vec::new();
    entries.extend(
        v.threats
            .iter()
            .map(|t| element("threat", &t.item, &t.description)),
    );
    entries.extend(
        v.components
            .iter()
            .map(|c| element("component", &c.item, &c.description)),
    );
    entries.extend(
        v.controls
            .iter()
            .map(|c| element("control", &c.item, &c.description)),
    );
    for (n, f) in v.findings.iter().enumerate() {
        entries.push(SearchEntry {
            k: "finding",
            n: f.message.clone(),
            i: &f.code,
            h: format!("findings.html#finding-{n}"),
            t: "",
        });
    }
    let json = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_string());
    json_for_html(&json)
}

/// JSON text that cannot end or confuse the HTML element it sits in.
fn json_for_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for ch in json.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The folders of element pages.
const PAGE_FOLDERS: [&str; 4] = ["threats", "components", "controls", "boundaries"];

/// Whether `path` has the shape of a file [`render`] writes: `.nojekyll`, a list page at the
/// root, or `<folder>/<slug>.html` for an element. `site` deletes nothing else, whatever a
/// manifest in the output folder claims: `CNAME`, scripts and hand-written files never have
/// this shape.
pub(crate) fn is_site_path(path: &str) -> bool {
    const ROOT: [&str; 10] = [
        ".nojekyll",
        "index.html",
        "search.html",
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

/// `f` of every item, on up to `threads` threads (contiguous chunks), in the items' order:
/// the same result whatever the thread count.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, 16);
    if threads == 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Render every page of the site.
pub(crate) fn render(
    model: &ThreatModel,
    analysis: &Analysis,
    matrix: &RiskMatrix,
    opts: &Options,
    templates: &TemplateSet,
    threads: usize,
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

    let index = search_index(&v);
    // Custom page templates or partials may read any field of the view model.
    let custom = templates.overridden.iter().any(|f| f.ends_with(".hbs"));
    let lists: [(&str, &'static str, &'static str, &str); 9] = [
        ("index.html", "index", "index", "Overview"),
        ("search.html", "search", "search", "Search"),
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
            report: Some(ReportPart {
                view: &v,
                keys: (!custom).then(|| page_parts(kind)),
            }),
            item: None,
            search_index: if kind == "search" {
                index.clone()
            } else {
                String::new()
            },
            local_diagram: String::new(),
        };
        let html = templates::render(&hb, &format!("site-{kind}.html"), &page)?;
        add(path.to_string(), html)?;
    }

    /// An element page: (kind, navigation entry), its title, the element and its diagram.
    fn element<T: Serialize>(
        hb: &handlebars::Handlebars<'_>,
        v: &ReportView,
        site: &SiteInfo,
        (kind, active): (&'static str, &'static str),
        (name, item): (&str, &T),
        local_diagram: String,
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
            search_index: String::new(),
            local_diagram,
        };
        templates::render(hb, &format!("site-{kind}.html"), &page)
    }
    // Element pages are independent: rendered on `threads` threads, added in order.
    let numbers: BTreeMap<String, usize> = model
        .flows
        .iter()
        .enumerate()
        .map(|(n, f)| (f.id.clone(), n + 1))
        .collect();
    let (hb, v, site) = (&hb, &v, &site);
    let pages: Vec<Result<(String, String), TemplateError>> =
        in_parallel(&v.threats, threads, |t| {
            let html = element(
                hb,
                v,
                site,
                ("threat", "threats"),
                (&t.item.name, t),
                String::new(),
            )?;
            Ok((format!("threats/{}.html", t.item.slug), html))
        });
    for page in pages {
        let (path, html) = page?;
        add(path, html)?;
    }
    let pages: Vec<Result<(String, String), TemplateError>> =
        in_parallel(&v.components, threads, |c| {
            let svg = component_diagram(model, analysis, &c.item.id, &numbers);
            let kind = ("component", "components");
            let html = element(hb, v, site, kind, (&c.item.name, c), svg)?;
            Ok((format!("components/{}.html", c.item.slug), html))
        });
    for page in pages {
        let (path, html) = page?;
        add(path, html)?;
    }
    let pages: Vec<Result<(String, String), TemplateError>> =
        in_parallel(&v.controls, threads, |c| {
            let html = element(
                hb,
                v,
                site,
                ("control", "controls"),
                (&c.item.name, c),
                String::new(),
            )?;
            Ok((format!("controls/{}.html", c.item.slug), html))
        });
    for page in pages {
        let (path, html) = page?;
        add(path, html)?;
    }
    let pages: Vec<Result<(String, String), TemplateError>> =
        in_parallel(&v.boundaries, threads, |b| {
            let inside: BTreeSet<&str> = b.all_components.iter().map(|c| c.id.as_str()).collect();
            let svg = boundary_diagram(model, analysis, &b.item.id, &inside, &numbers);
            let kind = ("boundary", "boundaries");
            let html = element(hb, v, site, kind, (&b.item.name, b), svg)?;
            Ok((format!("boundaries/{}.html", b.item.slug), html))
        });
    for page in pages {
        let (path, html) = page?;
        add(path, html)?;
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

    /// Repository text cannot close the data block the search index sits in, and the index
    /// still parses to the same text.
    #[test]
    fn search_index_json_cannot_close_its_block() {
        let hostile = "</script><img src=x onerror=alert(1)> & \u{2028}";
        let json = serde_json::to_string(&serde_json::json!([{ "n": hostile }])).expect("json");
        let safe = json_for_html(&json);
        for bad in ['<', '>', '&', '\u{2028}'] {
            assert!(!safe.contains(bad), "{safe}");
        }
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back[0]["n"], hostile);
    }

    /// A component's local diagram holds it, its neighbours, their boundaries and the flows
    /// touching it: nothing else.
    #[test]
    fn local_sub_model_keeps_the_neighbourhood() {
        let json = serde_json::json!({
            "schema_version": 1, "project": {"name": "p"},
            "components": [
                {"id": "a", "name": "A", "boundary": "inner", "sources": []},
                {"id": "b", "name": "B", "sources": []},
                {"id": "c", "name": "C", "boundary": "other", "sources": []},
            ],
            "boundaries": [
                {"id": "inner", "name": "Inner", "parent": "outer", "sources": []},
                {"id": "outer", "name": "Outer", "sources": []},
                {"id": "other", "name": "Other", "sources": []},
            ],
            "actors": [], "threats": [], "controls": [], "mitigations": [], "exposures": [],
            "acceptances": [], "transfers": [],
            "flows": [
                {"id": "f1", "source": "a", "target": "b", "sources": []},
                {"id": "f2", "source": "b", "target": "c", "sources": []},
            ],
            "reviews": [], "tests": [],
        });
        let model = crate::model::from_json(&json.to_string()).expect("model");
        let analysis = crate::analysis::analyze(&model, &RiskMatrix::default(), None);
        let keep = BTreeSet::from(["a", "b"]);
        let sub = sub_model(&model, &keep, |f| {
            f.link.source == "a" || f.link.target == "a"
        });
        let ids = |v: Vec<&str>| v.join(",");
        assert_eq!(
            ids(sub.components.iter().map(|c| c.id.as_str()).collect()),
            "a,b"
        );
        assert_eq!(
            ids(sub.boundaries.iter().map(|b| b.id.as_str()).collect()),
            "inner,outer"
        );
        assert_eq!(ids(sub.flows.iter().map(|f| f.id.as_str()).collect()), "f1");
        let svg = component_diagram(&model, &analysis, "a", &BTreeMap::new());
        assert!(svg.contains("data-component=\"b\""), "{svg}");
        assert!(!svg.contains("data-component=\"c\""), "{svg}");
        assert!(svg.contains("href=\"../components/"), "{svg}");
        assert!(!svg.contains("href=\"components/"), "{svg}");
    }
}
