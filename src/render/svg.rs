//! Inline SVG drawn by threatmark: the data-flow diagram (from a [`Layout`]) and the history
//! timeline. No script, no external references, no `style` attributes: presentation attributes
//! and classes only, so the markup works under a strict Content-Security-Policy and reads the
//! same from `file://`. Every repository string is escaped with [`escape::html`].

use super::escape::{self, printable};
use super::layout::{EdgePath, Layout, NodeBox};
use super::timeline::TimelinePoint;
use crate::model::ElementType;

/// Where the diagram's boxes and badges link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// `#component-x` anchors in the same document.
    Anchors,
    /// Pages of the static site, relative to its root (the index page).
    Site,
}

const FONT: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

fn esc(s: &str) -> String {
    escape::html(&printable(s))
}

fn href(links: Links, kind: &str, id: &str) -> Option<String> {
    let slug = escape::slug(id);
    match links {
        Links::Anchors => Some(format!("#{kind}-{slug}")),
        Links::Site => Some(match kind {
            "component" => format!("components/{slug}.html"),
            "boundary" => format!("boundaries/{slug}.html"),
            _ => format!("#{kind}-{slug}"),
        }),
    }
}

fn open_link(out: &mut String, link: &Option<String>) {
    if let Some(h) = link {
        out.push_str(&format!("<a href=\"{}\">", escape::html(h)));
    }
}

fn close_link(out: &mut String, link: &Option<String>) {
    if link.is_some() {
        out.push_str("</a>");
    }
}

fn f(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

const BOUNDARY_FILL: [&str; 4] = ["#f5f7ff", "#edf1ff", "#e4eaff", "#dbe3ff"];
const FLOW: &str = "#868e96";
const CROSSING: &str = "#e8590c";
const UNGUARDED: &str = "#e03131";
const INK: &str = "#212529";

/// What an arrow or its badge says on hover.
fn edge_title(e: &EdgePath) -> String {
    if e.count > 1 {
        format!("{} flows, {}", e.count, esc(&e.label))
    } else {
        format!("{}. {}", e.number, esc(&e.label))
    }
}

fn node(out: &mut String, n: &NodeBox, links: Links) {
    let r = n.rect;
    let (kind, type_label) = match n.element_type {
        Some(ElementType::Store) => ("store", "data store"),
        Some(ElementType::External) => ("external", "external entity"),
        Some(ElementType::Process) => ("process", "process"),
        None => ("process", "component"),
    };
    let link = href(links, "component", &n.id);
    out.push_str(&format!(
        "<g class=\"tm-node tm-{kind}\" data-component=\"{}\">",
        escape::html(&escape::slug(&n.id))
    ));
    open_link(out, &link);
    out.push_str(&format!("<title>{}</title>", esc(&n.name)));
    match n.element_type {
        Some(ElementType::Store) => {
            out.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
                r.x, r.y, r.w, r.h
            ));
            for y in [r.y, r.y + r.h] {
                out.push_str(&format!(
                    "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{INK}\" stroke-width=\"2\"/>",
                    r.x,
                    r.x + r.w
                ));
            }
        }
        Some(ElementType::External) => out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f1f3f5\" stroke=\"{INK}\" stroke-width=\"1.5\"/>",
            r.x, r.y, r.w, r.h
        )),
        _ => out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"14\" fill=\"#ffffff\" stroke=\"{INK}\" stroke-width=\"1.5\"{}/>",
            r.x,
            r.y,
            r.w,
            r.h,
            if n.declared { "" } else { " stroke-dasharray=\"4 3\"" }
        )),
    }
    let cx = f64::from(r.x) + f64::from(r.w) / 2.0;
    let cy = f64::from(r.y) + f64::from(r.h) / 2.0;
    let first = if n.lines.len() > 1 {
        cy - 12.0
    } else {
        cy - 4.0
    };
    for (i, line) in n.lines.iter().enumerate() {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12.5\" font-weight=\"600\" fill=\"{INK}\">{}</text>",
            f(cx),
            f(first + 15.0 * i as f64),
            esc(line)
        ));
    }
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"9.5\" letter-spacing=\"0.6\" fill=\"#868e96\">{}</text>",
        f(cx),
        f(first + 15.0 * n.lines.len() as f64 + 1.0),
        type_label.to_uppercase()
    ));
    close_link(out, &link);
    out.push_str("</g>\n");
}

