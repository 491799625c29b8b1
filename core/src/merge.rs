//! Login merge: folding a guest cart into the signed-in user's cart.

use automerge::{transaction::Transactable, ChangeHash, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::str::FromStr;
use thiserror::Error;

use crate::cart::Cart;
use crate::limits::{MAX_LINES, MAX_QTY};
use crate::ops::start_line;
use crate::records;
use crate::schema;

/// How a sku present in both carts is combined on login.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergePolicy {
    /// Keep the larger of the two quantities (commercetools' behaviour). The default.
    #[default]
    Max,
    /// Add the guest's quantity to the user's.
    Sum,
}

/// A merge policy name that is neither `max` nor `sum`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown merge policy \"{0}\"; expected \"max\" or \"sum\"")]
pub struct UnknownPolicy(pub String);

impl FromStr for MergePolicy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "max" => Ok(MergePolicy::Max),
            "sum" => Ok(MergePolicy::Sum),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

/// Where the guest cart's lines went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeReport {
    /// This exact guest state had been merged before; nothing was changed.
    pub already_merged: bool,
    /// Skus the user's cart lacked, now added with the guest's quantity and selection.
    pub added: Vec<String>,
    /// Skus in both carts whose quantity in the user's cart rose.
    pub combined: Vec<String>,
    /// Guest skus whose quantity in the user's cart this merge left as it was (the user's quantity was already at
    /// least the guest's, under `max`, or the guest's line had not grown since an earlier merge).
    pub unchanged: Vec<String>,
    /// Skus not added because the user's cart already held the maximum number of lines. They stay in the guest cart.
    pub skipped_cart_full: Vec<String>,
    /// Skus whose merged quantity was capped at the per-line maximum.
    pub clamped: Vec<String>,
}

