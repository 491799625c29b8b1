//! The shopper's edits: add, set quantity, remove, select, clear.

use automerge::{
    transaction::Transactable, transaction::Transaction, ChangeHash, ReadDoc, ScalarValue,
};
use thiserror::Error;

use crate::cart::Cart;
use crate::limits::{validate_sku, SkuError, MAX_LINES, MAX_QTY};
use crate::schema::{self, Containers, RawLine};

/// Why an edit was refused. The cart is unchanged whenever one of these is returned.
#[derive(Debug, Error)]
pub enum EditError {
    /// The sku is malformed.
    #[error("invalid sku: {0}")]
    InvalidSku(#[from] SkuError),
    /// The quantity given is outside what the operation accepts (`1..=999` to add, `0..=999` to set).
    #[error("quantity {qty} is out of range; allowed {min}..={max}")]
    InvalidQuantity {
        /// The refused quantity.
        qty: u32,
        /// The smallest accepted.
        min: u32,
        /// The largest accepted.
        max: u32,
    },
    /// The line would hold more than [`MAX_QTY`] items.
    #[error("the line holds {current}; adding {adding} would exceed {MAX_QTY}")]
    QuantityLimit {
        /// The line's quantity now.
        current: u32,
        /// The quantity being added.
        adding: u32,
    },
    /// The cart already holds [`MAX_LINES`] lines and the edit would add another.
    #[error("the cart already holds {MAX_LINES} lines")]
    CartFull,
    /// The edit needs an existing line and there is none for this sku.
    #[error("the cart has no line for sku \"{0}\"")]
    LineNotFound(String),
    /// The document refused the write: its layout was damaged by a foreign writer.
    #[error("the cart document is damaged: {0}")]
    Document(#[from] automerge::AutomergeError),
    /// The cart is laid out in a newer layout than this code knows ([`Cart::needs_upgrade`]); nothing is written.
    #[error("the cart uses layout {0}; this code writes layout {max}: upgrade it", max = crate::LAYOUT)]
    UpgradeRequired(u64),
}

impl EditError {
    /// A stable SNAKE_CASE code for this error, the same in the HTTP API and the browser library.
    pub fn code(&self) -> &'static str {
        match self {
            EditError::InvalidSku(_) => "INVALID_SKU",
            EditError::InvalidQuantity { .. } => "INVALID_QUANTITY",
            EditError::QuantityLimit { .. } => "QUANTITY_LIMIT",
            EditError::CartFull => "CART_FULL",
            EditError::LineNotFound(_) => "LINE_NOT_FOUND",
            EditError::Document(_) => "CART_DAMAGED",
            EditError::UpgradeRequired(_) => "UPGRADE_REQUIRED",
        }
    }
}

impl Cart {
    /// Adds `n` (1..=999) of `sku`, creating the line (selected, stamped with the clock) if the cart lacks it.
    ///
    /// Concurrent adds on other replicas sum; a remove or set made elsewhere without seeing this add leaves it in.
    ///
    /// ```
    /// let mut cart = cart_core::Cart::new();
    /// cart.add("SOCKS-BLUE", 2)?;
    /// cart.add("SOCKS-BLUE", 1)?;
    /// assert_eq!(cart.view().qty("SOCKS-BLUE"), 3);
    /// assert!(cart.add("SOCKS-BLUE", 999).is_err());
    /// # Ok::<(), cart_core::EditError>(())
    /// ```
    pub fn add(&mut self, sku: &str, n: u32) -> Result<(), EditError> {
        self.writable()?;
        validate_sku(sku)?;
        if !(1..=MAX_QTY).contains(&n) {
            return Err(EditError::InvalidQuantity {
                qty: n,
                min: 1,
                max: MAX_QTY,
            });
        }
        let mut lines = self.raw_lines(None);
        let (current, line_count) = current(&lines, sku);
        if current + n > MAX_QTY {
            return Err(EditError::QuantityLimit { current, adding: n });
        }
        if current == 0 && line_count >= MAX_LINES {
            return Err(EditError::CartFull);
        }
        let now = (self.clock)();
        self.transact(|tx, c| {
            tx.insert(&c.adds, 0, schema::encode_add(n, sku))?;
            if current == 0 {
                start_line(tx, c, sku, true, now)?;
            }
            Ok::<(), EditError>(())
        })?;
        let line = lines.entry(sku.to_owned()).or_default();
        line.added(n);
        if current == 0 {
            line.start(true, now);
        }
        self.remember(lines);
        Ok(())
    }

