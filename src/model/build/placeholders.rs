//! Pass 2b and pruning: ids a relation names that nothing declares become placeholders (or,
//! one typo away from a known id, TM003 with a "did you mean"), and relations naming an
//! unknown id are left out whole.

use super::*;

impl<'a> Builder<'a> {
    /// Pass 1c: a bare `#id` in a relation that nothing has becomes an entity named by its id,
    /// as in Threatspec (TM036). It stays TM003, and its relation is left out whole (so nothing
    /// of it is created here), when it is the id of a boundary or an actor (threatmark's own
    /// kinds: `@review #dmz` is a mix-up, not a new component), or, with `strict_ids`, one
    /// typo away from an id of its kind; a self-transfer (TM016) is left out anyway.
    pub(super) fn placeholders(&mut self, all: &[&'a Annotation]) {
        // Ids before any placeholder, folded: what a typo is measured against.
        let mut known: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for a in all {
            if matches!(a.body, Body::Declare { .. } | Body::Boundary { .. }) {
                continue;
            }
            if let Body::Transfers { from, to, .. } = &a.body
                && from.id == to.id
            {
                continue;
            }
            let open: Vec<(Kind, &EntityRef)> = mentions(&a.body)
                .into_iter()
                .filter(|(kind, r)| {
                    r.is_reference() && self.reg.get(*kind, &r.id).is_none_or(|d| d.placeholder)
                })
                .collect();
            if open.is_empty() {
                continue;
            }
            let new = |b: &Self, kind: Kind, r: &EntityRef| b.reg.get(kind, &r.id).is_none();
            let mixed_up = open.iter().any(|(kind, r)| {
                new(self, *kind, r)
                    && [Kind::Boundary, Kind::Actor]
                        .iter()
                        .any(|k| self.reg.get(*k, &r.id).is_some())
            });
            let typo = self.strict_ids
                && open.iter().any(|(kind, r)| {
                    new(self, *kind, r) && self.compared < SUGGESTION_BUDGET && {
                        let reg = &self.reg;
                        let ids = known.entry(*kind).or_insert_with(|| {
                            reg.ids(*kind).map(|id| id.to_lowercase()).collect()
                        });
                        let (typo, compared) = one_typo_away(&r.id, ids);
                        self.compared += compared;
                        typo
                    }
                });
            if mixed_up || typo {
                continue;
            }
            for (kind, r) in open {
                if let Some(draft) = self.reg.map(kind).get_mut(&r.id) {
                    draft.mentions.insert(&a.source);
                    continue;
                }
                let what = kind.as_str();
                // Where an id is close (not strict, or a looser match), say so.
                let near = self.near_id(kind, &r.id);
                let mut draft = EntityDraft::new(&r.id);
                draft.placeholder = true;
                draft.mentions.insert(&a.source);
                self.reg.map(kind).insert(r.id.clone(), draft);
                let elsewhere: Vec<&str> = [Kind::Component, Kind::Threat, Kind::Control]
                    .into_iter()
                    .filter(|k| *k != kind && self.reg.get(*k, &r.id).is_some())
                    .map(Kind::as_str)
                    .collect();
                let mut help = match near {
                    Some(near) => format!("did you mean `#{near}`? "),
                    None => String::new(),
                };
                if let Some(other) = elsewhere.first() {
                    help.push_str(&format!(
                        "`#{}` is a {other}; ids are per kind, so this is another {what}. ",
                        r.id
                    ));
                }
                help.push_str(&format!(
                    "The relation is kept, as in Threatspec; declare it once with `@{what} Name (#{})`",
                    r.id
                ));
                self.diags.push(
                    Diagnostic::new(
                        Code::UndeclaredReference,
                        format!(
                            "{what} `#{}` is not declared; it was created, named by its id",
                            r.id
                        ),
                    )
                    .at(self.columns.locate(a, r.span))
                    .at_span(r.span)
                    .label(format!("no {what} has this id"))
                    .help(help),
                );
            }
        }
    }

    /// The closest id of `kind` for a "did you mean", within the suggestion budget.
    pub(super) fn near_id(&mut self, kind: Kind, id: &str) -> Option<String> {
        if self.compared >= SUGGESTION_BUDGET {
            return None;
        }
        let reg = &self.reg;
        let candidates = self.candidates.entry(kind).or_insert_with(|| {
            reg.ids(kind)
                .map(|id| Candidate {
                    id: id.clone(),
                    counts: CharCounts::of_folded(id),
                })
                .collect()
        });
        let (near, compared) = closest(id, candidates);
        self.compared += compared;
        near.cloned()
    }

    /// Pass 3 for one annotation, remembering whether a relation was left out (what only it
    /// named is then pruned) or kept (what it uses stays).
    pub(super) fn relation_kept_or_rejected(
        &mut self,
        i: usize,
        a: &'a Annotation,
        attributes: &Attributes,
    ) {
        if matches!(a.body, Body::Declare { .. } | Body::Boundary { .. }) {
            self.relations(i, a, attributes);
            return;
        }
        let mark = self.diags.len();
        self.pending = Some(Vec::new());
        self.relations(i, a, attributes);
        let used = self.pending.take().unwrap_or_default();
        let rejected = self.diags[mark..]
            .iter()
            .any(|d| matches!(d.code, Code::UndefinedReference | Code::SelfTransfer));
        if rejected {
            self.rejected_sources.insert(&a.source);
        } else {
            self.used.extend(used);
        }
    }

    /// A relation left out leaves nothing behind: components, threats and controls that only
    /// relations left out named (and the parents only their names implied) are removed.
    pub(super) fn prune_rejected(&mut self) {
        if self.rejected_sources.is_empty() {
            return;
        }
        let (used, rejected) = (&self.used, &self.rejected_sources);
        for (kind, map) in &mut self.reg.by_kind {
            map.retain(|id, d| {
                d.named_by_declaration
                    || d.declared
                    || !d.sources.is_empty()
                    || d.mentions.iter().any(|s| !rejected.contains(s))
                    || used.contains(&(*kind, id.clone()))
            });
        }
    }
}

/// How many ids "did you mean" searches may compare in one build, in total. A model with 100
/// ids of a kind gets a suggestion for each of 200 undefined references; one with 10,000 ids
/// (where each search costs about 5 ms) for the first 2. Thousands of dangling references are a
/// systematic problem, and the first ones show it.
pub(super) const SUGGESTION_BUDGET: usize = 20_000;

/// The closest id by edit distance, for "did you mean" help, and how many ids were compared.
/// Case differences count for little: `#SQLi` suggests `#sqli`.
pub(super) fn closest<'a>(id: &str, candidates: &'a [Candidate]) -> (Option<&'a String>, usize) {
    let limit = (id.len() / 3).max(2);
    let lower = id.to_lowercase();
    let wanted = CharCounts::of(&lower);
    let mut compared = 0;
    let best = candidates
        .iter()
        // The distance is at least the difference in length: skip hopeless candidates cheaply.
        .filter(|c| c.id.len().abs_diff(id.len()) <= limit)
        .filter_map(|c| {
            compared += 1;
            // A cheaper lower bound first: most ids share few characters with the one sought.
            if wanted.distance_bound(&c.counts) > limit {
                return None;
            }
            let folded = if c.id.chars().any(char::is_uppercase) {
                strsim::levenshtein(&lower, &c.id.to_lowercase())
            } else {
                strsim::levenshtein(&lower, &c.id)
            };
            (folded <= limit).then(|| (folded, strsim::levenshtein(id, &c.id), &c.id))
        })
        .min()
        .map(|(_, _, c)| c);
    (best, compared)
}

