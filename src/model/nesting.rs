//! The one walk up a nesting (boundaries inside boundaries, components under their parents).
//!
//! The build, the analysis, the report view and the diagram layout all ask "what encloses
//! this?"; they walk the same [`Nesting`], so they give the same answer on every model, a
//! hand-written or merged one with a cycle or a dangling parent included. The rule: a node whose
//! walk up repeats a node (it is on a cycle, or below one) is outermost, and so is one whose
//! parent is not a node. A model built by threatmark has neither (the build drops the edge that
//! would close a cycle and reports it); a model read from a file may.
//!
//! Cutting is linear: each node is walked once, with what is known about the nodes above it
//! remembered, so a 10,000-deep chain costs 10,000 steps. After the cut every walk ends.
//!
//! @control One nesting walk (#one_nesting_walk): cycles and dangling parents in a nesting are cut once, in linear time, by one shared walk that every consumer (build, analysis, view, diagram) uses
//! @mitigates #cli against #structural_exhaustion with #one_nesting_walk

use std::collections::BTreeMap;

use super::ThreatModel;

/// Parent links with cycles and dangling parents cut: following them always ends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Nesting<'a> {
    parent: BTreeMap<&'a str, &'a str>,
}

impl<'a> Nesting<'a> {
    /// The nesting of `nodes` (in any order; a repeated node counts once, its first parent
    /// wins) under `parent`.
    pub(crate) fn new(
        nodes: impl IntoIterator<Item = &'a str>,
        parent: impl Fn(&'a str) -> Option<&'a str>,
    ) -> Self {
        let mut index: BTreeMap<&'a str, usize> = BTreeMap::new();
        let mut ids: Vec<&'a str> = Vec::new();
        for id in nodes {
            index.entry(id).or_insert_with(|| {
                ids.push(id);
                ids.len() - 1
            });
        }
        let up: Vec<Option<usize>> = ids
            .iter()
            .map(|id| parent(id).and_then(|p| index.get(p).copied()))
            .collect();
        // Whether the walk up from each node runs into a cycle; `None` while unknown.
        let n = ids.len();
        let mut cyclic: Vec<Option<bool>> = vec![None; n];
        let mut on_path = vec![false; n];
        let mut path = Vec::new();
        for start in 0..n {
            let mut at = Some(start);
            let found = loop {
                match at {
                    None => break false,
                    Some(i) if on_path[i] => break true,
                    Some(i) => match cyclic[i] {
                        Some(known) => break known,
                        None => {
                            on_path[i] = true;
                            path.push(i);
                            at = up[i];
                        }
                    },
                }
            };
            for i in path.drain(..) {
                on_path[i] = false;
                cyclic[i] = Some(found);
            }
        }
        let parent = ids
            .iter()
            .zip(up.iter().zip(&cyclic))
            .filter_map(|(id, (p, cyc))| match (p, cyc) {
                (Some(p), Some(false)) => Some((*id, ids[*p])),
                _ => None,
            })
            .collect();
        Nesting { parent }
    }

    /// What directly encloses `id`, if anything does.
    pub(crate) fn parent(&self, id: &str) -> Option<&'a str> {
        self.parent.get(id).copied()
    }

    /// What encloses `id`, innermost first (`id` itself not included).
    pub(crate) fn ancestors<'s>(&'s self, id: &str) -> impl Iterator<Item = &'a str> + 's {
        std::iter::successors(self.parent(id), |p| self.parent(p))
    }
}

impl ThreatModel {
    /// The boundaries' nesting (see [`Nesting`]).
    pub(crate) fn boundary_nesting(&self) -> Nesting<'_> {
        let by_id: BTreeMap<&str, Option<&str>> = self
            .boundaries
            .iter()
            .rev()
            .map(|b| (b.id.as_str(), b.extra.parent.as_deref()))
            .collect();
        Nesting::new(self.boundaries.iter().map(|b| b.id.as_str()), |id| {
            by_id.get(id).copied().flatten()
        })
    }

    /// The components' parent nesting (see [`Nesting`]).
    pub(crate) fn component_nesting(&self) -> Nesting<'_> {
        let by_id: BTreeMap<&str, Option<&str>> = self
            .components
            .iter()
            .rev()
            .map(|c| (c.id.as_str(), c.extra.parent.as_deref()))
            .collect();
        Nesting::new(self.components.iter().map(|c| c.id.as_str()), |id| {
            by_id.get(id).copied().flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nesting<'a>(links: &'a [(&'a str, Option<&'a str>)]) -> Nesting<'a> {
        let map: BTreeMap<&str, Option<&str>> = links.iter().copied().collect();
        Nesting::new(links.iter().map(|(id, _)| *id), move |id| {
            map.get(id).copied().flatten()
        })
    }

    /// A node on a cycle or below one is outermost; so is one with a dangling parent; a sound
    /// chain is kept whole.
    #[test]
    fn cycles_and_dangling_parents_are_cut() {
        let links = [
            ("a", None),
            ("b", Some("a")),
            ("c", Some("b")),
            ("d", Some("e")),
            ("e", Some("d")),
            ("f", Some("d")),
            ("g", Some("f")),
            ("h", Some("h")),
            ("i", Some("missing")),
            ("j", Some("i")),
        ];
        let n = nesting(&links);
        assert_eq!(n.ancestors("c").collect::<Vec<_>>(), ["b", "a"]);
        for cut in ["d", "e", "f", "g", "h", "i"] {
            assert_eq!(n.parent(cut), None, "{cut}");
            assert_eq!(n.ancestors(cut).count(), 0, "{cut}");
        }
        assert_eq!(n.ancestors("j").collect::<Vec<_>>(), ["i"]);
        assert_eq!(n.ancestors("unknown").count(), 0);
    }

    /// A 10,000-deep chain is cut in one pass (a walk per node with a set was 50 million
    /// insertions); the bound is generous for a debug build on a busy machine.
    // @tests #one_nesting_walk for #cli
    #[test]
    fn a_deep_chain_is_cut_in_linear_time() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("b{i:05}")).collect();
        let links: Vec<(&str, Option<&str>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), ids.get(i + 1).map(String::as_str)))
            .collect();
        let started = std::time::Instant::now();
        let n = nesting(&links);
        assert_eq!(n.parent("b00000"), Some("b00001"));
        assert_eq!(n.ancestors("b00000").count(), 9_999);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}