    /// Sets the quantity of `sku` to `n` (0..=999); 0 removes the line.
    ///
    /// Overrides every add this replica has seen; adds made concurrently elsewhere are added on top. Concurrent sets
    /// of one line resolve to one deterministic winner on every replica.
    ///
    /// ```
    /// let mut cart = cart_core::Cart::new();
    /// cart.add("MUG", 3)?;
    /// cart.set_quantity("MUG", 1)?;
    /// assert_eq!(cart.view().qty("MUG"), 1);
    /// cart.set_quantity("MUG", 0)?;
    /// assert_eq!(cart.view().line_count, 0);
    /// # Ok::<(), cart_core::EditError>(())
    /// ```
    pub fn set_quantity(&mut self, sku: &str, n: u32) -> Result<(), EditError> {
        self.writable()?;
        validate_sku(sku)?;
        if n > MAX_QTY {
            return Err(EditError::InvalidQuantity {
                qty: n,
                min: 0,
                max: MAX_QTY,
            });
        }
        let mut lines = self.raw_lines(None);
        let (current, line_count) = current(&lines, sku);
        if current == 0 && n == 0 {
            // Removing a line that is not there: nothing to record.
            return Ok(());
        }
        if current == 0 && line_count >= MAX_LINES {
            return Err(EditError::CartFull);
        }
        let now = (self.clock)();
        let seen = lines.get(sku).map_or(0, |l| l.adds);
        let records = self.records().seen_by_a_set(sku);
        let exact = self.adds_deleted;
        self.transact(|tx, c| {
            overwrite_line(tx, c, sku, n, seen, &records, exact)?;
            if current == 0 {
                start_line(tx, c, sku, true, now)?;
            }
            Ok::<(), EditError>(())
        })?;
        let line = lines.entry(sku.to_owned()).or_default();
        line.overwrite(n, self.adds_deleted);
        if current == 0 {
            line.start(true, now);
        }
        self.remember(lines);
        Ok(())
    }

    /// Removes the line for `sku`. Removing an absent line is not an error and records nothing.
    ///
    /// Removes only what this replica has seen: an add made concurrently elsewhere survives.
    pub fn remove(&mut self, sku: &str) -> Result<(), EditError> {
        self.set_quantity(sku, 0)
    }

    /// Selects or deselects the line for `sku` for checkout. Last writer wins, deterministically on every replica.
    pub fn set_selected(&mut self, sku: &str, selected: bool) -> Result<(), EditError> {
        self.writable()?;
        validate_sku(sku)?;
        let mut lines = self.raw_lines(None);
        let line = lines
            .get_mut(sku)
            .filter(|l| l.qty() > 0)
            .ok_or_else(|| EditError::LineNotFound(sku.to_owned()))?;
        if line.selected.unwrap_or(true) == selected {
            return Ok(());
        }
        line.selected = Some(selected);
        self.transact(|tx, c| {
            tx.put(&c.selected, sku, selected)?;
            Ok::<(), EditError>(())
        })?;
        self.remember(lines);
        Ok(())
    }

    /// Removes every line this replica can see, in one change. Lines added concurrently elsewhere survive.
    pub fn clear(&mut self) -> Result<(), EditError> {
        self.writable()?;
        let mut lines = self.raw_lines(None);
        let records = self.records();
        let skus: Vec<(String, u64, Vec<String>)> = lines
            .iter()
            .filter(|(_, l)| l.qty() > 0)
            .map(|(sku, l)| (sku.clone(), l.adds, records.seen_by_a_set(sku)))
            .collect();
        let exact = self.adds_deleted;
        self.transact(|tx, c| {
            for (sku, seen, records) in &skus {
                overwrite_line(tx, c, sku, 0, *seen, records, exact)?;
            }
            Ok::<(), EditError>(())
        })?;
        for (sku, _, _) in &skus {
            if let Some(line) = lines.get_mut(sku) {
                line.overwrite(0, self.adds_deleted);
            }
        }
        self.remember(lines);
        Ok(())
    }
}

impl Cart {
    /// Refuses every edit of a cart laid out in a newer layout than this code knows.
    pub(crate) fn writable(&self) -> Result<(), EditError> {
        match self.layout() {
            layout if layout > crate::LAYOUT => Err(EditError::UpgradeRequired(layout)),
            _ => Ok(()),
        }
    }

