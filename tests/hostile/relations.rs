//! Hostile suite: the model's honesty and its bounds (issue 14). A pull request may add files
//! that re-rate a threat declared elsewhere, hide a tag behind an invisible character, write
//! relations that mean nothing, or nest names and boundaries thousands deep; each ends in a
//! diagnostic that names the annotation, and the gate sees it.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Conflicting declarations
// ---------------------------------------------------------------------------------------------

// @tests #rating_conflicts_fail for #builder
/// An earlier-sorting file that re-rates a threat is an error (TM014) at its line: the model
/// keeps the first declaration (deterministic), but `scan --strict` fails, as `check` does.
#[test]
fn a_file_that_re_rates_a_threat_declared_elsewhere_is_an_error() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "a.py",
        "# @threat Session fixation (#x) [impact: negligible; likelihood: rare]\n",
    );
    write(
        root,
        "z.py",
        "# @threat Session fixation (#x) [impact: severe; likelihood: certain]\n# @exposes Web to #x\n",
    );
    // Adding a rating by reference to a rated threat re-rates it too (severity vs the matrix).
    write(
        root,
        "b.py",
        "# @threat Replay (#r) [severity: critical]\n# @exposes Web to #r\n",
    );
    write(
        root,
        "a2.py",
        "# @threat #r [likelihood: rare; impact: negligible]\n",
    );
    // A description added by reference, and an owner set in one place only, stay harmless.
    write(root, "c.py", "# @threat #x: more words by reference\n");
    let (out, model) = scan(root, &[]);
    let d = diagnostic(&out.stderr, "TM014", "z.py:1");
    assert!(d.starts_with("error[TM014]"), "{d}");
    assert!(d.contains("different impact"), "{d}");
    let d = diagnostic(&out.stderr, "TM014", "b.py:1");
    assert!(d.contains("rating of its own"), "{d}");
    assert_eq!(
        located(&out.stderr, "TM014"),
        ["b.py:1:3", "z.py:1:3", "z.py:1:3"],
        "{}",
        out.stderr
    );
    assert!(located(&out.stderr, "TM013").is_empty(), "{}", out.stderr);
    // Deterministic: the first in path order wins.
    assert_eq!(threat(&model, "x")["impact"], "negligible");
    assert_eq!(threat(&model, "r")["likelihood"], "rare");
    assert!(threat(&model, "r").get("severity").is_none());
    let strict = run(tm().args(["scan", "--strict", "-q"]).arg(root));
    assert_eq!(strict.code, 1, "{}", strict.stderr);
}

// ---------------------------------------------------------------------------------------------
// Bounded work: hierarchy and nesting depth
// ---------------------------------------------------------------------------------------------

/// Generous: these inputs took 70 to 160 s in a debug build before the depth cap.
const BOUNDED: Duration = Duration::from_secs(30);

// @tests #depth_cap for #builder
/// One 16 KB line `@component A:A:...:A` (8,000 segments) and a 4,000-deep chain declared over
/// several lines made 450 MB and 390 MB models in minutes; the names are now kept whole, without
/// parents, with TM030 at each, and the model is about as large as the input.
#[test]
fn component_names_thousands_of_segments_deep_are_cut_at_max_depth() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "seg.py",
        format!("# @component {}\n", vec!["A"; 8000].join(":")),
    );
    let mut chain = String::new();
    for k in 1..=4 {
        let name: Vec<String> = (0..1000 * k).map(|i| format!("N{i}")).collect();
        chain.push_str(&format!("# @component {}\n\n", name.join(":")));
    }
    // At the limit: 64 levels are fine.
    let ok: Vec<String> = (0..64).map(|i| format!("L{i}")).collect();
    chain.push_str(&format!("# @component {} (#deepest_ok)\n", ok.join(":")));
    write(root, "chain.py", &chain);
    let input = chain.len() + 16_000;
    let (out, model) = scan(root, &[]);
    assert!(out.elapsed < BOUNDED, "took {:?}", out.elapsed);
    assert!(
        out.stdout.len() < 20 * input,
        "model of {} bytes for {input} bytes of input",
        out.stdout.len()
    );
    assert_eq!(
        located(&out.stderr, "TM030"),
        [
            "chain.py:1:14",
            "chain.py:3:14",
            "chain.py:5:14",
            "chain.py:7:14",
            "seg.py:1:14"
        ],
        "{}",
        out.stderr
    );
    let d = diagnostic(&out.stderr, "TM030", "seg.py");
    assert!(d.starts_with("error[TM030]"), "{d}");
    assert!(d.contains("8000 `:` levels"), "{d}");
    // The 64-level name has its 63 ancestors; the deep ones are single components.
    assert_eq!(ids(&model, "components").len(), 64 + 4 + 1);
    let deepest = model["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["id"] == "deepest_ok")
        .expect("deepest_ok");
    assert!(deepest["parent"].is_string(), "{deepest}");
    // The limit is configurable, and validated.
    let dir = repo("[model]\nmax_depth = 3\n");
    write(
        dir.path(),
        "a.py",
        "# @component A:B:C\n# @component W:X:Y:Z\n",
    );
    let (out, model) = scan(dir.path(), &[]);
    assert_eq!(
        located(&out.stderr, "TM030"),
        ["a.py:2:14"],
        "{}",
        out.stderr
    );
    assert_eq!(ids(&model, "components").len(), 3 + 1);
    let dir = repo("[model]\nmax_depth = 0\n");
    let bad = run(tm().args(["scan", "-q"]).arg(dir.path()));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("max_depth"), "{}", bad.stderr);
}

