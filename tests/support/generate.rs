//! The seeded model generator of tests/diagram.rs and benches/diagram.rs: annotation text
//! (`# @component ...` lines) for `components` components, `flows` distinct flows and,
//! optionally, 7 boundaries nested up to three deep. The same seed gives the same text.

/// A small deterministic generator (a linear congruential one).
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// The annotations of a generated model, one `# @...` comment line each.
pub(crate) fn annotations(
    seed: u64,
    components: usize,
    flows: usize,
    with_boundaries: bool,
) -> String {
    let mut rng = Lcg(seed);
    let mut text = String::new();
    // (id, parent): three trees, one three deep.
    let all: [(&str, Option<&str>); 7] = [
        ("edge", None),
        ("cloud", None),
        ("vpc", Some("cloud")),
        ("cluster", Some("vpc")),
        ("data", Some("vpc")),
        ("office", None),
        ("lab", Some("office")),
    ];
    let boundaries: &[(&str, Option<&str>)] = if with_boundaries { &all } else { &[] };
    for (id, parent) in boundaries {
        let within = parent.map_or(String::new(), |p| format!(" in #{p}"));
        text.push_str(&format!(
            "# @boundary The {id} zone (#{id}){within}: generated\n"
        ));
    }
    let types = ["process", "store", "external"];
    for i in 0..components {
        let b = rng.below(boundaries.len() + 1);
        let within = boundaries
            .get(b)
            .map_or(String::new(), |(id, _)| format!(" in #{id}"));
        let name = match rng.below(3) {
            0 => format!("Service {i}"),
            1 => format!("Payment reconciliation worker {i}"),
            _ => format!("Db{i}"),
        };
        text.push_str(&format!(
            "# @component {name} (#c{i}){within} [type: {}]\n",
            types[rng.below(3)]
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < flows.min(components * components.saturating_sub(1)) {
        let (s, t) = (rng.below(components), rng.below(components));
        if s == t || !seen.insert((s, t)) {
            continue;
        }
        text.push_str(&format!(
            "# @connects #c{s} to #c{t} with message {}\n",
            seen.len()
        ));
    }
    text
}
