//! Login-merge records (layout 3): what merging one guest state writes, and what the records give a line.
//!
//! A merge no longer writes computed contributions. It writes one *record* of the guest state it merged, in the
//! `merged` map, under a key that names the state, not the replica:
//!
//! | key | value |
//! |---|---|
//! | `<guest>@<state>` | `3 <policy> <clock> <lines> [<prior>]` |
//!
//! `guest` is 16 hex digits of a hash of the source's id (a guest cart id is a secret, so it is never stored),
//! `state` the guest's heads (12 hex digits each, sorted, joined by `.`), `clock` the guest's vector clock at those
//! heads (`<actor hex>:<seq>,...`; `-` when empty), `lines` the guest's quantities (`<sku>=<qty>,...`; `-` when
//! empty) and `prior` (only in records written over a cart whose earlier merges of this guest are layout-2
//! contributions) the guest's quantities at the latest of those. Replicas merging the same guest state write the
//! same key, so the state counts once wherever it was merged; several values under one key (one state merged
//! with two policies, or by replicas with room for different lines) combine into one record ([`combine`]), on
//! every replica alike.
//!
//! A set or remove records, in its `base` value, the latest records it saw of every guest that has its sku (see
//! `schema::encode_base`). A line's quantity is then computed when read, from the records the replica knows, by
//! README's rule 7 ([`Records::contribution`]), so a merge made offline against an empty copy of the user's cart
//! is right as soon as the replica has synced, with nothing to reconcile.

use std::collections::BTreeMap;

use crate::limits::{is_valid_sku, MAX_QTY};

/// The first field of every record value: the layout that introduced records.
const RECORD_LAYOUT: &str = "3";

/// A guest's vector clock: actor (hex) -> number of its changes.
pub(crate) type VClock = BTreeMap<String, u64>;

/// One merged guest state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub key: String,
    pub guest: String,
    pub sum: bool,
    pub clock: VClock,
    pub lines: BTreeMap<String, u64>,
    pub prior: Option<BTreeMap<String, u64>>,
}

impl Record {
    fn qty(&self, sku: &str) -> u64 {
        self.lines.get(sku).copied().unwrap_or(0)
    }

    /// Whether the state this record merged is at or before `other`'s (the same guest's).
    fn before_or_at(&self, other: &Record) -> bool {
        self.guest == other.guest
            && self
                .clock
                .iter()
                .all(|(actor, seq)| other.clock.get(actor).is_some_and(|s| s >= seq))
    }
}

/// The key of the record of `source`'s state `state` (see the module docs).
pub(crate) fn record_key(guest: &str, state: &str) -> String {
    format!("{guest}@{state}")
}

/// The stored value of a record.
pub(crate) fn encode_record(
    sum: bool,
    clock: &VClock,
    lines: &BTreeMap<String, u64>,
    prior: Option<&BTreeMap<String, u64>>,
) -> String {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(",")
        }
    };
    let clock = list(clock.iter().map(|(a, s)| format!("{a}:{s}")).collect());
    let quantities =
        |m: &BTreeMap<String, u64>| list(m.iter().map(|(k, q)| format!("{k}={q}")).collect());
    let mut value = format!(
        "{RECORD_LAYOUT} {} {clock} {}",
        if sum { "sum" } else { "max" },
        quantities(lines)
    );
    if let Some(prior) = prior {
        value.push(' ');
        value.push_str(&quantities(prior));
    }
    value
}