    /// Brings lines back as they were at `heads`, a point in this cart's history (say, just before a remove or a
    /// clear): each line that had a larger quantity then is raised back to it, as an add, with its old selection.
    /// Lines that no longer fit (the cart filled up since) are skipped. Returns the skus brought back.
    ///
    /// An undo is ordinary edits: it syncs and merges like any add, and undoing twice restores nothing more.
    ///
    /// ```
    /// let mut cart = cart_core::Cart::new();
    /// cart.add("MUG", 2)?;
    /// let before = cart.heads();
    /// cart.clear()?;
    /// assert_eq!(cart.restore(&before)?, ["MUG"]);
    /// assert_eq!(cart.view().qty("MUG"), 2);
    /// assert!(cart.restore(&before)?.is_empty());
    /// # Ok::<(), cart_core::EditError>(())
    /// ```
    pub fn restore(&mut self, heads: &[ChangeHash]) -> Result<Vec<String>, EditError> {
        let then = self.view_at(heads);
        let mut restored = Vec::new();
        for line in then.lines {
            let now = self.view().qty(&line.sku);
            if now >= line.qty {
                continue;
            }
            match self.add(&line.sku, line.qty - now) {
                Ok(()) => {}
                Err(EditError::CartFull) => continue,
                Err(e) => return Err(e),
            }
            if !line.selected {
                self.set_selected(&line.sku, false)?;
            }
            restored.push(line.sku);
        }
        Ok(restored)
    }
}

/// The quantity of `sku` and the number of lines in `lines`.
fn current(lines: &std::collections::BTreeMap<String, RawLine>, sku: &str) -> (u32, usize) {
    let line_count = lines.values().filter(|l| l.qty() > 0).count();
    (lines.get(sku).map_or(0, |l| l.qty()), line_count)
}

/// Marks a line as new: selected as given and stamped `added_at = now`.
pub(crate) fn start_line(
    tx: &mut Transaction<'_>,
    c: &Containers,
    sku: &str,
    selected: bool,
    now: i64,
) -> Result<(), automerge::AutomergeError> {
    tx.put(&c.selected, sku, selected)?;
    tx.put(&c.added_at, sku, ScalarValue::Timestamp(now))?;
    Ok(())
}

/// Sets the line's base quantity to `n`, recording `seen`, the sum of the adds of it this replica sees, and
/// `records`, the latest merge records that name it; deletes every layout-2 merge contribution of it this replica
/// sees.
pub(crate) fn overwrite_line(
    tx: &mut Transaction<'_>,
    c: &Containers,
    sku: &str,
    n: u32,
    seen: u64,
    records: &[String],
    exact: bool,
) -> Result<(), automerge::AutomergeError> {
    let seen_merges: Vec<String> = tx
        .keys(&c.merges)
        .filter(|k| schema::split_merge_key(k).is_some_and(|(s, _)| s == sku))
        .collect();
    for key in seen_merges {
        tx.delete(&c.merges, key)?;
    }
    let value = schema::encode_base(n, seen, records);
    if exact {
        // Automerge leaves out a put of the value a key already holds alone. Read exactly (a layout-1 writer
        // deleted adds), a line can show more than that value, so the set must still be written: a different
        // value first, overwritten in the same change, which no reader ever sees.
        let alone = tx.get_all(&c.base, sku)?;
        if let [(automerge::Value::Scalar(v), _)] = alone.as_slice() {
            if v.as_ref() == &value {
                let other = if value == ScalarValue::Uint(0) { 1 } else { 0 };
                tx.put(&c.base, sku, ScalarValue::Uint(other))?;
            }
        }
    }
    tx.put(&c.base, sku, value)?;
    Ok(())
}
