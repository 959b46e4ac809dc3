//! The data-flow diagram's legend, laid out for the diagram's width: items (a swatch and its
//! text) run left to right and start a new row where the next would not fit, so a text never
//! runs into the next swatch, whatever the width and however long the texts. Text widths are
//! estimated from the characters (no font is read), generously, so that the result is the
//! same everywhere.

// Hooked into the diagram by the integrator (svg.rs is being rewritten in parallel).
#![cfg_attr(not(test), allow(dead_code))]

/// One entry: its swatch, drawn at the origin in a `SWATCH_W` x `ROW_H` cell, and its text.
pub(crate) struct Item<'a> {
    pub swatch: String,
    pub label: &'a str,
}

/// The legend's markup (a `<g>` to translate to where it goes) and its height.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Legend {
    pub svg: String,
    pub height: i32,
}

/// The width the swatch of an item takes.
pub(crate) const SWATCH_W: i32 = 28;
/// The height of a row.
pub(crate) const ROW_H: i32 = 22;
/// Between a swatch and its text.
const TEXT_GAP: i32 = 6;
/// Between an item's text and the next item's swatch.
const ITEM_GAP: i32 = 18;

/// Estimated width of `text` at `size` px: 0.62 em a character (a little wider than the
/// average sans-serif glyph), 1.1 em for a wide one (CJK, emoji).
pub(crate) fn text_width(text: &str, size: f64) -> i32 {
    let ems: f64 = text
        .chars()
        .map(|c| if u32::from(c) >= 0x2E80 { 1.1 } else { 0.62 })
        .sum();
    (ems * size).ceil().min(1e6) as i32
}

/// Lay `items` out in rows no wider than `width` (an item wider than that gets a row of its
/// own), texts at `size` px.
pub(crate) fn legend(items: &[Item<'_>], width: i32, size: f64) -> Legend {
    let mut svg = format!("<g class=\"tm-legend\" font-size=\"{size}\" fill=\"#495057\">");
    let (mut x, mut row) = (0, 0);
    for item in items {
        let w = SWATCH_W + TEXT_GAP + text_width(item.label, size);
        if x > 0 && x + w > width {
            x = 0;
            row += 1;
        }
        let y = row * ROW_H;
        svg.push_str(&format!(
            "<g transform=\"translate({x} {y})\">{}<text x=\"{}\" y=\"12\">{}</text></g>",
            item.swatch,
            SWATCH_W + TEXT_GAP,
            super::escape::html(item.label),
        ));
        x += w + ITEM_GAP;
    }
    svg.push_str("</g>");
    Legend {
        svg,
        height: if items.is_empty() {
            0
        } else {
            (row + 1) * ROW_H
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(labels: &[&'static str]) -> Vec<Item<'static>> {
        labels
            .iter()
            .map(|l| Item {
                swatch: "<rect width=\"26\" height=\"16\"/>".into(),
                label: l,
            })
            .collect()
    }

    /// The boxes (x, row, width) the items take, read back from the markup.
    fn boxes(l: &Legend, labels: &[&str], size: f64) -> Vec<(i32, i32, i32)> {
        l.svg
            .split("<g transform=\"translate(")
            .skip(1)
            .zip(labels)
            .map(|(s, label)| {
                let mut nums = s.split([' ', ')']).map(|n| n.parse::<i32>().unwrap_or(-1));
                let (x, y) = (nums.next().unwrap_or(-1), nums.next().unwrap_or(-1));
                (x, y / ROW_H, SWATCH_W + TEXT_GAP + text_width(label, size))
            })
            .collect()
    }

    #[test]
    fn no_text_runs_into_the_next_item_at_any_width() {
        let labels = [
            "trust boundary",
            "process",
            "data store",
            "external entity",
            "data flow",
            "crosses a boundary",
            "unguarded crossing",
        ];
        for width in [120, 300, 420, 640, 900, 1400] {
            let l = legend(&items(&labels), width, 11.0);
            let b = boxes(&l, &labels, 11.0);
            assert_eq!(b.len(), labels.len());
            for pair in b.windows(2) {
                let ((x0, r0, w0), (x1, r1, _)) = (pair[0], pair[1]);
                assert!(r1 > r0 || x0 + w0 < x1, "width {width}: {pair:?} overlap");
            }
            for (x, _, w) in &b {
                assert!(
                    *x == 0 || x + w <= width,
                    "width {width}: item past the edge"
                );
            }
            let rows = b.iter().map(|(_, r, _)| r + 1).max().unwrap_or(0);
            assert_eq!(l.height, rows * ROW_H);
        }
        // Wide enough for all: one row.
        assert_eq!(legend(&items(&labels), 2000, 11.0).height, ROW_H);
    }

    #[test]
    fn texts_are_escaped() {
        let l = legend(&items(&["a<b"]), 500, 11.0);
        assert!(l.svg.contains("a&lt;b") && !l.svg.contains("a<b"));
    }
}
