//! The reference model of README's rules ("The cart's rules"), written from the rules and not from the code: the
//! causal history of the shoppers' intents, and the views the rules allow a replica that knows some of them.
//!
//! An intent remembers every intent its replica had seen when it was made (`seen`). Nothing here knows Automerge:
//! where the rules leave a choice (which of several concurrent sets wins), the model allows every candidate.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

pub const MAX_QTY: u64 = 999;

#[derive(Debug, Clone)]
pub enum Intent {
    Add {
        sku: String,
        n: u64,
    },
    /// A quantity set; a remove is a set to 0.
    Set {
        sku: String,
        n: u64,
    },
    Select {
        sku: String,
        on: bool,
    },
    /// A login merge of state `state` (its number in the guest's history) of guest cart `guest`, whose lines were
    /// `lines`.
    Merge {
        guest: usize,
        state: usize,
        sum: bool,
        lines: BTreeMap<String, u64>,
    },
}

#[derive(Debug, Clone)]
pub struct Event {
    pub intent: Intent,
    pub seen: BTreeSet<usize>,
}

/// Every intent of a run, in the order they were made.
#[derive(Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
}

type Known = BTreeSet<usize>;

impl History {
    /// Records `intents`, made together by a replica that knew `known`, and adds them to what it knows.
    pub fn record(&mut self, known: &mut Known, intents: Vec<Intent>) {
        let seen = known.clone();
        for intent in intents {
            known.insert(self.events.len());
            self.events.push(Event {
                intent,
                seen: seen.clone(),
            });
        }
    }

    /// Whether `known` holds a merge of state `state` of guest `guest` (a retry of it changes nothing).
    pub fn knows_merge(&self, known: &Known, guest: usize, state: usize) -> bool {
        known.iter().any(|&i| {
            matches!(self.events[i].intent, Intent::Merge { guest: g, state: s, .. } if g == guest && s == state)
        })
    }

    /// The quantities of `sku` the rules allow a replica knowing `known`.
    pub fn allowed_qty(&self, known: &Known, sku: &str) -> BTreeSet<u64> {
        self.quantities(known, sku, None)
            .into_iter()
            .map(|q| q.min(MAX_QTY))
            .collect()
    }

    /// Rule 6: the selections the rules allow (any write no other write had seen); new lines start selected.
    pub fn allowed_selected(&self, known: &Known, sku: &str) -> BTreeSet<bool> {
        let writes: Vec<usize> = known
            .iter()
            .copied()
            .filter(
                |&i| matches!(&self.events[i].intent, Intent::Select { sku: s, .. } if s == sku),
            )
            .collect();
        let frontier: BTreeSet<bool> = writes
            .iter()
            .filter(|&&i| !writes.iter().any(|&j| self.events[j].seen.contains(&i)))
            .map(|&i| match self.events[i].intent {
                Intent::Select { on, .. } => on,
                _ => unreachable!("filtered to selections"),
            })
            .collect();
        if frontier.is_empty() {
            BTreeSet::from([true])
        } else {
            frontier
        }
    }

