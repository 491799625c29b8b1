//! Login merge: folding a guest cart into the signed-in user's cart.

use automerge::{transaction::Transactable, ChangeHash, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use thiserror::Error;

use crate::cart::Cart;
use crate::limits::{MAX_LINES, MAX_QTY};
use crate::ops::start_line;
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
    /// Skus in both carts left as they were (the user's quantity was already at least the guest's, under `max`,
    /// or the guest's line had not grown since an earlier merge).
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
}

impl Cart {
    /// Merges the guest cart `guest` into this (the user's) cart.
    ///
    /// Lines only in one cart are kept; for a sku in both, `policy` decides. The merge is written as contributions
    /// keyed by the guest's state, so it is idempotent: merging the same guest state again (a retry, a second tab,
    /// another replica doing it concurrently) changes nothing more. If the guest cart grew after an earlier merge,
    /// only the growth is merged.
    ///
    /// ```
    /// use cart_core::{Cart, MergePolicy};
    /// let mut guest = Cart::new();
    /// guest.add("HAT", 3)?;
    /// guest.add("SCARF", 1)?;
    /// let mut user = Cart::new();
    /// user.add("HAT", 2)?;
    /// let report = user.merge_guest(&guest, MergePolicy::Max)?;
    /// assert_eq!(report.added, vec!["SCARF".to_string()]);
    /// assert_eq!(user.view().qty("HAT"), 3);
    /// let again = user.merge_guest(&guest, MergePolicy::Max)?;
    /// assert!(again.already_merged);
    /// assert_eq!(user.view().qty("HAT"), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge_guest(
        &mut self,
        guest: &Cart,
        policy: MergePolicy,
    ) -> Result<MergeReport, MergeError> {
        for cart in [&*self, guest] {
            if cart.needs_upgrade() {
                return Err(MergeError::UpgradeRequired(cart.layout()));
            }
        }
        let mut guest_heads = guest.heads();
        guest_heads.sort();
        let tag = merge_tag(&guest_heads);
        let mut report = MergeReport::default();
        let records = self.merge_records();
        if records.iter().any(|(t, _)| *t == tag) {
            report.already_merged = true;
            return Ok(report);
        }
        // Quantities of guest lines already merged from an earlier state this guest state descends from.
        let mut earlier: BTreeMap<String, u32> = BTreeMap::new();
        for (_, heads) in &records {
            if !heads.is_empty()
                && heads
                    .iter()
                    .all(|h| guest.doc.get_change_by_hash(h).is_some())
            {
                for (sku, line) in guest.raw_lines(Some(heads)) {
                    let q = earlier.entry(sku).or_default();
                    *q = (*q).max(line.qty());
                }
            }
        }

        let mut mine = self.raw_lines(None);
        let mut line_count = mine.values().filter(|l| l.qty() > 0).count();
        let mut writes: Vec<Contribution> = Vec::new();
        for g in guest.view().lines {
            let user_qty = mine.get(&g.sku).map_or(0, |l| l.qty());
            let prior = earlier.get(&g.sku).copied().unwrap_or(0);
            let wanted = if prior > 0 {
                g.qty.saturating_sub(prior)
            } else {
                match policy {
                    MergePolicy::Max => g.qty.saturating_sub(user_qty),
                    MergePolicy::Sum => g.qty,
                }
            };
            if wanted == 0 {
                report.unchanged.push(g.sku);
                continue;
            }
            let room = MAX_QTY - user_qty;
            if wanted > room {
                report.clamped.push(g.sku.clone());
            }
            let give = wanted.min(room);
            if give == 0 {
                report.unchanged.push(g.sku);
                continue;
            }
            if user_qty == 0 {
                if line_count >= MAX_LINES {
                    report.skipped_cart_full.push(g.sku);
                    continue;
                }
                line_count += 1;
                report.added.push(g.sku.clone());
                writes.push(Contribution {
                    sku: g.sku,
                    give,
                    new_line: Some((g.selected, g.added_at)),
                });
            } else {
                report.combined.push(g.sku.clone());
                writes.push(Contribution {
                    sku: g.sku,
                    give,
                    new_line: None,
                });
            }
        }
        let heads_text = guest_heads
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let now = (self.clock)();
        self.transact(|tx, c| {
            for w in &writes {
                tx.put(
                    &c.merges,
                    schema::merge_key(&w.sku, &tag),
                    u64::from(w.give),
                )?;
                if let Some((selected, added_at)) = w.new_line {
                    let added_at = if added_at > 0 { added_at } else { now };
                    start_line(tx, c, &w.sku, selected, added_at)?;
                }
            }
            tx.put(
                &c.merged,
                tag.as_str(),
                ScalarValue::Str(heads_text.as_str().into()),
            )?;
            Ok::<(), MergeError>(())
        })?;
        for w in writes {
            let line = mine.entry(w.sku).or_default();
            line.merges += u64::from(w.give);
            if let Some((selected, added_at)) = w.new_line {
                line.start(selected, if added_at > 0 { added_at } else { now });
            }
        }
        self.remember(mine);
        Ok(report)
    }

    /// Corrects an earlier login merge of `guest` now that this replica knows more of the user's cart.
    ///
    /// A merge made offline computed its contributions against the user's cart as this replica knew it then (for
    /// `max`, perhaps without lines the user had added on another device). Once the replica has synced, this
    /// recomputes each contribution of that merge against the cart as it is now and writes the correction under
    /// the same key. Contributions a later set or remove has already overridden are left alone, so nothing comes
    /// back. Replicas running it concurrently converge: the smallest contribution wins.
    pub fn reconcile_guest_merge(
        &mut self,
        guest: &Cart,
        policy: MergePolicy,
    ) -> Result<(), MergeError> {
        for cart in [&*self, guest] {
            if cart.needs_upgrade() {
                return Err(MergeError::UpgradeRequired(cart.layout()));
            }
        }
        let mut guest_heads = guest.heads();
        guest_heads.sort();
        let tag = merge_tag(&guest_heads);
        let guest_view = guest.view();
        let lines = self.raw_lines(None);
        let mut fixes: Vec<(String, u64)> = Vec::new();
        for key in self.doc.keys(&self.containers.merges) {
            let Some((sku, key_tag)) = schema::split_merge_key(&key) else {
                continue;
            };
            if key_tag != tag {
                continue;
            }
            let Some(line) = lines.get(sku) else { continue };
            let current = schema::merge_contribution(&self.doc, &self.containers, &key, None);
            let others = line
                .unmerged()
                .saturating_add(line.merges.saturating_sub(current));
            let g = u64::from(guest_view.qty(sku));
            let wanted = match policy {
                MergePolicy::Max => g.saturating_sub(others),
                MergePolicy::Sum => g,
            };
            let wanted = wanted.min(u64::from(MAX_QTY).saturating_sub(others));
            if wanted != current {
                fixes.push((key.clone(), wanted));
            }
        }
        self.transact(|tx, c| {
            for (key, n) in &fixes {
                tx.put(&c.merges, key.as_str(), *n)?;
            }
            Ok::<(), MergeError>(())
        })
    }

    /// The guest states merged so far: tag and the guest heads it stands for.
    fn merge_records(&self) -> Vec<(String, Vec<ChangeHash>)> {
        let c = &self.containers;
        self.doc
            .keys(&c.merged)
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

/// What a merge writes for one guest line.
struct Contribution {
    sku: String,
    /// Quantity contributed to the user's line.
    give: u32,
    /// For a line new to the user's cart: the guest's selection and time added.
    new_line: Option<(bool, i64)>,
}

/// A short name for a guest state: the first 12 hex digits of each (sorted) head.
fn merge_tag(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string()[..12].to_owned())
        .collect::<Vec<_>>()
        .join(".")
}