/// Why a login merge failed. The user's cart is unchanged whenever one of these is returned.
#[derive(Debug, Error)]
pub enum MergeError {
    /// The user's document refused the write: its layout was damaged by a foreign writer.
    #[error("the cart document is damaged: {0}")]
    Document(#[from] automerge::AutomergeError),
    /// One of the carts is laid out in a newer layout than this code knows; nothing is written.
    #[error("a cart uses layout {0}; this code writes layout {max}: upgrade it", max = crate::LAYOUT)]
    UpgradeRequired(u64),
    /// Automerge panicked while merging (see `unwind.rs`): refused, and the user's cart is
    /// [poisoned](Cart::poisoned).
    #[error("{0}")]
    Panicked(#[from] crate::Panicked),
}

impl Cart {
    /// Merges the guest cart `guest` into this (the user's) cart, by README's rule 7.
    ///
    /// `source` names the guest cart: its cart id (or `share:<token>` for a share copied in). Every replica that
    /// merges the same guest cart must name it alike, so that a state merged on several replicas (the browser's
    /// offline login and the shop's `POST /v1/me/cart/merge`) counts once. It is hashed, never stored.
    ///
    /// The merge writes a record of the guest state (its quantities and the policy), and the quantities follow
    /// from the records whenever the cart is read: merging the same state again changes nothing, a later state of
    /// the same guest replaces the earlier one, and a merge made offline against a stale copy of the user's cart
    /// is right as soon as the copy has synced.
    ///
    /// ```
    /// use cart_core::{Cart, MergePolicy};
    /// let mut guest = Cart::new();
    /// guest.add("HAT", 3)?;
    /// guest.add("SCARF", 1)?;
    /// let mut user = Cart::new();
    /// user.add("HAT", 2)?;
    /// let report = user.merge_guest(&guest, "guest-cart-id", MergePolicy::Max)?;
    /// assert_eq!(report.added, vec!["SCARF".to_string()]);
    /// assert_eq!(user.view().qty("HAT"), 3);
    /// let again = user.merge_guest(&guest, "guest-cart-id", MergePolicy::Max)?;
    /// assert!(again.already_merged);
    /// assert_eq!(user.view().qty("HAT"), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge_guest(
        &mut self,
        guest: &Cart,
        source: &str,
        policy: MergePolicy,
    ) -> Result<MergeReport, MergeError> {
        let contained = crate::unwind::contain(|| self.checked_merge_guest(guest, source, policy));
        self.poison_on(contained)
    }

    fn checked_merge_guest(
        &mut self,
        guest: &Cart,
        source: &str,
        policy: MergePolicy,
    ) -> Result<MergeReport, MergeError> {
        for cart in [&*self, guest] {
            if cart.needs_upgrade() {
                return Err(MergeError::UpgradeRequired(cart.layout()));
            }
        }
        let mut guest_heads = guest.heads();
        guest_heads.sort();
        let state = merge_tag(&guest_heads);
        let guest_key = source_hash(source);
        let key = records::record_key(&guest_key, &state);
        let mut report = MergeReport::default();
        let layout_2 = self.layout_2_merges();
        let known = self.records();
        if known.contains(&key) || layout_2.iter().any(|(t, _)| *t == state) {
            report.already_merged = true;
            return Ok(report);
        }
        // Earlier states of this guest merged by layout 2, whose contributions are still in the cart: this record
        // adds only the growth since, as layout 2 did.
        let mut prior: Option<BTreeMap<String, u64>> = None;
        // (A state holding only the genesis, which every cart shares, is no earlier state of this guest, and a
        // state without lines contributed nothing.)
        let genesis = schema::genesis_hash();
        for (_, heads) in &layout_2 {
            if heads.iter().any(|h| *h != genesis)
                && heads
                    .iter()
                    .all(|h| guest.doc.get_change_by_hash(h).is_some())
            {
                for (sku, line) in guest.raw_lines(Some(heads)) {
                    if line.qty() > 0 {
                        let q = prior
                            .get_or_insert_with(BTreeMap::new)
                            .entry(sku)
                            .or_default();
                        *q = (*q).max(u64::from(line.qty()));
                    }
                }
            }
        }

        let before = self.raw_lines(None);
        let mut line_count = before.values().filter(|l| l.qty() > 0).count();
        let guest_view = guest.view();
        let mut lines_merged: BTreeMap<String, u64> = BTreeMap::new();
        let mut new_lines: Vec<(String, bool, i64)> = Vec::new();
        for g in &guest_view.lines {
            if before.get(&g.sku).map_or(0, |l| l.qty()) == 0 {
                if line_count >= MAX_LINES {
                    report.skipped_cart_full.push(g.sku.clone());
                    continue;
                }
                line_count += 1;
                new_lines.push((g.sku.clone(), g.selected, g.added_at));
            }
            lines_merged.insert(g.sku.clone(), u64::from(g.qty));
        }
        let value = records::encode_record(
            policy == MergePolicy::Sum,
            &vector_clock(guest),
            &lines_merged,
            prior.as_ref(),
        );
        let raise = self.layout() < crate::LAYOUT;
        let now = (self.clock)();
        self.transact(|tx, c| {
            if raise {
                tx.put(ROOT, schema::LAYOUT_KEY, crate::LAYOUT)?;
            }
            tx.put(
                &c.merged,
                key.as_str(),
                ScalarValue::Str(value.as_str().into()),
            )?;
            for (sku, selected, added_at) in &new_lines {
                let added_at = if *added_at > 0 { *added_at } else { now };
                start_line(tx, c, sku, *selected, added_at)?;
            }
            Ok::<(), MergeError>(())
        })?;
        let after = if known.has_guest(&guest_key) || prior.is_some() {
            self.raw_lines(None)
        } else {
            // The guest's first record, seen by no set: what it gives follows from the lines before it alone (the
            // cart before the merge is the baseline of a `max` merge), so the lines are not read again.
            let mut lines = before.clone();
            for (sku, q) in &lines_merged {
                let line = lines.entry(sku.clone()).or_default();
                if policy == MergePolicy::Sum {
                    line.guest_sum = line.guest_sum.saturating_add(*q);
                } else {
                    let baseline = line.unclamped().saturating_sub(line.guest_lift);
                    line.guest_lift = line.guest_lift.max(q.saturating_sub(baseline));
                }
            }
            for (sku, selected, added_at) in &new_lines {
                if let Some(line) = lines.get_mut(sku) {
                    line.start(*selected, if *added_at > 0 { *added_at } else { now });
                }
            }
            self.remember(lines.clone());
            lines
        };
        for sku in lines_merged.keys() {
            let was = before.get(sku).map_or(0, |l| l.qty());
            let line = after.get(sku).cloned().unwrap_or_default();
            if line.unclamped() > u64::from(MAX_QTY) {
                report.clamped.push(sku.clone());
            }
            if was == 0 && line.qty() > 0 {
                report.added.push(sku.clone());
            } else if line.qty() > was {
                report.combined.push(sku.clone());
            } else {
                report.unchanged.push(sku.clone());
            }
        }
        Ok(report)
    }

    /// The guest states layout 2 recorded as merged: tag and the guest heads it stands for.
    fn layout_2_merges(&self) -> Vec<(String, Vec<ChangeHash>)> {
        let c = &self.containers;
        self.doc
            .keys(&c.merged)
            .filter(|tag| !tag.contains('@'))
            .map(|tag| {
                let heads = match self.doc.get(&c.merged, tag.as_str()) {
                    Ok(Some((Value::Scalar(s), _))) => s
                        .as_str()
                        .map(|text| text.split(',').filter_map(|h| h.parse().ok()).collect())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                (tag, heads)
            })
            .collect()
    }
}

/// The guest's vector clock: for each author but the genesis, how many changes of it the guest holds (the authors'
/// clocks the guest keeps for checking received changes).
fn vector_clock(guest: &Cart) -> records::VClock {
    guest.with_clocks(|clocks| {
        clocks
            .iter()
            .filter(|(actor, _)| actor.to_bytes() != schema::GENESIS_ACTOR.as_slice())
            .map(|(actor, c)| (actor.to_hex_string(), c.seq))
            .collect()
    })
}

/// 16 hex digits of a hash of a merge source's name: guest cart ids are secrets, and the user's cart is shown to
/// whoever holds it.
fn source_hash(source: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"edge-cart merge source\0")
        .chain_update(source.as_bytes())
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A short name for a guest state: the first 12 hex digits of each (sorted) head.
fn merge_tag(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string()[..12].to_owned())
        .collect::<Vec<_>>()
        .join(".")
}