    /// The unclamped quantities the rules allow. With `baseline_of = Some(guest)`, the line a `max` merge of that
    /// guest is measured against: without that guest's merges and without any `max` lift.
    fn quantities(&self, known: &Known, sku: &str, baseline_of: Option<usize>) -> BTreeSet<u64> {
        let of_sku = |i: &usize| match &self.events[*i].intent {
            Intent::Add { sku: s, .. } | Intent::Set { sku: s, .. } => s == sku,
            _ => false,
        };
        let sets: Vec<usize> = known
            .iter()
            .copied()
            .filter(|i| of_sku(i) && matches!(self.events[*i].intent, Intent::Set { .. }))
            .collect();
        // Rule 5: among the sets no other set had seen, one wins (any of them, as far as the rules say).
        let mut winners: Vec<Option<usize>> = sets
            .iter()
            .filter(|&&i| !sets.iter().any(|&j| self.events[j].seen.contains(&i)))
            .map(|&i| Some(i))
            .collect();
        if winners.is_empty() {
            winners.push(None);
        }
        let mut allowed = BTreeSet::new();
        for winner in winners {
            let empty = Known::new();
            let seen = winner.map_or(&empty, |w| &self.events[w].seen);
            // Rules 1-3 and 5: the winner's quantity plus every add it had not seen.
            let set_to = match winner.map(|w| &self.events[w].intent) {
                Some(Intent::Set { n, .. }) => *n,
                _ => 0,
            };
            let adds: u64 = known
                .iter()
                .filter(|i| !seen.contains(i))
                .filter_map(|i| match &self.events[*i].intent {
                    Intent::Add { sku: s, n } if s == sku => Some(*n),
                    _ => None,
                })
                .sum();
            // Rule 7, guest by guest.
            let mut added = 0;
            let mut lifts: Vec<BTreeSet<u64>> = Vec::new();
            for guest in self.guests(known) {
                if Some(guest) == baseline_of {
                    continue;
                }
                let merges = self.merges_of(known, guest);
                // The latest merged state counts; the same state merged on several replicas counts once.
                let latest = merges
                    .iter()
                    .map(|&(_, state, ..)| state)
                    .max()
                    .unwrap_or(0);
                let copies: Vec<&(usize, usize, bool, &BTreeMap<String, u64>)> =
                    merges.iter().filter(|m| m.1 == latest).collect();
                let q = copies[0].3.get(sku).copied().unwrap_or(0);
                let saw: Vec<_> = merges.iter().filter(|m| seen.contains(&m.0)).collect();
                if saw.iter().any(|m| m.3.contains_key(sku)) {
                    // The winning set overrode the states of this guest it had seen: only the growth since the
                    // latest of them counts, whatever the policy.
                    let since = saw.iter().max_by_key(|m| m.1).expect("not empty");
                    if latest > since.1 {
                        added += q.saturating_sub(since.3.get(sku).copied().unwrap_or(0));
                    }
                } else if copies.iter().all(|m| m.2) {
                    added += q; // `sum`
                } else if baseline_of.is_none() && q > 0 {
                    // `max`: the line gets at least the guest's quantity, measured against the line without this
                    // guest and without every intent made after a merge of it that had the line (those saw a
                    // merged result: they count on top). The same state merged with both policies is a `max`
                    // merge.
                    let before: Known = known
                        .iter()
                        .copied()
                        .filter(|e| {
                            !merges.iter().any(|m| {
                                m.0 == *e
                                    || (m.3.contains_key(sku)
                                        && self.events[*e].seen.contains(&m.0))
                            })
                        })
                        .collect();
                    let base = self.quantities(&before, sku, Some(guest));
                    lifts.push(base.into_iter().map(|b| q.saturating_sub(b)).collect());
                }
            }
            // The lifts of several `max` guests do not add up: the largest counts.
            let mut lift = BTreeSet::from([0u64]);
            for options in lifts {
                lift = lift
                    .iter()
                    .flat_map(|a| options.iter().map(move |b| (*a).max(*b)))
                    .collect();
            }
            for l in lift {
                allowed.insert(set_to + adds + added + l);
            }
        }
        allowed
    }

    fn guests(&self, known: &Known) -> BTreeSet<usize> {
        known
            .iter()
            .filter_map(|i| match self.events[*i].intent {
                Intent::Merge { guest, .. } => Some(guest),
                _ => None,
            })
            .collect()
    }

    /// The merges of `guest` in `known`: (event, state, sum, lines).
    fn merges_of<'a>(
        &'a self,
        known: &Known,
        guest: usize,
    ) -> Vec<(usize, usize, bool, &'a BTreeMap<String, u64>)> {
        known
            .iter()
            .filter_map(|&i| match &self.events[i].intent {
                Intent::Merge {
                    guest: g,
                    state,
                    sum,
                    lines,
                } if *g == guest => Some((i, *state, *sum, lines)),
                _ => None,
            })
            .collect()
    }
}
