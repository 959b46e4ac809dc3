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
    write(root, "a.py", "# @threat Session fixation (#x) [impact: negligible; likelihood: rare]\n");
    write(
        root,
        "z.py",
        "# @threat Session fixation (#x) [impact: severe; likelihood: certain]\n# @exposes Web to #x\n",
    );
    // Adding a rating by reference to a rated threat re-rates it too (severity vs the matrix).
    write(root, "b.py", "# @threat Replay (#r) [severity: critical]\n# @exposes Web to #r\n");
    write(root, "a2.py", "# @threat #r [likelihood: rare; impact: negligible]\n");
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