/// The data-flow diagram as one `<svg>` element.
pub(crate) fn diagram(l: &Layout, links: Links) -> String {
    let width = l.width.max(720);
    let height = l.height + legend_height(width);
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tm-diagram\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"Data-flow diagram: {} trust boundaries, {} components, {} flows\" font-family=\"{FONT}\">\n",
        l.boundaries.len(),
        l.nodes.len(),
        l.edges.len()
    ));
    out.push_str("<defs>");
    for (id, color) in [
        ("tm-dfd-arrow", FLOW),
        ("tm-dfd-arrow-x", CROSSING),
        ("tm-dfd-arrow-u", UNGUARDED),
    ] {
        out.push_str(&format!(
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{color}\"/></marker>"
        ));
    }
    out.push_str("</defs>\n");
    out.push_str(&format!(
        "<rect class=\"tm-canvas\" x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n"
    ));

    out.push_str("<g class=\"tm-boundaries\">\n");
    for b in &l.boundaries {
        let r = b.rect;
        let link = if b.more {
            // The components a group's "more" box stands for are all on the list page.
            Some(match links {
                Links::Anchors => "#components".to_string(),
                Links::Site => "components.html".to_string(),
            })
        } else {
            href(links, "boundary", &b.id)
        };
        // A group's "more" box is no boundary: its key names the group it belongs to.
        let key = if b.more {
            format!("more-{}", escape::slug(&b.id))
        } else {
            escape::slug(&b.id)
        };
        out.push_str(&format!(
            "<g class=\"tm-boundary\" data-boundary=\"{}\" data-depth=\"{}\">",
            escape::html(&key),
            b.depth
        ));
        open_link(&mut out, &link);
        out.push_str(&format!(
            "<title>Trust boundary: {}</title><rect class=\"tm-boundary-box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\" fill=\"{}\" stroke=\"#4263eb\" stroke-width=\"1.6\" stroke-dasharray=\"7 5\"/>",
            esc(&b.name),
            r.x,
            r.y,
            r.w,
            r.h,
            BOUNDARY_FILL[b.depth.min(BOUNDARY_FILL.len() - 1)]
        ));
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"12.5\" font-weight=\"700\" fill=\"#364fc7\">{}</text>",
            r.x + 14,
            r.y + 21,
            esc(&b.name)
        ));
        if let Some(n) = b.collapsed {
            out.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"10.5\" fill=\"#495057\">{n} component{}</text>",
                r.x + 14,
                r.y + 40,
                if n == 1 { "" } else { "s" }
            ));
        }
        close_link(&mut out, &link);
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n");

    out.push_str("<g class=\"tm-flows\" fill=\"none\">\n");
    for e in &l.edges {
        let (class, color, marker, width, dash) = match (e.crossing, e.guarded) {
            (false, _) => ("tm-flow", FLOW, "tm-dfd-arrow", "1.5", ""),
            (true, true) => ("tm-flow tm-crossing", CROSSING, "tm-dfd-arrow-x", "2.2", ""),
            (true, false) => (
                "tm-flow tm-crossing tm-unguarded",
                UNGUARDED,
                "tm-dfd-arrow-u",
                "2.4",
                " stroke-dasharray=\"8 4\"",
            ),
        };
        let d: Vec<String> = e
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}{} {}", if i == 0 { "M" } else { "L" }, f(p.0), f(p.1)))
            .collect();
        out.push_str(&format!(
            "<path class=\"{class}\" data-flow=\"{}\" d=\"{}\" stroke=\"{color}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{dash} marker-end=\"url(#{marker})\"{}><title>{}</title></path>\n",
            e.number,
            d.join(" "),
            if e.bidirectional {
                format!(" marker-start=\"url(#{marker})\"")
            } else {
                String::new()
            },
            edge_title(e)
        ));
    }
    out.push_str("</g>\n<g class=\"tm-nodes\">\n");
    for n in &l.nodes {
        node(&mut out, n, links);
    }
    out.push_str("</g>\n<g class=\"tm-badges\">\n");
    for e in &l.edges {
        let color = match (e.crossing, e.guarded) {
            (false, _) => FLOW,
            (true, true) => CROSSING,
            (true, false) => UNGUARDED,
        };
        let link = if e.count > 1 {
            e.group.as_ref().and_then(|g| href(links, "boundary", g))
        } else {
            Some(format!("#flow-{}", escape::slug(&e.flow)))
        };
        out.push_str("<g class=\"tm-badge\">");
        open_link(&mut out, &link);
        out.push_str(&format!(
            "<title>{}</title><circle cx=\"{}\" cy=\"{}\" r=\"9.5\" fill=\"#ffffff\" stroke=\"{color}\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" font-weight=\"700\" fill=\"{color}\">{}</text>",
            edge_title(e),
            f(e.mid.0),
            f(e.mid.1),
            f(e.mid.0),
            f(e.mid.1 + 3.5),
            if e.count > 1 {
                format!("×{}", e.count)
            } else {
                e.number.to_string()
            }
        ));
        close_link(&mut out, &link);
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n");

    // Legend: each entry as wide as its text at a generous width per character, wrapped into
    // rows that fit the picture, so no entry can run into the next one.
    out.push_str(&legend(l.height + 14, width));
    out.push_str("</svg>\n");
    out
}

