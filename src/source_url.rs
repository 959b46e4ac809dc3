//! The `[report] source_url` template: validated where the config is read, expanded where the
//! view links a source. It lives apart from both so that config (below source) and render (above
//! scan) share it without config reaching up into render.

use crate::render::escape::{percent_encode_path, percent_encode_segment, printable};

/// A validated `source_url` template: `http(s)://...` with `{rev}`, `{path}` and `{line}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceUrl {
    template: String,
}

impl SourceUrl {
    /// Accepts only absolute `http://` and `https://` URLs without white space, quotes or angle
    /// brackets, whose only placeholders are `{rev}`, `{path}` and `{line}`.
    pub(crate) fn parse(template: &str) -> Result<SourceUrl, String> {
        let t = template.trim();
        let lower = t.to_ascii_lowercase();
        let rest = if let Some(r) = lower.strip_prefix("https://") {
            r
        } else if let Some(r) = lower.strip_prefix("http://") {
            r
        } else {
            return Err(format!(
                "`{}` must start with http:// or https://",
                printable(template)
            ));
        };
        if rest.is_empty() || rest.starts_with(['/', '{']) {
            return Err(format!("`{}` has no host name", printable(template)));
        }
        if let Some(c) = t
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "\"'<>`\\^|".contains(*c))
        {
            return Err(format!(
                "`{}` contains the character {c:?}, which a URL template may not use",
                printable(template)
            ));
        }
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                return Err(format!("`{}` has an unclosed `{{`", printable(template)));
            };
            let name = &after[..close];
            if !matches!(name, "rev" | "path" | "line") {
                return Err(format!(
                    "`{}` uses the placeholder `{{{name}}}`; only {{rev}}, {{path}} and {{line}} exist",
                    printable(template)
                ));
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`{}` has a stray `}}`", printable(template)));
        }
        Ok(SourceUrl {
            template: t.to_string(),
        })
    }

    /// The link to one place. `path` is percent-encoded segment by segment; `rev` as one
    /// segment.
    pub(crate) fn expand(&self, rev: &str, path: &str, line: u32) -> String {
        self.template
            .replace("{rev}", &percent_encode_segment(rev))
            .replace("{path}", &percent_encode_path(path))
            .replace("{line}", &line.max(1).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn source_url_rejects_other_schemes() {
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)//https://x",
            "data:text/html,x",
            "//example.com/{path}",
            "ftp://example.com/{path}",
            "https://",
            "https:///{path}",
            "https://example.com/{path}\" onmouseover=\"x",
            "https://example.com/{nope}",
            "https://example.com/{path",
            "https://example.com/ {path}",
        ] {
            assert!(SourceUrl::parse(bad).is_err(), "{bad}");
        }
        let ok =
            SourceUrl::parse("https://github.com/o/r/blob/{rev}/{path}#L{line}").expect("valid");
        assert_eq!(
            ok.expand("main", "src/a b/../x.go", 7),
            "https://github.com/o/r/blob/main/src/a%20b/%2E%2E/x.go#L7"
        );
        assert_eq!(
            ok.expand("feature/x", "a.go", 0),
            "https://github.com/o/r/blob/feature%2Fx/a.go#L1"
        );
    }
}