/// Is `id` one edit (a transposition counts as one), case aside, from one of `known` (folded
/// ids)? Also returns how many ids were looked at, every one counted, so that the caller's
/// budget ([`SUGGESTION_BUDGET`]) bounds the whole search.
pub(super) fn one_typo_away(id: &str, known: &[String]) -> (bool, usize) {
    let lower = id.to_lowercase();
    let mut compared = 0;
    let found = known.iter().any(|k| {
        compared += 1;
        k.len().abs_diff(lower.len()) <= 1 && within_one_edit(&lower, k)
    });
    (found, compared)
}

/// `strsim::osa_distance(a, b) <= 1`, without its allocations for ASCII ids (the usual ones):
/// equal, or one substitution, insertion, deletion or swap of neighbours apart.
fn within_one_edit(a: &str, b: &str) -> bool {
    if !a.is_ascii() || !b.is_ascii() {
        return strsim::osa_distance(a, b) <= 1;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let Some(i) = short.iter().zip(long).position(|(x, y)| x != y) else {
        return true;
    };
    if short.len() < long.len() {
        return short[i..] == long[i + 1..];
    }
    short[i + 1..] == long[i + 1..]
        || (i + 1 < short.len()
            && short[i] == long[i + 1]
            && short[i + 1] == long[i]
            && short[i + 2..] == long[i + 2..])
}

/// An id that "did you mean" may suggest, with the character counts of its lower-case form.
pub(super) struct Candidate {
    pub(super) id: String,
    pub(super) counts: CharCounts,
}

impl std::fmt::Debug for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// Characters counted in 128 buckets (ASCII exactly): a lower bound on the edit distance of two strings that
/// costs one pass over each. A substitution changes at most two counts by one, an insertion or
/// deletion one, so the distance is at least half the sum of the count differences (buckets
/// shared by several characters only make the bound lower, never wrong).
pub(super) struct CharCounts(pub(super) [u8; 128]);

impl CharCounts {
    pub(super) fn of(s: &str) -> Self {
        let mut counts = [0u8; 128];
        for ch in s.chars() {
            let slot = &mut counts[(u32::from(ch) & 127) as usize];
            *slot = slot.saturating_add(1);
        }
        CharCounts(counts)
    }

    /// The counts of `s.to_lowercase()`, without building it.
    pub(super) fn of_folded(s: &str) -> Self {
        let mut counts = [0u8; 128];
        for ch in s.chars() {
            if ch.is_ascii() {
                let slot = &mut counts[(u32::from(ch.to_ascii_lowercase()) & 127) as usize];
                *slot = slot.saturating_add(1);
            } else {
                for low in ch.to_lowercase() {
                    let slot = &mut counts[(u32::from(low) & 127) as usize];
                    *slot = slot.saturating_add(1);
                }
            }
        }
        CharCounts(counts)
    }

    pub(super) fn distance_bound(&self, other: &CharCounts) -> usize {
        // Counts saturate at 255, which can only lower the bound. Sums of 16 differences fit a
        // u16 and the loop is one the compiler turns into vector instructions.
        let mut differ = 0usize;
        for (a, b) in self.0.chunks_exact(16).zip(other.0.chunks_exact(16)) {
            let mut sum = 0u16;
            for (x, y) in a.iter().zip(b) {
                sum += u16::from(x.max(y) - x.min(y));
            }
            differ += usize::from(sum);
        }
        differ.div_ceil(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of strings up to four characters over a small alphabet (ASCII, with a
    /// non-ASCII letter for the fallback): the same answer as the edit distance it stands for.
    #[test]
    fn within_one_edit_is_the_optimal_string_alignment_distance_at_most_one() {
        let mut words = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|w| ['a', 'b', 'c', 'é'].map(|c| format!("{w}{c}")))
                .collect();
            words.extend(last.iter().cloned());
        }
        let mut close = 0;
        for a in &words {
            for b in &words {
                let expected = strsim::osa_distance(a, b) <= 1;
                assert_eq!(within_one_edit(a, b), expected, "{a:?} {b:?}");
                close += usize::from(expected);
            }
        }
        assert!(close > words.len() * 4, "{close}");
    }
}