/// A 10,000-deep boundary chain, and a 10,000-boundary cycle, each with a flow from the deepest
/// boundary to the outermost: each took about 70 s. Cycles are now found in one pass, nesting
/// is cut every `max_depth` levels (TM030), and a crossing lists at most 2 x 64 boundaries.
#[test]
fn boundary_chains_and_cycles_ten_thousand_deep_are_bounded() {
    for cycle in [false, true] {
        let dir = repo("");
        let root = dir.path();
        let mut text = String::new();
        for i in 0..10_000 {
            if i == 0 && !cycle {
                text.push_str("# @boundary B0 (#b0)\n");
            } else {
                text.push_str(&format!(
                    "# @boundary B{i} (#b{i}) in #b{}\n",
                    (i + 9_999) % 10_000
                ));
            }
        }
        text.push_str("# @component Deep (#deep) in #b9999\n# @component Top (#top) in #b0\n");
        text.push_str("# @connects #deep to #top with data\n");
        write(root, "a.py", &text);
        let (out, model) = scan(root, &[]);
        assert!(
            out.elapsed < BOUNDED,
            "cycle {cycle}: took {:?}",
            out.elapsed
        );
        let cycles = located(&out.stderr, "TM011");
        assert_eq!(cycles.len(), usize::from(cycle), "{cycles:?}");
        // 10,000 levels cut into pieces of at most 64.
        let cuts = located(&out.stderr, "TM030");
        assert_eq!(cuts.len(), 10_000 / 64, "cycle {cycle}");
        let crosses = model["flows"][0]["crosses"]
            .as_array()
            .expect("a crossing flow")
            .len();
        assert!((1..=128).contains(&crosses), "crosses {crosses} boundaries");
        let parent: BTreeMap<&str, &str> = model["boundaries"]
            .as_array()
            .expect("boundaries")
            .iter()
            .filter_map(|b| Some((b["id"].as_str()?, b["parent"].as_str()?)))
            .collect();
        for start in parent.keys() {
            let (mut depth, mut cur) = (1, *start);
            while let Some(p) = parent.get(cur) {
                depth += 1;
                assert!(depth <= 64, "{start} is nested deeper than 64");
                cur = p;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Invisible characters
// ---------------------------------------------------------------------------------------------

// @tests #invisible_named for #parser
/// A zero-width space or soft hyphen in or before a tag made the line prose, silently (and the
/// prefilter dropped a file whose only tag was hidden so). Now the annotation is read as if the
/// character were absent and TM029 names it at its column; one in an id or a name is named too.
#[test]
fn invisible_characters_in_or_before_a_tag_are_named_and_the_annotation_is_kept() {
    let dir = repo("");
    let root = dir.path();
    write(root, "a.py", "# @\u{200B}threat Hidden one (#hidden1)\n");
    write(root, "b.js", "// \u{200B}@threat Hidden two (#hidden2)\n");
    write(root, "c.rs", "// @thr\u{AD}eat Hidden three (#hidden3)\n");
    write(
        root,
        "d.go",
        "// @threat Hidden four (#hidden4)\u{202E} [severity: high]\n",
    );
    write(
        root,
        "e.py",
        "# @threat SQL injection (#sqli)\n# @exposes Web to #sq\u{200B}li\n# @component W\u{2060}eb (#web2)\n",
    );
    // A misspelt tag with one inside: a note, not a panic of the renderer.
    write(root, "g.py", "# @threa\u{200B}t: x\n# @thr\u{AD}eats y\n");
    // In a description (an emoji joined with U+200D) it is text, not a spoof.
    write(
        root,
        "f.py",
        "# @threat Fine (#fine): a family 👨\u{200D}👩\n",
    );
    let (out, model) = scan(root, &[]);
    let threats = ids(&model, "threats");
    for id in ["hidden1", "hidden2", "hidden3", "hidden4", "sqli", "fine"] {
        assert!(
            threats.contains(id),
            "{id} is not in {threats:?}\n{}",
            out.stderr
        );
    }
    assert_eq!(threat(&model, "hidden4")["severity"], "high");
    assert_eq!(
        located(&out.stderr, "TM029"),
        [
            "a.py:1:4",
            "b.js:1:4",
            "c.rs:1:8",
            "d.go:1:34",
            "e.py:2:22",
            "e.py:3:15"
        ],
        "{}",
        out.stderr
    );
    let d = diagnostic(&out.stderr, "TM029", "a.py");
    assert!(d.starts_with("warning[TM029]"), "{d}");
    assert!(d.contains("U+200B ZERO WIDTH SPACE"), "{d}");
    assert!(d.contains("in the tag `@threat`"), "{d}");
    let d = diagnostic(&out.stderr, "TM029", "c.rs");
    assert!(d.contains("U+00AD SOFT HYPHEN"), "{d}");
    let d = diagnostic(&out.stderr, "TM029", "d.go");
    assert!(d.contains("U+202E RIGHT-TO-LEFT OVERRIDE"), "{d}");
    // The spoofed id is not taken for `#sqli`: it is invalid, and the exposure is left out.
    diagnostic(&out.stderr, "TM008", "e.py:2");
    assert!(model["exposures"].as_array().expect("exposures").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Nonsense relations
// ---------------------------------------------------------------------------------------------

// @tests #nonsense_reported for #builder
/// A transfer from a component to itself marked the exposure as transferred (the gate passed);
/// it is now TM016, an error, and left out. Acceptances, transfers and tests that name a
/// component the threat or control is not about are TM015 at the component; a self-loop flow is
/// a note; a boundary inside itself stays TM011.
#[test]
fn nonsense_relations_are_diagnostics_and_never_cover_an_exposure() {
    let dir = repo("");
    let root = dir.path();
    write(
        root,
        "a.py",
        "# @threat Replay (#replay) [severity: critical]\n\
         # @exposes Shop:API (#api) to #replay\n\
         # @transfers #replay from #api to #api with nobody\n\
         # @accepts #replay to Billing (#billing) with a typo\n\
         # @transfers #replay from #billing to Vendor (#vendor)\n\
         # @accepts #replay to Shop with the parent: fine\n\
         # @control Signing (#signing)\n\
         # @mitigates #api against #replay with #signing\n\
         # @tests #signing for #billing\n\
         # @tests #signing for Shop:API:Auth\n\
         # @connects #api to #api with retries\n\
         # @boundary DMZ (#dmz) contains #dmz\n\
         # @threat Unexposed (#unexposed) [severity: low]\n\
         # @accepts #unexposed to #billing with Threatspec style\n",
    );
    let (out, model) = scan(root, &[]);
    let d = diagnostic(&out.stderr, "TM016", "a.py:3");
    assert!(d.starts_with("error[TM016]"), "{d}");
    assert!(
        !model["transfers"]
            .as_array()
            .expect("transfers")
            .iter()
            .any(|t| t["from"] == t["to"]),
        "the self-transfer is left out"
    );
    assert_eq!(
        located(&out.stderr, "TM015"),
        ["a.py:4:23", "a.py:5:27", "a.py:9:23", "a.py:11:21"],
        "{}",
        out.stderr
    );
    assert!(diagnostic(&out.stderr, "TM015", "a.py:4").starts_with("warning[TM015]"));
    assert!(diagnostic(&out.stderr, "TM015", "a.py:11").starts_with("note[TM015]"));
    diagnostic(&out.stderr, "TM011", "a.py:12");
    let strict = run(tm().args(["scan", "--strict", "-q"]).arg(root));
    assert_eq!(strict.code, 1, "{}", strict.stderr);
}

// ---------------------------------------------------------------------------------------------
// Linear analysis
// ---------------------------------------------------------------------------------------------

/// How long one run on the large model below may take in a debug build on a busy machine. Each
/// took minutes before relations were indexed (analyze 101 s, diff 60 s, check 213 s on 2 cores)
/// and takes a few seconds now.
const LINEAR_GUARD: Duration = Duration::from_secs(40);

// @tests #linear_analysis for #gate
// @tests #linear_analysis for #builder
/// 20,000 flows across a boundary, each guarded at its source, and one threat exposed on all
/// 20,000 targets (half of them accepted until an expired date): every flow once scanned every
/// mitigation, every coverage row every relation, and every exposure of the threat every other
/// one. `analyze` (with its table), `diff` and `check` now stay far below the guard, and still
/// see every crossing and exposure.
#[test]
fn twenty_thousand_crossing_flows_are_analysed_diffed_and_checked_in_linear_time() {
    const N: usize = 20_000;
    let dir = repo("");
    let root = dir.path();
    let commit = |message: &str| commit_all(root, message);
    git(root, &["init", "-q"]);
    commit("base: no model");
    let mut text = String::from(
        "# @boundary Inside (#inside)\n# @boundary Outside (#outside)\n\
         # @threat Tampering (#t) [stride: T; likelihood: likely; impact: major]\n\
         # @control Signing (#k)\n",
    );
    for i in 0..N {
        text.push_str(&format!(
            "# @component A{i} (#a{i}) in #inside\n# @component B{i} (#b{i}) in #outside\n\
             # @connects #a{i} to #b{i} with data {i}\n# @mitigates #a{i} against #t with #k\n\
             # @exposes #b{i} to #t\n"
        ));
        if i % 2 == 1 {
            text.push_str(&format!(
                "# @accepts #t to #b{i} with later [expires: 2020-01-01]\n"
            ));
        }
    }
    write(root, "flows.py", &text);
    commit("head: 20,000 crossings");

    let analyze = run(tm().args(["analyze", "--today", "2026-12-06"]).arg(root));
    assert_eq!(analyze.code, 0, "{}", analyze.stderr);
    assert!(
        analyze.elapsed < LINEAR_GUARD,
        "analyze took {:?}",
        analyze.elapsed
    );
    // The crossing table names each flow and the controls at its ends.
    assert!(analyze.stdout.contains("data 19999"), "no crossing row");
    assert!(analyze.stdout.contains("a19999: k"), "no guard column");

    let diff = run(tm_in(root).args(["diff", "--format", "json", "HEAD~1", "HEAD"]));
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(diff.elapsed < LINEAR_GUARD, "diff took {:?}", diff.elapsed);
    let d: Value = serde_json::from_str(&diff.stdout).expect("diff json");
    assert_eq!(d["summary"]["new_crossings"], N, "{}", d["summary"]);

    let check = run(tm_in(root).args([
        "check",
        "--base",
        "HEAD~1",
        "--today",
        "2026-12-06",
        "--allow-stale",
        "--format",
        "json",
    ]));
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.elapsed < LINEAR_GUARD,
        "check took {:?}",
        check.elapsed
    );
    let c: Value = serde_json::from_str(&check.stdout).expect("check json");
    let failed: Vec<&Value> = c["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .filter(|p| p["state"] == "failed")
        .collect();
    let new = failed
        .iter()
        .find(|p| p["policy"] == "new-unmitigated")
        .expect("new-unmitigated failed");
    // Every exposure is open: half unmitigated, half accepted until a date long past.
    assert_eq!(new["violations"].as_array().expect("violations").len(), N);
}