/// Width of one legend character, wider than any sans-serif font draws 11 px text.
const LEGEND_CHAR_W: i32 = 7;
const LEGEND_ROW: i32 = 24;

/// The legend's entries: the swatch (drawn at x = 0) and the label.
fn legend_entries() -> Vec<(String, &'static str)> {
    let mut v = vec![
        ("<rect x=\"0\" y=\"0\" width=\"26\" height=\"16\" rx=\"4\" fill=\"#f5f7ff\" stroke=\"#4263eb\" stroke-width=\"1.4\" stroke-dasharray=\"5 3\"/>".to_string(), "trust boundary"),
        (format!("<rect x=\"0\" y=\"0\" width=\"26\" height=\"16\" rx=\"7\" fill=\"#ffffff\" stroke=\"{INK}\" stroke-width=\"1.3\"/>"), "process"),
        (format!("<line x1=\"0\" y1=\"0\" x2=\"26\" y2=\"0\" stroke=\"{INK}\" stroke-width=\"1.6\"/><line x1=\"0\" y1=\"16\" x2=\"26\" y2=\"16\" stroke=\"{INK}\" stroke-width=\"1.6\"/>"), "data store"),
        (format!("<rect x=\"0\" y=\"0\" width=\"26\" height=\"16\" fill=\"#f1f3f5\" stroke=\"{INK}\" stroke-width=\"1.3\"/>"), "external entity"),
    ];
    for (color, dash, marker, label) in [
        (FLOW, "", "tm-dfd-arrow", "data flow"),
        (CROSSING, "", "tm-dfd-arrow-x", "crosses a boundary"),
        (
            UNGUARDED,
            " stroke-dasharray=\"6 3\"",
            "tm-dfd-arrow-u",
            "unguarded crossing",
        ),
    ] {
        v.push((format!("<line x1=\"0\" y1=\"8\" x2=\"26\" y2=\"8\" stroke=\"{color}\" stroke-width=\"2\"{dash} marker-end=\"url(#{marker})\"/>"), label));
    }
    v
}

/// Where each legend entry goes: (x, row) for a picture `width` wide, and the number of rows.
fn legend_places(width: i32) -> (Vec<(i32, i32)>, i32) {
    let mut places = Vec::new();
    let (mut x, mut row) = (0, 0);
    for (_, label) in legend_entries() {
        let w = 34 + LEGEND_CHAR_W * label.chars().count() as i32;
        if x > 0 && x + w > width - 24 {
            x = 0;
            row += 1;
        }
        places.push((x, row));
        x += w + 22;
    }
    (places, row + 1)
}