/// Reads a record; anything not in the record format (a layout-2 entry of merged heads, a foreign writer's value)
/// is `None` and ignored.
pub(crate) fn parse_record(key: &str, value: &str) -> Option<Record> {
    let (guest, state) = key.split_once('@')?;
    if guest.len() != 16 || !guest.bytes().all(|b| b.is_ascii_hexdigit()) || state.is_empty() {
        return None;
    }
    let mut fields = value.split(' ');
    if fields.next()? != RECORD_LAYOUT {
        return None;
    }
    let sum = match fields.next()? {
        "sum" => true,
        "max" => false,
        _ => return None,
    };
    let clock = pairs(fields.next()?, ':', |actor| {
        !actor.is_empty() && actor.bytes().all(|b| b.is_ascii_hexdigit())
    })?;
    let lines = quantities(fields.next()?)?;
    let prior = match fields.next() {
        Some(text) => Some(quantities(text)?),
        None => None,
    };
    if fields.next().is_some() {
        return None;
    }
    Some(Record {
        key: key.to_owned(),
        guest: guest.to_owned(),
        sum,
        clock,
        lines,
        prior,
    })
}

fn quantities(text: &str) -> Option<BTreeMap<String, u64>> {
    let lines = pairs(text, '=', is_valid_sku)?;
    lines
        .values()
        .all(|q| (1..=u64::from(MAX_QTY)).contains(q))
        .then_some(lines)
}

