//! The last pass: placing components, actors and boundaries (innermost boundary, nesting,
//! cycles and depth settled), flow crossings, and the finished model.

use super::*;
use crate::model::Nesting;

impl<'a> Builder<'a> {
    pub(super) fn finish(mut self, project: Project) -> (ThreatModel, Vec<Diagnostic>) {
        let boundary_parent = self.boundary_parents();
        // Cycles were broken above; the shared walk would cut one anyway.
        let nodes: BTreeSet<&str> = boundary_parent
            .iter()
            .flat_map(|(c, p)| [c.as_str(), p.as_str()])
            .collect();
        let nesting = Nesting::new(nodes, |b| boundary_parent.get(b).map(String::as_str));
        // The boundary and its ancestors, outermost first.
        let chain = |start: &str| -> Vec<String> {
            let mut out: Vec<String> = std::iter::once(start)
                .chain(nesting.ancestors(start))
                .map(str::to_string)
                .collect();
            out.reverse();
            out
        };
        let is_ancestor = |anc: &str, of: &str| chain(of).iter().any(|b| b == anc);

        // Innermost placement per component and per actor.
        let own_boundary = innermost(
            &self.component_places,
            "component",
            &is_ancestor,
            &mut self.diags,
        );
        let actor_boundary = innermost(&self.actor_places, "actor", &is_ancestor, &mut self.diags);

        let components: Vec<Component> = {
            let drafts = std::mem::take(self.reg.map(Kind::Component));
            let nodes: BTreeSet<&str> = drafts
                .keys()
                .chain(self.parents.keys())
                .chain(self.parents.values())
                .map(String::as_str)
                .collect();
            let nesting = Nesting::new(nodes, |c| self.parents.get(c).map(String::as_str));
            // The innermost placement of the component or its nearest ancestor.
            let effective = |id: &str| -> Option<String> {
                std::iter::once(id)
                    .chain(nesting.ancestors(id))
                    .find_map(|c| own_boundary.get(c).cloned())
            };
            let extras: Vec<ComponentExtra> = drafts
                .keys()
                .map(|id| ComponentExtra {
                    parent: self
                        .parents
                        .get(id)
                        .filter(|p| drafts.contains_key(*p))
                        .cloned(),
                    boundary: effective(id),
                    owners: self
                        .owners
                        .get(id)
                        .map(|o| o.iter().cloned().collect())
                        .unwrap_or_default(),
                    data: self
                        .data
                        .get(id)
                        .map(|d| d.iter().copied().collect())
                        .unwrap_or_default(),
                })
                .collect();
            drafts
                .into_iter()
                .zip(extras)
                .map(|((id, d), extra)| d.finish(id, extra))
                .collect()
        };

        // Components are sorted by id, so each boundary's list is too.
        let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in &components {
            if let Some(b) = &c.extra.boundary {
                members.entry(b.as_str()).or_default().push(c.id.clone());
            }
        }
        let boundaries: Vec<Boundary> = std::mem::take(self.reg.map(Kind::Boundary))
            .into_iter()
            .map(|(id, d)| {
                let extra = BoundaryExtra {
                    parent: boundary_parent.get(&id).cloned(),
                    components: members.remove(id.as_str()).unwrap_or_default(),
                    between: self.between.get(&id).cloned().unwrap_or_default(),
                };
                d.finish(id, extra)
            })
            .collect();

        let depth: BTreeMap<&str, usize> = boundaries
            .iter()
            .map(|b| (b.id.as_str(), chain(&b.id).len()))
            .collect();
        let comp_boundary: BTreeMap<&str, Option<&String>> = components
            .iter()
            .map(|c| (c.id.as_str(), c.extra.boundary.as_ref()))
            .collect();
        for flow in self.flows.values_mut() {
            let side = |c: &str| -> BTreeSet<String> {
                comp_boundary
                    .get(c)
                    .copied()
                    .flatten()
                    .map(|b| chain(b).into_iter().collect())
                    .unwrap_or_default()
            };
            let (s, t) = (side(&flow.link.source), side(&flow.link.target));
            let mut crosses: Vec<String> = s.symmetric_difference(&t).cloned().collect();
            crosses.sort_by_key(|b| (depth.get(b.as_str()).copied().unwrap_or(0), b.clone()));
            // A boundary between two components is crossed by every flow between them.
            for (b, pair) in &self.between {
                let ends = [&flow.link.source, &flow.link.target];
                if pair.len() == 2
                    && flow.link.source != flow.link.target
                    && pair.iter().all(|p| ends.contains(&p))
                    && !crosses.contains(b)
                {
                    crosses.push(b.clone());
                }
            }
            flow.link.crosses = crosses;
        }

        self.check_relations();

        // A mitigation naming a control nobody declared: allowed, but worth a warning, once,
        // at its first source; found in one pass over the mitigations.
        let mut undeclared: BTreeMap<&String, &Source> = BTreeMap::new();
        for m in self.mitigations.values() {
            let control = &m.link.control;
            // A placeholder has its own warning (TM036).
            let declared = self
                .reg
                .get(Kind::Control, control)
                .is_none_or(|d| d.declared || d.placeholder);
            if declared {
                continue;
            }
            if let Some(src) = m.sources.iter().min() {
                undeclared
                    .entry(control)
                    .and_modify(|first| *first = (*first).min(src))
                    .or_insert(src);
            }
        }
        // Declared controls by their name in lower case, spaces collapsed: an undeclared one
        // with the same name is that control under another id, and the warning says so.
        let fold = |name: &str| {
            name.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let mut declared_as: BTreeMap<String, (&str, &str)> = BTreeMap::new();
        if !undeclared.is_empty()
            && let Some(controls) = self.reg.by_kind.get(&Kind::Control)
        {
            for (id, d) in controls.iter().filter(|(_, d)| d.declared) {
                declared_as
                    .entry(fold(&d.name))
                    .or_insert((id.as_str(), d.name.as_str()));
            }
        }
        let mut warned = Vec::new();
        for (control, src) in undeclared {
            let name = self
                .reg
                .get(Kind::Control, control)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            let diag = match declared_as.get(&fold(&name)) {
                Some((id, declared)) => Diagnostic::new(
                    Code::UndeclaredControl,
                    format!(
                        "`#{control}` is not declared; a control named `{declared}` is declared as `#{id}`"
                    ),
                )
                .help(format!(
                    "write `with #{id}` (or its name as declared, `{declared}`) to mean that control"
                )),
                None => Diagnostic::new(
                    Code::UndeclaredControl,
                    format!("control `{name}` (#{control}) is never declared with `@control`"),
                )
                .help(format!(
                    "declare it once: `@control {name} (#{control}): what it does`"
                )),
            };
            warned.push(diag.at(src.location()));
        }
        self.diags.extend(warned);

        let entities = |reg: &mut Registry, kind: Kind| -> Vec<Entity> {
            std::mem::take(reg.map(kind))
                .into_iter()
                .map(|(id, d)| d.finish(id, NoExtra {}))
                .collect()
        };
        let actors: Vec<Actor> = std::mem::take(self.reg.map(Kind::Actor))
            .into_iter()
            .map(|(id, d)| {
                let extra = ActorExtra {
                    boundary: actor_boundary.get(&id).cloned(),
                };
                d.finish(id, extra)
            })
            .collect();
        let model = ThreatModel {
            schema_version: SCHEMA_VERSION,
            project,
            components,
            boundaries,
            actors,
            threats: entities(&mut self.reg, Kind::Threat),
            controls: entities(&mut self.reg, Kind::Control),
            mitigations: self.mitigations.into_values().collect(),
            exposures: self.exposures.into_values().collect(),
            acceptances: self.acceptances.into_values().collect(),
            transfers: self.transfers.into_values().collect(),
            flows: self.flows.into_values().collect(),
            reviews: self.reviews.into_values().collect(),
            tests: self.tests.into_values().collect(),
            entitlements: self.entitlements.into_values().collect(),
            assumptions: self.assumptions.into_values().collect(),
            features: self.features.into_values().collect(),
            dismissals: {
                let mut d = std::mem::take(&mut self.dismissals);
                d.sort();
                d.dedup();
                d
            },
            analysis: None,
        };
        crate::diagnostic::normalize(&mut self.diags);
        (model, self.diags)
    }

    /// One parent per boundary: the first placement wins, a later one inside it is more precise,
    /// one around it adds nothing, any other is reported; an edge that would close a cycle or
    /// nest a boundary deeper than `max_depth` is dropped.
    ///
    /// Cycles and depth are settled in one pass over all boundaries ([`Builder::settle`]), before
    /// and after the later placements, so every walk up the nesting is at most `max_depth` long:
    /// the work is linear in the number of boundaries, whatever their shape.
    pub(super) fn boundary_parents(&mut self) -> BTreeMap<String, String> {
        let mut parents: BTreeMap<String, String> = BTreeMap::new();
        for (child, places) in &self.boundary_places {
            for (parent, source) in places {
                if parent == child {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BoundaryCycle,
                            format!("boundary `#{child}` is placed inside itself"),
                        )
                        .at(source.location()),
                    );
                    continue;
                }
                parents
                    .entry(child.clone())
                    .or_insert_with(|| parent.clone());
            }
        }
        self.settle(&mut parents);
        // Walks up from `of` (inclusive); chains are at most `max_depth` long once settled.
        let steps = self.max_depth + 1;
        let encloses = |parents: &BTreeMap<String, String>, anc: &str, of: &str| {
            let mut cur = of;
            for _ in 0..=steps {
                if cur == anc {
                    return true;
                }
                match parents.get(cur) {
                    Some(p) => cur = p,
                    None => return false,
                }
            }
            false
        };
        let mut moved = false;
        for (child, places) in &self.boundary_places {
            for (parent, source) in places.iter().skip(1) {
                let Some(cur) = parents.get(child).cloned() else {
                    continue;
                };
                if parent == child || encloses(&parents, parent, &cur) {
                    continue;
                }
                if encloses(&parents, &cur, parent) && !encloses(&parents, child, parent) {
                    parents.insert(child.clone(), parent.clone());
                    moved = true;
                    continue;
                }
                let diag = if encloses(&parents, child, parent) {
                    Diagnostic::new(
                        Code::BoundaryCycle,
                        format!("boundaries `#{child}` and `#{parent}` contain each other"),
                    )
                    .help(format!(
                        "the nesting of `#{child}` in `#{parent}` was dropped"
                    ))
                } else {
                    Diagnostic::new(
                        Code::ConflictingBoundaries,
                        format!(
                            "boundary `#{child}` is placed in `#{cur}` and in `#{parent}`, which do not nest"
                        ),
                    )
                    .help(format!("the first placement, `#{cur}`, is kept"))
                };
                self.diags.push(diag.at(source.location()));
            }
        }
        // A more precise placement moves a boundary (and what it holds) deeper.
        if moved {
            self.settle(&mut parents);
        }
        parents
    }

    /// Break nesting cycles and cut nestings deeper than `max_depth`, in one pass: each boundary
    /// is walked up only until a boundary whose depth is known, so each is visited once.
    /// Children are taken in id order and a cycle loses the edge that closes it on that walk,
    /// so the result never depends on the order of the input.
    pub(super) fn settle(&mut self, parents: &mut BTreeMap<String, String>) {
        // Levels from a boundary up to its outermost one, itself included.
        let mut depth: std::collections::HashMap<String, usize> = Default::default();
        let children: Vec<String> = parents.keys().cloned().collect();
        for start in children {
            if depth.contains_key(&start) {
                continue;
            }
            let mut path: Vec<String> = Vec::new();
            let mut on_path: BTreeSet<String> = BTreeSet::new();
            let mut cur = start;
            let mut base = 0;
            loop {
                if let Some(&d) = depth.get(&cur) {
                    base = d;
                    break;
                }
                if on_path.contains(&cur) {
                    // `path`'s last boundary is placed in `cur`, which is below it: a cycle.
                    if let Some(last) = path.last() {
                        let source = self
                            .boundary_places
                            .get(last)
                            .and_then(|v| v.first())
                            .map(|(_, s)| s.location());
                        let mut d = Diagnostic::new(
                            Code::BoundaryCycle,
                            format!("boundaries `#{last}` and `#{cur}` contain each other"),
                        )
                        .help(format!("the nesting of `#{last}` in `#{cur}` was dropped"));
                        d.location = source;
                        self.diags.push(d);
                        parents.remove(last);
                    }
                    break;
                }
                on_path.insert(cur.clone());
                path.push(cur.clone());
                match parents.get(&cur) {
                    Some(p) => cur = p.clone(),
                    None => break,
                }
            }
            // From the outermost down: a boundary that would sit deeper than the limit becomes
            // an outermost one.
            let mut level = base;
            for node in path.into_iter().rev() {
                level += 1;
                if level > self.max_depth {
                    if let Some(parent) = parents.remove(&node) {
                        let source = self.boundary_places.get(&node).and_then(|v| {
                            v.iter()
                                .find(|(p, _)| *p == parent)
                                .or_else(|| v.first())
                                .map(|(_, s)| s.location())
                        });
                        let mut d = Diagnostic::new(
                            Code::TooDeep,
                            format!(
                                "boundary `#{node}` would be nested {level} levels deep, more than max_depth ({})",
                                self.max_depth
                            ),
                        )
                        .help(format!(
                            "the nesting of `#{node}` in `#{parent}` was dropped; flatten the boundaries or raise `[model] max_depth`"
                        ));
                        d.location = source;
                        self.diags.push(d);
                    }
                    level = 1;
                }
                depth.insert(node, level);
            }
        }
    }
}

/// The innermost boundary of each placed element; placements in boundaries that do not nest are
/// TM009 and the first one (in path order) is kept.
pub(super) fn innermost(
    places: &BTreeMap<String, Vec<(String, &Source)>>,
    what: &str,
    is_ancestor: &dyn Fn(&str, &str) -> bool,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let mut own = BTreeMap::new();
    for (id, places) in places {
        let mut current: Option<&String> = None;
        for (b, source) in places {
            match current {
                None => current = Some(b),
                Some(cur) if cur == b || is_ancestor(b, cur) => {}
                Some(cur) if is_ancestor(cur, b) => current = Some(b),
                Some(cur) => diags.push(
                    Diagnostic::new(
                        Code::ConflictingBoundaries,
                        format!(
                            "{what} `#{id}` is placed in `#{b}` and in `#{cur}`, which do not nest"
                        ),
                    )
                    .at(source.location())
                    .label("second placement")
                    .help(format!("the first placement, `#{cur}`, is kept")),
                ),
            }
        }
        if let Some(b) = current {
            own.insert(id.clone(), b.clone());
        }
    }
    own
}
