//! The analysis: risk, residual status, boundary crossings, STRIDE-per-element coverage,
//! findings and the remediation plan.
//!
//! Unit-style tests build small models through the public API (`annotation::parse_text` and
//! `model::build`, or `scan::scan_dir` on a temporary folder). Snapshot tests run
//! `threatmark analyze` on the example system in docs/examples/shop, which the documentation
//! (docs/analysis.md) quotes; update them with `INSTA_UPDATE=always cargo test --test analysis`
//! and read the diff as a security reviewer would.

use std::path::{Path, PathBuf};

use threatmark::analysis::{
    self, Analysis, Basis, CoverageTarget, ElementKind, Finding, Residual, RiskMatrix, applicable,
};
use threatmark::annotation::parse_text;
use threatmark::config::Config;
use threatmark::diagnostic::{Code, Severity};
use threatmark::model::{
    self, Attributes, Band, ElementType, FileAnnotations, Impact, Likelihood, Project, Stride,
    ThreatModel,
};

mod support;
use support::{tm, write};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Build a model from files whose every line is comment text. Build errors fail the test, so a
/// typo in a fixture cannot silently drop a relation.
fn model_of(files: &[(&str, &str)]) -> ThreatModel {
    let mut parsed = Vec::new();
    for (path, text) in files {
        let (annotations, diags) = parse_text(path, text);
        assert!(diags.is_empty(), "{path}: {diags:#?}");
        parsed.push(FileAnnotations {
            path: (*path).to_string(),
            annotations,
        });
    }
    parsed.sort_by(|a, b| a.path.cmp(&b.path));
    let project = Project {
        name: "test".into(),
        description: String::new(),
    };
    let (model, diags) = model::build(project, &parsed);
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    model
}

fn model(text: &str) -> ThreatModel {
    model_of(&[("src/app.go", text)])
}

fn analyze(model: &ThreatModel, today: Option<&str>) -> Analysis {
    analysis::analyze(model, &RiskMatrix::default(), today.map(day))
}

fn day(s: &str) -> threatmark::date::Date {
    s.parse().expect("a date")
}

fn status(a: &Analysis, threat: &str) -> Residual {
    a.threats
        .iter()
        .find(|t| t.threat == threat)
        .unwrap_or_else(|| panic!("no assessment of {threat}"))
        .status
}

fn findings(a: &Analysis, code: Code) -> Vec<&Finding> {
    a.findings.iter().filter(|f| f.code == code).collect()
}

fn mentions(f: &Finding, kind: ElementKind, id: &str) -> bool {
    f.elements.iter().any(|e| e.kind == kind && e.id == id)
}

fn plan_order(a: &Analysis) -> Vec<&str> {
    a.plan.iter().map(|p| p.threat.as_str()).collect()
}