fn pairs(text: &str, sep: char, key_ok: impl Fn(&str) -> bool) -> Option<BTreeMap<String, u64>> {
    if text == "-" {
        return Some(BTreeMap::new());
    }
    text.split(',')
        .map(|item| {
            let (k, v) = item.split_once(sep)?;
            key_ok(k).then_some(())?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

/// What the records give one line: `sum`, added to the user's own quantity, and `lifts`, for each `max` guest whose
/// latest states no winning set had seen, (guest, its quantity): the caller raises the line by the largest of
/// `guest quantity - the line's quantity without that guest and the edits made after it was merged`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub sum: u64,
    pub lifts: Vec<(String, u64)>,
}

/// The record that several values under one key (copies of one guest state merged on several replicas) stand
/// for: every line any copy kept (one copy may have had no room for a line another kept), `sum` only if every copy
/// is, and the earlier-merge quantities any copy knew. The same on every replica whatever the order of the copies.
pub(crate) fn combine(copies: impl Iterator<Item = Record>) -> Option<Record> {
    copies.reduce(|mut a, b| {
        for (sku, q) in b.lines {
            let e = a.lines.entry(sku).or_default();
            *e = (*e).max(q);
        }
        a.sum &= b.sum;
        a.prior = match (a.prior.take(), b.prior) {
            (Some(mut p), Some(q)) => {
                for (sku, n) in q {
                    let e = p.entry(sku).or_default();
                    *e = (*e).max(n);
                }
                Some(p)
            }
            (p, q) => p.or(q),
        };
        for (actor, seq) in b.clock {
            let e = a.clock.entry(actor).or_default();
            *e = (*e).max(seq);
        }
        a
    })
}

/// Every record a replica knows, by guest.
#[derive(Debug, Default, Clone)]
pub(crate) struct Records {
    by_guest: BTreeMap<String, Vec<Record>>,
}

impl Records {
    pub fn new(records: impl IntoIterator<Item = Record>) -> Self {
        let mut by_guest: BTreeMap<String, Vec<Record>> = BTreeMap::new();
        for r in records {
            by_guest.entry(r.guest.clone()).or_default().push(r);
        }
        Records { by_guest }
    }

    pub fn is_empty(&self) -> bool {
        self.by_guest.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.all().any(|r| r.key == key)
    }

    /// The keys of `guest`'s records.
    pub fn keys_of<'a>(&'a self, guest: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.by_guest
            .get(guest)
            .into_iter()
            .flatten()
            .map(|r| r.key.as_str())
    }

    /// Whether `guest` has a record here.
    pub fn has_guest(&self, guest: &str) -> bool {
        self.by_guest.contains_key(guest)
    }

    /// These records without `guest`'s.
    pub fn without(&self, guest: &str) -> Records {
        let mut by_guest = self.by_guest.clone();
        by_guest.remove(guest);
        Records { by_guest }
    }

    fn all(&self) -> impl Iterator<Item = &Record> {
        self.by_guest.values().flatten()
    }

    /// Every sku some record names.
    pub fn skus(&self) -> impl Iterator<Item = &str> {
        self.all().flat_map(|r| r.lines.keys().map(String::as_str))
    }

    /// What a set or remove of `sku` records as seen: the latest records of every guest that has `sku` in some
    /// record. (A guest without it gives the line nothing whether or not it is recorded.)
    pub fn seen_by_a_set(&self, sku: &str) -> Vec<String> {
        self.by_guest
            .values()
            .filter(|records| records.iter().any(|r| r.lines.contains_key(sku)))
            .flat_map(|records| latest(records.iter()))
            .map(|r| r.key.clone())
            .collect()
    }

    /// README's rule 7 for one line whose winning set (if any) had seen the records `seen`.
    ///
    /// Each guest counts with its latest merged states (concurrent latest states: the larger quantity). If the
    /// winning set had seen some of its states, it adds its growth since the latest of them, whatever the policy.
    /// Otherwise a `sum` guest adds its quantity, and a `max` guest is a lift (see [`Contribution`]). A record
    /// written over a layout-2 merge of the same guest adds its growth over that merge (`prior`), as layout 2 did.
    pub fn contribution(&self, sku: &str, seen: &[String]) -> Contribution {
        let seen: Vec<&Record> = self.all().filter(|r| seen.contains(&r.key)).collect();
        let mut out = Contribution::default();
        for records in self.by_guest.values() {
            let saw = |r: &Record| seen.iter().any(|s| r.before_or_at(s));
            let newer: Vec<&Record> = latest(records.iter()).filter(|r| !saw(r)).collect();
            if newer.is_empty() {
                continue;
            }
            let seen_here: Vec<&Record> = records.iter().filter(|r| saw(r)).collect();
            let top = newer.iter().map(|r| r.qty(sku)).max().unwrap_or(0);
            if !seen_here.is_empty() {
                // The growth since the latest states the set had seen. A state of another tab, concurrent with them,
                // shares their history, which the set overrode; measuring it against them too means a removed
                // line never comes back (rule 4), at the price of under-counting what both tabs added.
                let since = latest(seen_here.iter().copied())
                    .map(|s| s.qty(sku))
                    .max()
                    .unwrap_or(0);
                out.sum = out.sum.saturating_add(top.saturating_sub(since));
            } else if newer.iter().all(|r| r.prior.is_some()) {
                let growth = newer.iter().map(|r| {
                    let prior = r.prior.as_ref().and_then(|p| p.get(sku)).copied();
                    r.qty(sku).saturating_sub(prior.unwrap_or(0))
                });
                out.sum = out.sum.saturating_add(growth.max().unwrap_or(0));
            } else if newer.iter().all(|r| r.sum) {
                out.sum = out.sum.saturating_add(top);
            } else if top > 0 {
                out.lifts.push((newer[0].guest.clone(), top));
            }
        }
        out
    }
}

/// The records among `records` (one guest's) that no other of them is after.
fn latest<'a>(
    records: impl Iterator<Item = &'a Record> + Clone,
) -> impl Iterator<Item = &'a Record> {
    let all = records.clone();
    records.filter(move |r| {
        !all.clone()
            .any(|other| other.key != r.key && r.before_or_at(other) && !other.before_or_at(r))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(guest: &str, clock: &[(&str, u64)], lines: &[(&str, u64)], sum: bool) -> Record {
        let clock: VClock = clock.iter().map(|(a, s)| (a.to_string(), *s)).collect();
        let lines: BTreeMap<String, u64> = lines.iter().map(|(k, q)| (k.to_string(), *q)).collect();
        let key = record_key(guest, &format!("{clock:?}").replace(' ', ""));
        let value = encode_record(sum, &clock, &lines, None);
        parse_record(&key, &value).expect("a record reads back")
    }

    const G: &str = "00112233445566aa";

    #[test]
    fn a_record_reads_back_as_written() {
        let r = rec(G, &[("ab", 2)], &[("MUG", 3)], false);
        assert_eq!(r.qty("MUG"), 3);
        assert!(!r.sum);
        let prior = BTreeMap::from([("MUG".to_string(), 1)]);
        let value = encode_record(true, &r.clock, &r.lines, Some(&prior));
        assert_eq!(parse_record(&r.key, &value).unwrap().prior, Some(prior));
    }

    #[test]
    fn values_not_in_the_record_format_are_ignored() {
        let key = record_key(G, "abc");
        for bad in [
            "",
            "3",
            "2 max - -",
            "3 most - -",
            "3 max ab -",
            "3 max ab:x -",
            "3 max - MUG=0",
            "3 max - MUG=1000",
            "3 max - a/b=1",
            "3 max - MUG=1 - extra",
            "8b8f591e6b28df5027a2d4c11dc3c1b67c410a27f729c9271c046d0afbc73025",
        ] {
            assert_eq!(parse_record(&key, bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_record("abc", "3 max - -"),
            None,
            "a key without a guest"
        );
        assert_eq!(
            parse_record("xyz@abc", "3 max - -"),
            None,
            "a guest that is not hex"
        );
    }

    #[test]
    fn only_the_latest_state_of_a_guest_counts() {
        let s1 = rec(G, &[("ab", 1)], &[("MUG", 3)], true);
        let s2 = rec(G, &[("ab", 2)], &[("MUG", 4)], true);
        let records = Records::new([s1, s2]);
        assert_eq!(records.contribution("MUG", &[]).sum, 4);
    }

    #[test]
    fn a_line_removed_after_one_tabs_state_was_merged_does_not_come_back_with_another_tabs_state() {
        // The guest had MUG 2 (x:1); tab a and tab b each went on from there; a's state was merged and a remove
        // saw it; b's, concurrent with a's, came later, still holding those 2.
        let seen = rec(G, &[("aa", 1), ("cc", 1)], &[("MUG", 2), ("HAT", 1)], false);
        let other_tab = rec(G, &[("aa", 1), ("dd", 1)], &[("MUG", 2), ("CAP", 1)], false);
        let keys = vec![seen.key.clone()];
        let records = Records::new([seen, other_tab]);
        assert_eq!(records.contribution("MUG", &keys).sum, 0, "rule 4");
    }

    #[test]
    fn copies_of_one_state_with_room_for_different_lines_keep_every_line_any_kept() {
        let full = rec(G, &[("aa", 1)], &[("A", 1)], false);
        let mut roomy = rec(G, &[("aa", 1)], &[("A", 1), ("B", 2)], true);
        roomy.key = full.key.clone();
        let one = combine([full.clone(), roomy.clone()].into_iter()).unwrap();
        let other = combine([roomy, full].into_iter()).unwrap();
        assert_eq!(one, other, "the same whatever the order");
        assert_eq!(one.qty("B"), 2);
        assert!(!one.sum, "max if any copy was max");
    }

    #[test]
    fn a_set_that_saw_a_state_leaves_only_the_growth_since() {
        let s1 = rec(G, &[("ab", 1)], &[("MUG", 3)], false);
        let s2 = rec(G, &[("ab", 2)], &[("MUG", 5)], false);
        let seen = vec![s1.key.clone()];
        let records = Records::new([s1, s2.clone()]);
        assert_eq!(
            records.contribution("MUG", &seen).sum,
            2,
            "the growth, whatever the policy"
        );
        assert_eq!(
            records.contribution("MUG", &[s2.key.clone()]),
            Contribution::default()
        );
        assert_eq!(
            records.contribution("MUG", &[]).lifts,
            vec![(G.to_owned(), 5)],
            "unseen, a max guest lifts the line"
        );
    }
}