/// The legend's height for a picture `width` wide.
fn legend_height(width: i32) -> i32 {
    legend_places(width).1 * LEGEND_ROW + 20
}

fn legend(y: i32, width: i32) -> String {
    let mut out = format!(
        "<g class=\"tm-legend\" font-size=\"11\" fill=\"#495057\" transform=\"translate(12 {y})\">"
    );
    let (places, _) = legend_places(width);
    for ((swatch, label), (x, row)) in legend_entries().into_iter().zip(places) {
        out.push_str(&format!(
            "<g transform=\"translate({x} {})\">{swatch}<text x=\"34\" y=\"12\">{label}</text></g>",
            row * LEGEND_ROW
        ));
    }
    out.push_str("</g>\n");
    out
}

/// A named, coloured series of the timeline.
type Series = (&'static str, &'static str, fn(&TimelinePoint) -> usize);

/// A line chart of the history: all threats, those that need work, mitigated, and accepted or
/// transferred, oldest commit on the left.
pub(crate) fn timeline(points: &[TimelinePoint]) -> String {
    let (w, h) = (960.0_f64, 300.0_f64);
    let (left, right, top, bottom) = (48.0, 24.0, 42.0, 46.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max = points.iter().map(|p| p.threats).max().unwrap_or(0).max(1);
    let step = max.div_ceil(4).max(1);
    let ymax = step * 4;
    let x = |i: usize| {
        if points.len() <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: usize| top + ph * (1.0 - v as f64 / ymax as f64);
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tm-timeline\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Threats over the last {} commits\" font-family=\"{FONT}\">\n",
        points.len()
    ));
    out.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n"
    ));
    for k in 0..=4 {
        let v = step * k;
        let yy = f(y(v));
        out.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"#e9ecef\" stroke-width=\"1\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"#868e96\">{v}</text>\n",
            w - right,
            left - 8.0,
            f(y(v) + 4.0)
        ));
    }
    let series: [Series; 4] = [
        ("threats", "#495057", |p| p.threats),
        ("need work", UNGUARDED, |p| p.exposed + p.open),
        ("mitigated", "#2f9e44", |p| p.mitigated),
        ("accepted or transferred", "#f08c00", |p| {
            p.accepted + p.transferred
        }),
    ];
    for (name, color, value) in &series {
        let pts: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{},{}", f(x(i)), f(y(value(p)))))
            .collect();
        out.push_str(&format!(
            "<g class=\"tm-series\" data-series=\"{name}\"><polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.2\" stroke-linejoin=\"round\"/>",
            pts.join(" ")
        ));
        for (i, p) in points.iter().enumerate() {
            out.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{color}\"><title>{} {}: {} {name} ({})</title></circle>",
                f(x(i)),
                f(y(value(p))),
                esc(&p.date),
                esc(&p.commit),
                value(p),
                esc(&p.subject)
            ));
        }
        out.push_str("</g>\n");
    }
    // Date labels: first, last and a few in between.
    let n = points.len();
    let mut shown: Vec<usize> = if n <= 6 {
        (0..n).collect()
    } else {
        (0..6).map(|k| k * (n - 1) / 5).collect()
    };
    shown.dedup();
    for i in shown {
        let anchor = match i {
            _ if n <= 1 => "middle",
            0 => "start",
            i if i + 1 == n => "end",
            _ => "middle",
        };
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"11\" fill=\"#868e96\">{}</text>\n",
            f(x(i)),
            h - bottom + 18.0,
            esc(&points[i].date)
        ));
    }
    let mut lx = left;
    out.push_str("<g class=\"tm-legend\" font-size=\"11.5\" fill=\"#495057\">");
    for (name, color, _) in &series {
        out.push_str(&format!(
            "<line x1=\"{lx}\" y1=\"16\" x2=\"{}\" y2=\"16\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{}\" y=\"20\">{name}</text>",
            lx + 20.0,
            lx + 26.0
        ));
        lx += 40.0 + name.len() as f64 * 6.6;
    }
    out.push_str("</g>\n</svg>\n");
    out
}