/// Declarations most tests share: one boundary, two components, a declared control.
const BASE: &str = "\
@boundary Data centre (#dc)
@component API (#api) in #dc [type: process; owner: team-api]
@component Worker (#worker) in #dc [type: process; owner: team-worker]
@control Input validation (#validation)
";

// ---------------------------------------------------------------------------------------------
// Risk

#[test]
fn default_matrix_scores_every_cell_as_likelihood_times_impact() {
    let m = RiskMatrix::default();
    for l in Likelihood::ALL {
        for i in Impact::ALL {
            assert_eq!(m.score(*l, *i), l.rank() * i.rank(), "{l} x {i}");
        }
    }
}

#[test]
fn default_band_edges_are_1_3_6_12_20() {
    let m = RiskMatrix::default();
    let cases = [
        (1, Band::VeryLow),
        (2, Band::VeryLow),
        (3, Band::Low),
        (5, Band::Low),
        (6, Band::Medium),
        (11, Band::Medium),
        (12, Band::High),
        (19, Band::High),
        (20, Band::Critical),
        (25, Band::Critical),
    ];
    for (score, band) in cases {
        assert_eq!(m.band(score), band, "score {score}");
    }
    // The same edges as cells of the matrix: the first cell of each band.
    let cells = [
        (Likelihood::Rare, Impact::Minor, 2, Band::VeryLow),
        (Likelihood::Possible, Impact::Negligible, 3, Band::Low),
        (Likelihood::Unlikely, Impact::Moderate, 6, Band::Medium),
        (Likelihood::Possible, Impact::Major, 12, Band::High),
        (Likelihood::Likely, Impact::Severe, 20, Band::Critical),
    ];
    for (l, i, score, band) in cells {
        let attrs = Attributes {
            likelihood: Some(l),
            impact: Some(i),
            ..Attributes::default()
        };
        let r = m.rate(&attrs).expect("rated");
        assert_eq!(
            (r.score, r.band, r.basis),
            (score, band, Basis::Matrix),
            "{l} x {i}"
        );
    }
}

#[test]
fn severity_stands_in_only_without_likelihood_and_impact() {
    let m = RiskMatrix::default();
    let rate = |attrs: Attributes| m.rate(&attrs);

    // Severity alone: the lowest score of its band.
    for (band, score) in [
        (Band::VeryLow, 1),
        (Band::Low, 3),
        (Band::Medium, 6),
        (Band::High, 12),
        (Band::Critical, 20),
    ] {
        let r = rate(Attributes {
            severity: Some(band),
            ..Attributes::default()
        })
        .expect("rated by severity");
        assert_eq!((r.score, r.band, r.basis), (score, band, Basis::Severity));
    }

    // Likelihood and impact win over a severity.
    let r = rate(Attributes {
        severity: Some(Band::Critical),
        likelihood: Some(Likelihood::Rare),
        impact: Some(Impact::Minor),
        ..Attributes::default()
    })
    .expect("rated");
    assert_eq!(
        (r.score, r.band, r.basis),
        (2, Band::VeryLow, Basis::Matrix)
    );

    // Half a rating falls back to the severity, and is kept for display.
    let r = rate(Attributes {
        severity: Some(Band::Medium),
        impact: Some(Impact::Severe),
        ..Attributes::default()
    })
    .expect("rated");
    assert_eq!(
        (r.score, r.band, r.basis),
        (6, Band::Medium, Basis::Severity)
    );
    assert_eq!(r.impact, Some(Impact::Severe));

    // Half a rating and no severity: unrated.
    assert!(
        rate(Attributes {
            likelihood: Some(Likelihood::Certain),
            ..Attributes::default()
        })
        .is_none()
    );
    assert!(rate(Attributes::default()).is_none());
}

const CUSTOM_RISK: &str = r#"
[risk]
scores = [
  [1, 2, 4, 7, 11],
  [2, 4, 7, 11, 16],
  [3, 6, 10, 15, 20],
  [4, 8, 13, 18, 23],
  [5, 10, 15, 21, 25],
]
band_edges = [1, 4, 9, 15, 21]
likelihood_labels = ["very unlikely", "unlikely", "even", "likely", "almost certain"]
impact_labels = ["insignificant", "minor", "moderate", "major", "catastrophic"]
"#;

#[test]
fn custom_matrix_from_threatmark_toml() {
    let config = Config::parse(CUSTOM_RISK, Path::new("threatmark.toml")).expect("valid [risk]");
    let m = &config.risk;
    let rate = |l, i| {
        m.rate(&Attributes {
            likelihood: Some(l),
            impact: Some(i),
            ..Attributes::default()
        })
        .expect("rated")
    };
    // Impact weighs more than likelihood in this matrix.
    let r = rate(Likelihood::Rare, Impact::Severe);
    assert_eq!((r.score, r.band), (11, Band::Medium));
    let r = rate(Likelihood::Certain, Impact::Negligible);
    assert_eq!((r.score, r.band), (5, Band::Low));
    // Both sides of the custom edges.
    assert_eq!(rate(Likelihood::Possible, Impact::Severe).band, Band::High); // 20
    assert_eq!(
        rate(Likelihood::Certain, Impact::Major).band,
        Band::Critical
    ); // 21
    assert_eq!(rate(Likelihood::Unlikely, Impact::Minor).band, Band::Low); // 4
    assert_eq!(rate(Likelihood::Rare, Impact::Moderate).band, Band::Low); // 4
    assert_eq!(rate(Likelihood::Rare, Impact::Minor).band, Band::VeryLow); // 2
}

#[test]
fn custom_matrix_reaches_the_analysis_and_its_matrix_view() {
    let config = Config::parse(CUSTOM_RISK, Path::new("threatmark.toml")).expect("valid [risk]");
    let m = model(&format!(
        "{BASE}@threat Outage (#outage) [likelihood: rare; impact: severe]\n\
         @threat Defacement (#deface) [severity: high]\n\
         @exposes #api to #outage\n\
         @exposes #api to #deface\n"
    ));
    let a = analysis::analyze(&m, &config.risk, None);
    let risk = |id: &str| {
        a.threats
            .iter()
            .find(|t| t.threat == id)
            .and_then(|t| t.risk.clone())
            .expect("rated")
    };
    assert_eq!(
        (risk("outage").score, risk("outage").band),
        (11, Band::Medium)
    );
    // A severity stands for the lowest score of its band, on this matrix too.
    assert_eq!(
        (risk("deface").score, risk("deface").band),
        (15, Band::High)
    );
    assert_eq!(plan_order(&a), ["deface", "outage"]);
    assert_eq!(a.matrix.likelihood[4], "almost certain");
    assert_eq!(a.matrix.impact[4], "catastrophic");
    assert_eq!(a.matrix.scores[0][4], 11);
    assert_eq!(a.matrix.bands[0][4], Band::Medium);
    assert_eq!(
        a.matrix.threats[0][4], 1,
        "the outage sits in rare x severe"
    );
}

#[test]
fn score_below_the_first_edge_is_very_low() {
    let m = RiskMatrix {
        band_edges: [2, 4, 8, 12, 20],
        ..RiskMatrix::default()
    };
    m.validate().expect("valid");
    assert_eq!(m.band(1), Band::VeryLow);
    assert_eq!(m.band(2), Band::VeryLow);
    assert_eq!(m.band(4), Band::Low);
}

#[test]
fn invalid_risk_configuration_is_rejected() {
    for bad in [
        "[risk]\nband_edges = [0, 3, 6, 12, 20]\n",
        "[risk]\nband_edges = [1, 6, 6, 12, 20]\n",
        "[risk]\nband_edges = [1, 3, 6, 20, 12]\n",
        "[risk]\nscores = [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10], [3, 6, 9, 12, 15], [4, 8, 12, 16, 20], [5, 10, 15, 20, 19]]\n",
        "[risk]\nscores = [[1, 2, 3, 4, 5], [2, 1, 6, 8, 10], [3, 6, 9, 12, 15], [4, 8, 12, 16, 20], [5, 10, 15, 20, 25]]\n",
        "[risk]\nband_edge = [1, 3, 6, 12, 20]\n",
    ] {
        assert!(
            Config::parse(bad, Path::new("threatmark.toml")).is_err(),
            "accepted: {bad}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Residual status

#[test]
fn each_residual_status() {
    let m = model(&format!(
        "{BASE}@threat Exposed (#exposed) [severity: low]\n\
         @threat Open (#open) [severity: low]\n\
         @threat Accepted (#accepted) [severity: low]\n\
         @threat Transferred (#transferred) [severity: low]\n\
         @threat Mitigated (#mitigated) [severity: low]\n\
         @exposes #api to #exposed with a bug\n\
         @exposes #api to #accepted with a bug\n\
         @accepts #accepted to #api with cheap to live with\n\
         @exposes #api to #transferred with a bug\n\
         @transfers #transferred from #api to #worker with the worker checks it\n\
         @exposes #api to #mitigated with a bug\n\
         @mitigates #api against #mitigated with #validation\n"
    ));
    let a = analyze(&m, Some("2026-11-23"));
    for (id, expected) in [
        ("exposed", Residual::Exposed),
        ("open", Residual::Open),
        ("accepted", Residual::Accepted),
        ("transferred", Residual::Transferred),
        ("mitigated", Residual::Mitigated),
    ] {
        assert_eq!(status(&a, id), expected, "{id}");
    }
    assert_eq!(a.summary.by_status.values().sum::<usize>(), 5);
    assert!(a.summary.by_status.values().all(|n| *n == 1));
    // Only exposed and open threats need work.
    assert_eq!(plan_order(&a), ["exposed", "open"]);
}

#[test]
fn relations_without_an_exposure_set_the_status_too() {
    let m = model(&format!(
        "{BASE}@threat M (#m) [severity: low]\n\
         @threat A (#a) [severity: low]\n\
         @threat T (#t) [severity: low]\n\
         @mitigates #api against #m with #validation\n\
         @accepts #a to #api\n\
         @transfers #t from #api to #worker\n"
    ));
    let a = analyze(&m, Some("2026-11-23"));
    assert_eq!(status(&a, "m"), Residual::Mitigated);
    assert_eq!(status(&a, "a"), Residual::Accepted);
    assert_eq!(status(&a, "t"), Residual::Transferred);
}

const EXPIRING: &str = "\
@threat Breakout (#breakout) [likelihood: unlikely; impact: severe]
@exposes #api to #breakout with runs as root
@accepts #breakout to #api with until the base image is fixed [expires: 2025-06-30; owner: team-api; ticket: SEC-1]
";

#[test]
fn acceptance_is_valid_until_and_including_its_expiry_date() {
    let m = model(&format!("{BASE}{EXPIRING}"));
    for today in [None, Some("2025-01-01"), Some("2025-06-30")] {
        let a = analyze(&m, today);
        assert_eq!(status(&a, "breakout"), Residual::Accepted, "{today:?}");
        assert!(findings(&a, Code::ExpiredAcceptance).is_empty());
        assert!(a.plan.is_empty());
        assert_eq!(a.date.map(|d| d.to_string()).as_deref(), today);
    }
}

#[test]
fn expired_acceptance_reopens_the_exposure() {
    let m = model(&format!("{BASE}{EXPIRING}"));
    let a = analyze(&m, Some("2025-07-01"));
    assert_eq!(status(&a, "breakout"), Residual::Exposed);
    let expired = findings(&a, Code::ExpiredAcceptance);
    assert_eq!(expired.len(), 1);
    let f = expired[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(mentions(f, ElementKind::Acceptance, "breakout/api"));
    assert!(f.message.contains("expired on 2025-06-30"), "{}", f.message);
    assert!(
        f.message.contains("owner: team-api; ticket: SEC-1"),
        "{}",
        f.message
    );
    assert_eq!(f.risk.as_ref().map(|r| r.score), Some(10));
    // The explicit exposure is open again as well.
    assert_eq!(findings(&a, Code::UnmitigatedExposure).len(), 1);
    assert_eq!(plan_order(&a), ["breakout"]);
}

#[test]
fn threat_level_expiry_applies_to_its_acceptances() {
    let m = model(&format!(
        "{BASE}@threat Legacy TLS (#legacy_tls) [severity: medium; expires: 2026-01-31]\n\
         @accepts #legacy_tls to #api with old clients\n\
         @threat Weak hash (#weak_hash) [severity: medium; expires: 2026-01-31]\n\
         @accepts #weak_hash to #api with migration planned [expires: 2027-01-31]\n"
    ));
    let a = analyze(&m, Some("2026-06-01"));
    assert_eq!(status(&a, "legacy_tls"), Residual::Exposed);
    assert_eq!(
        status(&a, "weak_hash"),
        Residual::Accepted,
        "the acceptance's own date wins"
    );
}

#[test]
fn expired_acceptance_elsewhere_is_not_hidden_by_a_mitigation() {
    // Regression: a mitigation on one component used to make the threat "mitigated" before the
    // acceptance on another component was looked at, so an expired acceptance went unreported.
    let m = model(&format!(
        "{BASE}@threat Breakout (#breakout) [likelihood: unlikely; impact: severe]\n\
         @mitigates #worker against #breakout with #validation\n\
         @accepts #breakout to #api with runs as root [expires: 2025-06-30]\n"
    ));
    let a = analyze(&m, Some("2026-11-23"));
    assert_eq!(status(&a, "breakout"), Residual::Exposed);
    assert_eq!(findings(&a, Code::ExpiredAcceptance).len(), 1);
    assert!(
        findings(&a, Code::UnmitigatedExposure).is_empty(),
        "no @exposes, so no TM101"
    );
    let item = &a.plan[0];
    assert_eq!(item.components, ["api"], "only where work is left");
    assert_eq!(item.candidate_controls, ["validation"]);
    assert_eq!(
        item.locations[0].line, 7,
        "the plan points at the expired acceptance first"
    );

    // Without a date the acceptance holds, and the weakest cover wins: accepted.
    assert_eq!(status(&analyze(&m, None), "breakout"), Residual::Accepted);
}

#[test]
fn expired_acceptance_on_a_mitigated_component_is_moot() {
    let m = model(&format!(
        "{BASE}@threat Breakout (#breakout) [severity: high]\n\
         @mitigates #api against #breakout with #validation\n\
         @accepts #breakout to #api with before the fix [expires: 2025-06-30]\n"
    ));
    let a = analyze(&m, Some("2026-11-23"));
    assert_eq!(status(&a, "breakout"), Residual::Mitigated);
    assert!(findings(&a, Code::ExpiredAcceptance).is_empty());
}

#[test]
fn multiple_exposures_take_the_weakest_cover() {
    let m = model(&format!(
        "{BASE}@component Cron (#cron) in #dc [type: process]\n\
         @threat Partly mitigated (#partly) [severity: high]\n\
         @exposes #api to #partly\n\
         @exposes #worker to #partly\n\
         @exposes #cron to #partly\n\
         @mitigates #api against #partly with #validation\n\
         @threat Accepted and transferred (#mixed) [severity: high]\n\
         @exposes #api to #mixed\n\
         @exposes #worker to #mixed\n\
         @accepts #mixed to #api\n\
         @transfers #mixed from #worker to #cron\n\
         @threat Mitigated and transferred (#mt) [severity: high]\n\
         @exposes #api to #mt\n\
         @exposes #worker to #mt\n\
         @mitigates #api against #mt with #validation\n\
         @transfers #mt from #worker to #cron\n\
         @threat All mitigated (#all) [severity: high]\n\
         @exposes #api to #all\n\
         @exposes #worker to #all\n\
         @mitigates #api against #all with #validation\n\
         @mitigates #worker against #all with #validation\n"
    ));
    let a = analyze(&m, Some("2026-11-23"));
    assert_eq!(status(&a, "partly"), Residual::Exposed);
    assert_eq!(status(&a, "mixed"), Residual::Accepted);
    assert_eq!(status(&a, "mt"), Residual::Transferred);
    assert_eq!(status(&a, "all"), Residual::Mitigated);

    // One finding per open exposure; the plan lists only the uncovered components.
    let open = findings(&a, Code::UnmitigatedExposure);
    assert_eq!(open.len(), 2);
    assert!(
        open.iter()
            .all(|f| mentions(f, ElementKind::Threat, "partly"))
    );
    assert_eq!(plan_order(&a), ["partly"]);
    assert_eq!(a.plan[0].components, ["cron", "worker"]);
    assert_eq!(a.plan[0].candidate_controls, ["validation"]);
    let where_: Vec<u32> = a.plan[0].locations.iter().map(|l| l.line).collect();
    assert_eq!(
        where_,
        [9, 8, 6],
        "exposures of cron and worker, then the declaration"
    );
}

// ---------------------------------------------------------------------------------------------
// Boundary crossings

const NESTED: &str = "\
@boundary Internet (#internet)
@boundary Cloud account (#cloud)
@boundary Cluster (#cluster) in #cloud
@boundary Data subnet (#data) in #cloud
@component Browser (#browser) in #internet [type: external]
@component Gateway (#gateway) in #cluster [type: process]
@component Orders (#orders) in #cluster [type: process]
@component Queue (#queue) in #cloud [type: store]
@component Database (#db) in #data [type: store]
@component Laptop (#laptop) [type: external]
@connects #gateway to #orders with in-cluster HTTP
@connects #orders to #queue with events
@connects #browser to #gateway with HTTPS
@connects #orders to #db with SQL
@connects #laptop to #gateway with kubectl port-forward
";

fn crosses<'a>(a: &'a Analysis, source: &str, target: &str) -> Option<&'a [String]> {
    a.crossings
        .iter()
        .find(|c| c.source == source && c.target == target)
        .map(|c| c.crosses.as_slice())
}

#[test]
fn crossings_follow_nested_boundaries() {
    let m = model(NESTED);
    let a = analyze(&m, None);
    // Within one boundary: not a crossing.
    assert_eq!(crosses(&a, "gateway", "orders"), None);
    // Inner to outer: only the inner boundary is crossed.
    assert_eq!(
        crosses(&a, "orders", "queue"),
        Some(&["cluster".to_string()][..])
    );
    // Sibling boundaries: both are crossed, their common parent is not.
    assert_eq!(
        crosses(&a, "orders", "db"),
        Some(&["cluster".to_string(), "data".to_string()][..])
    );
    // From the Internet into the cluster: everything on both sides, outermost first.
    assert_eq!(
        crosses(&a, "browser", "gateway"),
        Some(
            &[
                "cloud".to_string(),
                "internet".to_string(),
                "cluster".to_string()
            ][..]
        )
    );
    // From no boundary at all into the cluster.
    assert_eq!(
        crosses(&a, "laptop", "gateway"),
        Some(&["cloud".to_string(), "cluster".to_string()][..])
    );
    assert_eq!(a.summary.crossings, 4);
}

#[test]
fn a_crossing_is_guarded_by_a_mitigation_on_either_end() {
    let m = model(&format!(
        "{NESTED}@threat Injection (#injection) [severity: high]\n\
         @threat Poisoned event (#poison) [severity: medium]\n\
         @control Prepared statements (#prepared)\n\
         @control Schema check (#schema)\n\
         @mitigates #db against #injection with #prepared\n\
         @mitigates #orders against #poison with #schema\n"
    ));
    let a = analyze(&m, None);
    let crossing = |s: &str, t: &str| {
        a.crossings
            .iter()
            .find(|c| c.source == s && c.target == t)
            .expect("crossing")
    };
    // Guarded at the target, at the source, and by both.
    assert!(crossing("orders", "db").guarded);
    assert_eq!(crossing("orders", "db").controls, ["prepared", "schema"]);
    assert!(crossing("orders", "queue").guarded);
    assert_eq!(crossing("orders", "queue").controls, ["schema"]);
    // Neither end has a mitigation.
    for (s, t) in [("browser", "gateway"), ("laptop", "gateway")] {
        let c = crossing(s, t);
        assert!(!c.guarded && c.controls.is_empty(), "{s} -> {t}");
    }
    assert_eq!(a.summary.unguarded_crossings, 2);

    let unguarded = findings(&a, Code::UnguardedCrossing);
    assert_eq!(unguarded.len(), 2);
    let f = unguarded
        .iter()
        .find(|f| mentions(f, ElementKind::Component, "browser"))
        .expect("browser crossing reported");
    assert_eq!(f.severity, Severity::Warning);
    assert!(mentions(f, ElementKind::Flow, "browser/gateway/https"));
    assert_eq!(
        f.message,
        "flow `HTTPS` from `browser` to `gateway` crosses `cloud`, `internet`, `cluster` \
         and no control covers either end"
    );
    assert_eq!(f.locations[0].line, 13);
}

// ---------------------------------------------------------------------------------------------
// STRIDE per element

#[test]
fn stride_per_element_chart() {
    use Stride::*;
    assert_eq!(applicable(None), Stride::ALL);
    assert_eq!(applicable(Some(ElementType::Process)), Stride::ALL);
    assert_eq!(
        applicable(Some(ElementType::Store)),
        [
            Tampering,
            Repudiation,
            InformationDisclosure,
            DenialOfService
        ]
    );
    assert_eq!(
        applicable(Some(ElementType::External)),
        [Spoofing, Repudiation]
    );
    assert_eq!(
        analysis::FLOW_STRIDE,
        [Tampering, InformationDisclosure, DenialOfService]
    );
}

#[test]
fn coverage_of_each_element_type_on_a_crossing() {
    use Stride::*;
    let m = model(
        "@boundary Internet (#internet)\n\
         @boundary DC (#dc)\n\
         @boundary DB zone (#dbz)\n\
         @component User (#user) in #internet [type: external]\n\
         @component API (#api) in #dc [type: process]\n\
         @component Untyped (#untyped) in #dc\n\
         @component DB (#db) in #dbz [type: store]\n\
         @component Cache (#cache) in #dc [type: store]\n\
         @control Ctl (#ctl)\n\
         @connects #user to #api with HTTPS\n\
         @connects #api to #db with SQL\n\
         @connects #api to #cache with cache reads\n\
         @connects #untyped to #db with batch export\n\
         @threat Phishing (#phish) [stride: S; severity: low]\n\
         @threat Token theft (#token) [stride: S,E; severity: low]\n\
         @threat Row tampering (#rows) [stride: T; severity: low]\n\
         @threat Dump (#dump) [stride: I; severity: low]\n\
         @threat Outage (#outage) [stride: D; severity: low]\n\
         @exposes #user to #phish\n\
         @exposes #api to #token\n\
         @mitigates #db against #rows with #ctl\n\
         @accepts #dump to #db\n\
         @transfers #outage from #cache to #db\n",
    );
    let a = analyze(&m, None);
    let row = |kind: ElementKind, id: &str| {
        a.coverage
            .iter()
            .find(|c| c.element.kind == kind && c.element.id == id)
            .unwrap_or_else(|| panic!("no coverage row for {id}"))
    };

    let user = row(ElementKind::Component, "user");
    assert_eq!(
        user.element_type,
        CoverageTarget::Element(ElementType::External)
    );
    assert_eq!(
        (user.covered.as_slice(), user.missing.as_slice()),
        (&[Spoofing][..], &[Repudiation][..])
    );

    let api = row(ElementKind::Component, "api");
    assert_eq!(
        api.element_type,
        CoverageTarget::Element(ElementType::Process)
    );
    assert_eq!(api.applicable, Stride::ALL);
    assert_eq!(api.covered, [Spoofing, ElevationOfPrivilege]);
    assert_eq!(
        api.missing,
        [
            Tampering,
            Repudiation,
            InformationDisclosure,
            DenialOfService
        ]
    );

    // A component without a type is treated as a process.
    let untyped = row(ElementKind::Component, "untyped");
    assert_eq!(
        untyped.element_type,
        CoverageTarget::Element(ElementType::Process)
    );
    assert_eq!(untyped.missing, Stride::ALL);

    // Mitigations, acceptances and both ends of transfers count as coverage.
    let db = row(ElementKind::Component, "db");
    assert_eq!(db.element_type, CoverageTarget::Element(ElementType::Store));
    assert_eq!(
        db.applicable,
        [
            Tampering,
            Repudiation,
            InformationDisclosure,
            DenialOfService
        ]
    );
    assert_eq!(
        db.covered,
        [Tampering, InformationDisclosure, DenialOfService]
    );
    assert_eq!(db.missing, [Repudiation]);

    // A flow is covered by the threats of its two ends.
    let https = row(ElementKind::Flow, "user/api/https");
    assert_eq!(https.element_type, CoverageTarget::Flow);
    assert_eq!(https.applicable, analysis::FLOW_STRIDE);
    assert!(https.covered.is_empty(), "S and E do not apply to a flow");
    let sql = row(ElementKind::Flow, "api/db/sql");
    assert_eq!(
        sql.covered,
        [Tampering, InformationDisclosure, DenialOfService]
    );
    assert!(sql.missing.is_empty());

    // Only elements on crossings get a row: the cache sits in the API's boundary.
    assert!(
        !a.coverage.iter().any(|c| c.element.id == "cache"),
        "{:?}",
        a.coverage
    );
    assert!(
        !a.coverage
            .iter()
            .any(|c| c.element.id == "api/cache/cache_reads")
    );

    // One TM103 note per row with a gap, none for complete rows.
    let gaps = findings(&a, Code::StrideGap);
    assert_eq!(
        gaps.len(),
        a.coverage.iter().filter(|c| !c.missing.is_empty()).count()
    );
    assert!(gaps.iter().all(|f| f.severity == Severity::Note));
    assert!(
        !gaps
            .iter()
            .any(|f| mentions(f, ElementKind::Flow, "api/db/sql"))
    );
    let db_gap = gaps
        .iter()
        .find(|f| mentions(f, ElementKind::Component, "db"))
        .expect("db gap");
    assert_eq!(
        db_gap.message,
        "component `db` (store) is on a boundary crossing but has no threats for: Repudiation"
    );
    let flow_gap = gaps
        .iter()
        .find(|f| mentions(f, ElementKind::Flow, "user/api/https"))
        .expect("flow gap");
    assert_eq!(
        flow_gap.message,
        "flow `HTTPS` from `user` to `api` crosses `dc`, `internet` but has no threats for: \
         Tampering, Information disclosure, Denial of service"
    );
}

// ---------------------------------------------------------------------------------------------
// Findings, one code at a time

#[test]
fn tm101_severity_follows_the_risk_band() {
    let m = model(&format!(
        "{BASE}@threat C (#c) [likelihood: certain; impact: severe]\n\
         @threat H (#h) [severity: high]\n\
         @threat M (#m) [likelihood: possible; impact: moderate]\n\
         @threat L (#l) [severity: low]\n\
         @threat V (#v) [likelihood: rare; impact: negligible]\n\
         @threat U (#u)\n\
         @exposes #api to #c\n@exposes #api to #h\n@exposes #api to #m\n\
         @exposes #api to #l\n@exposes #api to #v\n@exposes #api to #u\n"
    ));
    let a = analyze(&m, None);
    let severity = |t: &str| {
        findings(&a, Code::UnmitigatedExposure)
            .into_iter()
            .find(|f| mentions(f, ElementKind::Threat, t))
            .map(|f| f.severity)
            .expect("finding")
    };
    assert_eq!(severity("c"), Severity::Error);
    assert_eq!(severity("h"), Severity::Error);
    assert_eq!(severity("m"), Severity::Warning);
    assert_eq!(severity("u"), Severity::Warning);
    assert_eq!(severity("l"), Severity::Note);
    assert_eq!(severity("v"), Severity::Note);

    let f = findings(&a, Code::UnmitigatedExposure)[0];
    assert!(mentions(f, ElementKind::Exposure, "api/c"));
    assert!(mentions(f, ElementKind::Component, "api"));
    assert_eq!(
        f.message,
        "`api` is exposed to `C` and nothing mitigates, accepts or transfers it"
    );
    // Ranked by risk within the code.
    let order: Vec<_> = findings(&a, Code::UnmitigatedExposure)
        .iter()
        .map(|f| f.risk.as_ref().map(|r| r.score))
        .collect();
    assert_eq!(order, [Some(25), Some(12), Some(9), Some(3), Some(1), None]);
}

#[test]
fn tm104_expired_acceptance_is_only_checked_with_a_date() {
    let m = model(&format!("{BASE}{EXPIRING}"));
    assert!(findings(&analyze(&m, None), Code::ExpiredAcceptance).is_empty());
    assert_eq!(
        findings(&analyze(&m, Some("2030-01-01")), Code::ExpiredAcceptance).len(),
        1
    );
}

#[test]
fn tm105_unrated_threats() {
    let m = model(&format!(
        "{BASE}@threat Rated (#rated) [likelihood: rare; impact: minor]\n\
         @threat By severity (#sev) [severity: low]\n\
         @threat Half (#half) [impact: major]\n\
         @threat Bare (#bare)\n\
         @exposes #api to #rated\n@exposes #api to #sev\n@exposes #api to #half\n@exposes #api to #bare\n"
    ));
    let a = analyze(&m, None);
    let unrated: Vec<_> = findings(&a, Code::UnratedThreat)
        .iter()
        .flat_map(|f| f.elements.iter().map(|e| e.id.as_str()))
        .collect();
    assert_eq!(unrated, ["bare", "half"]);
    assert!(
        findings(&a, Code::UnratedThreat)
            .iter()
            .all(|f| f.severity == Severity::Warning)
    );
    assert_eq!(a.summary.open_by_band.get("unrated"), Some(&2));
}

#[test]
fn tm106_owner_is_inherited_from_a_single_component_owner() {
    let m = model(&format!(
        "{BASE}@component Untended (#untended) in #dc [type: process]\n\
         @threat Own owner (#own) [severity: low; owner: appsec]\n\
         @threat One component (#one) [severity: low]\n\
         @threat Two owners (#two) [severity: low]\n\
         @threat Same owner twice (#same) [severity: low]\n\
         @threat Owner and no owner (#mixed) [severity: low]\n\
         @threat Nowhere (#nowhere) [severity: low]\n\
         @exposes #api to #own\n\
         @exposes #worker to #own\n\
         @exposes #api to #one\n\
         @exposes #api to #two\n\
         @mitigates #worker against #two with #validation\n\
         @component API v2 (#api2) in #dc [owner: team-api]\n\
         @exposes #api to #same\n\
         @exposes #api2 to #same\n\
         @exposes #api to #mixed\n\
         @exposes #untended to #mixed\n"
    ));
    let a = analyze(&m, None);
    let owner = |t: &str| {
        a.threats
            .iter()
            .find(|x| x.threat == t)
            .and_then(|x| x.owner.clone())
    };
    assert_eq!(
        owner("own").as_deref(),
        Some("appsec"),
        "the threat's own owner wins"
    );
    assert_eq!(owner("one").as_deref(), Some("team-api"));
    assert_eq!(owner("same").as_deref(), Some("team-api"));
    assert_eq!(
        owner("mixed").as_deref(),
        Some("team-api"),
        "the only owner among its components"
    );
    assert_eq!(owner("two"), None);
    assert_eq!(owner("nowhere"), None);

    let unowned = findings(&a, Code::UnownedThreat);
    let ids: Vec<_> = unowned.iter().map(|f| f.elements[0].id.as_str()).collect();
    assert_eq!(ids, ["nowhere", "two"], "equal risk, so by element");
    assert!(unowned.iter().all(|f| f.severity == Severity::Note));
    assert_eq!(unowned[0].message, "threat `Nowhere` has no owner");
    assert_eq!(
        unowned[1].message,
        "threat `Two owners` has no owner, and its components have different owners: \
         team-api (api), team-worker (worker)"
    );
    // The plan carries the inherited owner.
    let item = a.plan.iter().find(|p| p.threat == "one").expect("planned");
    assert_eq!(item.owner.as_deref(), Some("team-api"));
}

#[test]
fn tm107_unused_controls() {
    let m = model(&format!(
        "{BASE}@control Used (#used)\n\
         @control Tested only (#tested)\n\
         @threat T (#t) [severity: low]\n\
         @mitigates #api against #t with #used\n\
         @tests #tested for #api\n\
         @mitigates #api against #t with Undeclared control\n"
    ));
    let a = analyze(&m, None);
    let unused: Vec<_> = findings(&a, Code::UnusedControl)
        .iter()
        .map(|f| f.elements[0].id.as_str())
        .collect();
    assert_eq!(unused, ["validation"], "declared in BASE and never used");
    assert_eq!(
        findings(&a, Code::UnusedControl)[0].message,
        "control `Input validation` mitigates nothing and is tested nowhere"
    );
}

#[test]
fn tm108_components_without_threats() {
    let m = model(
        "@component Shop:Orders (#shop_orders) [type: process]\n\
         @component Shop:Orders:Worker [type: process]\n\
         @component Reviewed (#reviewed) [type: process]\n\
         @component Forgotten (#forgotten) [type: store]\n\
         @component Partner (#partner) [type: external]\n\
         @component Carrier (#carrier) [type: process]\n\
         @threat T (#t) [severity: low]\n\
         @exposes Shop:Orders:Worker to #t\n\
         @transfers #t from Shop:Orders:Worker to #carrier\n\
         @review #reviewed looked at it in Q3, nothing to declare\n",
    );
    let a = analyze(&m, None);
    let without: Vec<_> = findings(&a, Code::ComponentWithoutThreats)
        .iter()
        .map(|f| f.elements[0].id.as_str())
        .collect();
    // Parents of a linked child, reviewed components, externals and the receiving end of a
    // transfer are not reported.
    assert_eq!(without, ["forgotten"]);
    assert_eq!(
        findings(&a, Code::ComponentWithoutThreats)[0].message,
        "component `Forgotten` has no threats"
    );
}

#[test]
fn tm109_unaddressed_threats() {
    let m = model(&format!(
        "{BASE}@threat Linked (#linked) [severity: low]\n\
         @threat Floating (#floating) [severity: medium; owner: appsec]\n\
         @exposes #api to #linked\n"
    ));
    let a = analyze(&m, None);
    let f = findings(&a, Code::UnaddressedThreat);
    assert_eq!(f.len(), 1);
    assert!(mentions(f[0], ElementKind::Threat, "floating"));
    assert_eq!(f[0].message, "threat `Floating` is linked to no component");
    assert_eq!(status(&a, "floating"), Residual::Open);
    // It is still planned, ranked by its risk, with nowhere to point but its declaration.
    assert_eq!(plan_order(&a), ["floating", "linked"]);
    assert!(a.plan[0].components.is_empty());
    assert_eq!(a.plan[0].locations.len(), 1);
}

#[test]
fn every_finding_code_is_counted_in_the_summary() {
    let m = model(&format!(
        "{NESTED}{BASE}{EXPIRING}@threat Floating (#floating)\n"
    ));
    let a = analyze(&m, Some("2026-11-23"));
    for code in [
        Code::UnmitigatedExposure,
        Code::UnguardedCrossing,
        Code::StrideGap,
        Code::ExpiredAcceptance,
        Code::UnratedThreat,
        Code::UnownedThreat,
        Code::UnusedControl,
        Code::ComponentWithoutThreats,
        Code::UnaddressedThreat,
    ] {
        let n = findings(&a, code).len();
        assert!(n > 0, "{code} not found");
        assert_eq!(a.summary.findings_by_code.get(code.as_str()), Some(&n));
    }
    assert_eq!(
        a.summary.findings_by_code.values().sum::<usize>(),
        a.findings.len()
    );
    // Findings are grouped by code, in code order.
    let codes: Vec<Code> = a.findings.iter().map(|f| f.code).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted);
}

// ---------------------------------------------------------------------------------------------
// The remediation plan

#[test]
fn plan_is_ranked_by_risk_then_id_with_unrated_last() {
    let m = model(&format!(
        "{BASE}@threat Zeta (#zeta) [likelihood: possible; impact: major]\n\
         @threat Alpha (#alpha) [severity: high]\n\
         @threat Beta (#beta) [likelihood: certain; impact: severe]\n\
         @threat Gamma (#gamma)\n\
         @threat Delta (#delta) [likelihood: rare; impact: negligible]\n\
         @threat Aardvark (#aardvark)\n\
         @threat Done (#done) [likelihood: certain; impact: severe]\n\
         @exposes #api to #zeta\n@exposes #api to #alpha\n@exposes #api to #beta\n\
         @exposes #api to #gamma\n@exposes #worker to #delta\n\
         @mitigates #api against #done with #validation\n"
    ));
    let a = analyze(&m, None);
    // 25, then two 12s (a severity and a matrix score tie: by id), 1, then unrated by id;
    // the declared-only `aardvark` is open and planned; the mitigated `done` is not.
    assert_eq!(
        plan_order(&a),
        ["beta", "alpha", "zeta", "delta", "aardvark", "gamma"]
    );
    let ranks: Vec<usize> = a.plan.iter().map(|p| p.rank).collect();
    assert_eq!(ranks, [1, 2, 3, 4, 5, 6]);
    let beta = &a.plan[0];
    assert_eq!(beta.name, "Beta");
    assert_eq!(beta.status, Residual::Exposed);
    assert_eq!(beta.components, ["api"]);
    assert_eq!(beta.owner.as_deref(), Some("team-api"));
    assert_eq!(
        beta.risk.as_ref().map(|r| (r.score, r.band)),
        Some((25, Band::Critical))
    );
    assert_eq!(
        a.plan
            .iter()
            .find(|p| p.threat == "delta")
            .map(|p| p.owner.as_deref()),
        Some(Some("team-worker"))
    );
    assert!(a.plan[4..].iter().all(|p| p.risk.is_none()));
}

#[test]
fn candidate_controls_are_declared_controls_used_elsewhere() {
    let m = model(&format!(
        "{BASE}@threat Injection (#injection) [severity: high]\n\
         @exposes #worker to #injection\n\
         @mitigates #api against #injection with #validation\n\
         @mitigates #api against #injection with Ad hoc escaping\n"
    ));
    let a = analyze(&m, None);
    assert_eq!(a.plan[0].candidate_controls, ["validation"]);
    assert_eq!(a.plan[0].components, ["worker"]);
}

// ---------------------------------------------------------------------------------------------
// Scanning a folder: the analysis embedded in threatmodel.json

#[test]
fn embedded_analysis_has_no_date_and_uses_the_configured_matrix() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "threatmark.toml",
        format!("[project]\nname = \"demo\"\n{CUSTOM_RISK}"),
    );
    write(
        dir.path(),
        "Dockerfile",
        "# @component Worker (#worker) [type: process; owner: platform]\n\
         # @threat Breakout (#breakout) [likelihood: rare; impact: severe]\n\
         # @accepts #breakout to #worker with root for now [expires: 2025-06-30]\n\
         FROM alpine:3.20\n",
    );
    let config = Config::load(dir.path(), None).expect("config");
    let result = threatmark::scan::scan_dir(dir.path(), &config, 1, &|| {}).expect("scan");
    let embedded = result.model.analysis.clone().expect("embedded analysis");
    assert_eq!(embedded.date, None);
    assert_eq!(status(&embedded, "breakout"), Residual::Accepted);
    assert!(findings(&embedded, Code::ExpiredAcceptance).is_empty());
    let risk = embedded.threats[0].risk.clone().expect("rated");
    assert_eq!((risk.score, risk.band), (11, Band::Medium), "custom matrix");
    // The model file does not say "date" anywhere, so it never changes with the calendar.
    assert!(!model::to_json(&result.model).contains("\"date\""));

    // `analyze` with a date sees the expiry.
    let dated = analysis::analyze(&result.model, &config.risk, Some(day("2026-11-23")));
    assert_eq!(status(&dated, "breakout"), Residual::Exposed);
    assert_eq!(findings(&dated, Code::ExpiredAcceptance).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Snapshots of `threatmark analyze` on docs/examples/shop

fn shop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/shop")
}

fn analyze_shop(format: &str) -> (String, String) {
    let out = tm()
        .current_dir(shop())
        .args(["analyze", ".", "--today", "2026-11-23", "--format", format])
        .output()
        .expect("run threatmark");
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

#[test]
fn shop_table() {
    let (stdout, stderr) = analyze_shop("table");
    insta::assert_snapshot!("shop_table", stdout);
    insta::assert_snapshot!("shop_findings", stderr);
}

#[test]
fn shop_json() {
    let (stdout, stderr) = analyze_shop("json");
    assert!(stderr.is_empty(), "{stderr}");
    let parsed: Analysis = serde_json::from_str(&stdout).expect("the JSON is an Analysis");
    assert_eq!(
        parsed.date.map(|d| d.to_string()).as_deref(),
        Some("2026-11-23")
    );
    insta::assert_snapshot!("shop_json", stdout);
}

#[test]
fn shop_model_scans_cleanly_and_shows_what_the_docs_promise() {
    let config = Config::load(&shop(), None).expect("config");
    let result = threatmark::scan::scan_dir(&shop(), &config, 2, &|| {}).expect("scan");
    assert!(
        result.diagnostics.is_empty(),
        "the example must scan without diagnostics: {:#?}",
        result.diagnostics
    );
    let m = &result.model;
    assert_eq!(m.project.name, "shop");
    let actors: Vec<_> = m.actors.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        actors,
        [
            "malicious_insider",
            "malicious_outsider",
            "uninformed_insider"
        ]
    );
    for actor in &actors {
        assert!(
            m.threats
                .iter()
                .any(|t| t.attributes.actor.as_deref() == Some(*actor)),
            "no threat names {actor}"
        );
    }
    let k8s = m.boundary("k8s").expect("k8s boundary");
    assert_eq!(k8s.extra.parent.as_deref(), Some("aws"));

    let a = analysis::analyze(m, &config.risk, Some(day("2026-11-23")));
    for s in [
        Residual::Exposed,
        Residual::Open,
        Residual::Accepted,
        Residual::Transferred,
        Residual::Mitigated,
    ] {
        assert!(a.threats.iter().any(|t| t.status == s), "no {s:?} threat");
    }
    for code in [
        Code::UnmitigatedExposure,
        Code::UnguardedCrossing,
        Code::StrideGap,
        Code::ExpiredAcceptance,
        Code::UnratedThreat,
        Code::UnownedThreat,
        Code::UnusedControl,
        Code::ComponentWithoutThreats,
        Code::UnaddressedThreat,
    ] {
        assert!(!findings(&a, code).is_empty(), "the shop shows no {code}");
    }
    assert_eq!(
        status(&a, "region_outage"),
        Residual::Accepted,
        "expires 2027-12-31"
    );
    assert_eq!(
        status(&a, "container_escape"),
        Residual::Exposed,
        "expired 2025-06-30"
    );
    assert_eq!(status(&a, "card_theft"), Residual::Transferred);
    assert!(a.crossings.iter().any(|c| c.guarded));
    assert!(a.crossings.iter().any(|c| !c.guarded));
}
