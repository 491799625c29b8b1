//! The shopper's edits: add, set quantity, remove, select, clear.

use automerge::{
    transaction::Transactable, transaction::Transaction, ChangeHash, ReadDoc, ScalarValue,
};
use thiserror::Error;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cart::Cart;
use crate::limits::{validate_sku, SkuError, MAX_LINES, MAX_QTY};
use crate::records::Records;
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
    /// An operation of a batch is not one: an unknown `op`, or a member missing or out of place.
    #[error("{0}")]
    InvalidOp(String),
    /// A quantity that is not a whole number in 32 bits.
    #[error("qty must be a whole number, got {0}")]
    NotAQuantity(String),
    /// A batch of more than [`MAX_OPS`] operations.
    #[error("a batch holds at most {MAX_OPS} operations, got {0}")]
    TooManyOps(usize),
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
            EditError::InvalidOp(_) => "INVALID_BODY",
            EditError::NotAQuantity(_) => "INVALID_QUANTITY",
            EditError::TooManyOps(_) => "TOO_MANY_OPS",
        }
    }
}

/// Most operations in one batch ([`Cart::apply`]).
pub const MAX_OPS: usize = 250;

/// One shopper's edit, alone or in a batch ([`Cart::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// [`Cart::add`].
    Add { sku: String, qty: u32 },
    /// [`Cart::set_quantity`] (0 removes).
    Set { sku: String, qty: u32 },
    /// [`Cart::remove`].
    Remove { sku: String },
    /// [`Cart::set_selected`].
    Select { sku: String, selected: bool },
    /// [`Cart::select_all`].
    SelectAll { selected: bool },
    /// [`Cart::clear`].
    Clear,
}

/// An operation as a client writes it in JSON: `{"op": "add", "sku": "MUG", "qty": 2}` (`qty` defaults to 1),
/// `{"op": "set", "sku", "qty"}`, `{"op": "remove", "sku"}`, `{"op": "select", "sku", "selected"}`,
/// `{"op": "selectAll", "selected"}`, `{"op": "clear"}`. Hosts deserialize each one and check it with
/// [`Op::from_json`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpJson {
    pub op: String,
    pub sku: Option<String>,
    /// Anything, so that `1.5`, `-1`, `"2"` or `null` is refused as a quantity rather than as a malformed body.
    #[serde(default, deserialize_with = "present")]
    pub qty: Option<Quantity>,
    /// When given, a boolean (`null` is not "absent").
    #[serde(default, deserialize_with = "present")]
    pub selected: Option<bool>,
}

/// A `qty` as given: a number, or anything else (refused as `INVALID_QUANTITY`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    Number(f64),
    Other(serde::de::IgnoredAny),
}

/// An optional member that, when given, must be of its type (`null` included).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl Op {
    /// The operation `json` names, with its sku and quantity checked: `INVALID_BODY` for an unknown `op` or a
    /// missing or extra member, `INVALID_SKU`, `INVALID_QUANTITY` (not a whole number in 32 bits; each operation
    /// checks its own range when it applies).
    pub fn from_json(json: OpJson) -> Result<Op, EditError> {
        let OpJson {
            op,
            sku,
            qty,
            selected,
        } = json;
        let shape = |want: &[&str]| -> Result<(), EditError> {
            let given = [
                ("sku", sku.is_some()),
                ("qty", qty.is_some()),
                ("selected", selected.is_some()),
            ];
            for (name, present) in given {
                let wanted = want.contains(&name) || (name == "qty" && op == "add");
                if present && !wanted {
                    return Err(EditError::InvalidOp(format!(
                        "\"{op}\" takes no \"{name}\""
                    )));
                }
                if !present && want.contains(&name) {
                    return Err(EditError::InvalidOp(format!("\"{op}\" needs \"{name}\"")));
                }
            }
            Ok(())
        };
        let sku = || -> Result<String, EditError> {
            let sku = sku.clone().unwrap_or_default();
            validate_sku(&sku)?;
            Ok(sku)
        };
        let qty = |default: Option<u32>| -> Result<u32, EditError> {
            match &qty {
                None => default.ok_or_else(|| EditError::InvalidOp("qty is required".into())),
                Some(Quantity::Number(q))
                    if q.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(q) =>
                {
                    Ok(*q as u32)
                }
                Some(Quantity::Number(q)) => Err(EditError::NotAQuantity(q.to_string())),
                Some(Quantity::Other(_)) => Err(EditError::NotAQuantity("not a number".to_owned())),
            }
        };
        match op.as_str() {
            "add" => {
                shape(&["sku"])?;
                Ok(Op::Add {
                    sku: sku()?,
                    qty: in_range(qty(Some(1))?, 1)?,
                })
            }
            "set" => {
                shape(&["sku", "qty"])?;
                Ok(Op::Set {
                    sku: sku()?,
                    qty: in_range(qty(None)?, 0)?,
                })
            }
            "remove" => {
                shape(&["sku"])?;
                Ok(Op::Remove { sku: sku()? })
            }
            "select" => {
                shape(&["sku", "selected"])?;
                Ok(Op::Select {
                    sku: sku()?,
                    selected: selected.unwrap_or(true),
                })
            }
            "selectAll" => {
                shape(&["selected"])?;
                Ok(Op::SelectAll {
                    selected: selected.unwrap_or(true),
                })
            }
            "clear" => {
                shape(&[])?;
                Ok(Op::Clear)
            }
            other => Err(EditError::InvalidOp(format!(
                "unknown op \"{other}\": add, set, remove, select, selectAll or clear"
            ))),
        }
    }

    fn reads_records(&self) -> bool {
        matches!(self, Op::Set { .. } | Op::Remove { .. } | Op::Clear)
    }
}

/// `qty` if it is within `min..=MAX_QTY` (what the operation takes), else `INVALID_QUANTITY`: checked when read, so
/// a host can refuse a batch before it reaches the cart.
fn in_range(qty: u32, min: u32) -> Result<u32, EditError> {
    if (min..=MAX_QTY).contains(&qty) {
        Ok(qty)
    } else {
        Err(EditError::InvalidQuantity {
            qty,
            min,
            max: MAX_QTY,
        })
    }
}

/// Why a batch was refused: the position of the operation it was refused for (none when the refusal is about the
/// whole batch: too many operations, a cart of a newer layout), and why. The cart is unchanged.
#[derive(Debug, Error)]
#[error("{error}")]
pub struct BatchError {
    pub index: Option<usize>,
    #[source]
    pub error: EditError,
}

impl Cart {
    /// Applies `ops` in order as one change, all or nothing: each operation sees the ones before it (a set after an
    /// add overrides it, an add after a set comes on top), and merges as the same operations made one by one on
    /// this replica would. An operation that is wrong in itself (a bad sku or quantity, a line to select that is not
    /// there) refuses the batch with its position. The limits hold for the batch's result: a line over 999 items is
    /// `QUANTITY_LIMIT` at the last add that raised it, more than 120 lines `CART_FULL` at the operation that created
    /// the first line beyond them (so a batch may remove a line and add another to a full cart). New lines are
    /// stamped in the order the batch makes them. At most [`MAX_OPS`] operations. A refused batch leaves the cart
    /// unchanged.
    ///
    /// ```
    /// use cart_core::{Cart, Op};
    /// let mut cart = Cart::new();
    /// cart.apply(&[
    ///     Op::Add { sku: "MUG".into(), qty: 2 },
    ///     Op::Add { sku: "TEA".into(), qty: 1 },
    ///     Op::Select { sku: "TEA".into(), selected: false },
    /// ])?;
    /// assert_eq!(cart.view().item_count, 3);
    /// let refused = cart.apply(&[Op::Remove { sku: "MUG".into() }, Op::Add { sku: "TEA".into(), qty: 999 }]);
    /// assert_eq!(refused.unwrap_err().index, Some(1));
    /// assert_eq!(cart.view().qty("MUG"), 2, "nothing applied");
    /// # Ok::<(), cart_core::BatchError>(())
    /// ```
    pub fn apply(&mut self, ops: &[Op]) -> Result<(), BatchError> {
        let whole = |error| BatchError { index: None, error };
        if ops.len() > MAX_OPS {
            return Err(whole(EditError::TooManyOps(ops.len())));
        }
        self.writable().map_err(whole)?;
        let lines = self.raw_lines(None);
        let mut edit = Edit {
            before: lines
                .iter()
                .filter(|(_, l)| l.qty() > 0)
                .map(|(s, _)| s.clone())
                .collect(),
            lines,
            records: ops.iter().any(Op::reads_records).then(|| self.records()),
            exact: self.adds_deleted,
            now: (self.clock)(),
            new_lines: Vec::new(),
            last_add: BTreeMap::new(),
            overwritten: Vec::new(),
            adds: Vec::new(),
        };
        self.transact(|tx, c| {
            for (i, op) in ops.iter().enumerate() {
                edit.step(tx, c, i, op).map_err(|error| BatchError {
                    index: Some(i),
                    error,
                })?;
            }
            edit.check_limits()?;
            edit.write_adds(tx, c).map_err(|e| BatchError {
                index: None,
                error: e.into(),
            })
        })?;
        self.remember(edit.lines);
        Ok(())
    }

    fn apply_one(&mut self, op: Op) -> Result<(), EditError> {
        self.apply(&[op]).map_err(|e| e.error)
    }

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
        self.apply_one(Op::Add {
            sku: sku.to_owned(),
            qty: n,
        })
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
        self.apply_one(Op::Set {
            sku: sku.to_owned(),
            qty: n,
        })
    }

    /// Removes the line for `sku`. Removing an absent line is not an error and records nothing.
    ///
    /// Removes only what this replica has seen: an add made concurrently elsewhere survives.
    pub fn remove(&mut self, sku: &str) -> Result<(), EditError> {
        self.apply_one(Op::Remove {
            sku: sku.to_owned(),
        })
    }

    /// Selects or deselects the line for `sku` for checkout. Last writer wins, deterministically on every replica.
    pub fn set_selected(&mut self, sku: &str, selected: bool) -> Result<(), EditError> {
        self.apply_one(Op::Select {
            sku: sku.to_owned(),
            selected,
        })
    }

    /// Selects or deselects every line this replica can see, in one change (each line as [`Cart::set_selected`]).
    pub fn select_all(&mut self, selected: bool) -> Result<(), EditError> {
        self.apply_one(Op::SelectAll { selected })
    }

    /// Removes every line this replica can see, in one change. Lines added concurrently elsewhere survive.
    pub fn clear(&mut self) -> Result<(), EditError> {
        self.apply_one(Op::Clear)
    }
}

/// A batch under way: the lines as the operations so far left them, and what every operation of it shares.
struct Edit {
    lines: BTreeMap<String, RawLine>,
    /// The lines the cart had before the batch.
    before: std::collections::BTreeSet<String>,
    /// The merge records, read once for the batch when an operation needs them (ops never change them).
    records: Option<Records>,
    exact: bool,
    now: i64,
    /// The lines the batch created, with the operation that did, in order.
    new_lines: Vec<(usize, String)>,
    /// By sku, the last add of the batch: its position, the quantity before it and what it added.
    last_add: BTreeMap<String, (usize, u32, u32)>,
    /// The lines a set, remove or clear of the batch overwrote.
    overwritten: Vec<String>,
    /// The batch's entries of the `adds` list, in the order of its operations, written together at its end.
    adds: Vec<String>,
}

impl Edit {
    /// Checks `op` (at position `index`) against the lines so far and writes it into `tx`; an error writes nothing
    /// of it (and the caller rolls the batch back).
    fn step(
        &mut self,
        tx: &mut Transaction<'_>,
        c: &Containers,
        index: usize,
        op: &Op,
    ) -> Result<(), EditError> {
        match op {
            Op::Add { sku, qty } => self.add(tx, c, index, sku, *qty),
            Op::Set { sku, qty } => self.set(tx, c, index, sku, *qty),
            Op::Remove { sku } => self.set(tx, c, index, sku, 0),
            Op::Select { sku, selected } => {
                validate_sku(sku)?;
                let line = self
                    .lines
                    .get_mut(sku)
                    .filter(|l| l.qty() > 0)
                    .ok_or_else(|| EditError::LineNotFound(sku.clone()))?;
                if line.selected.unwrap_or(true) != *selected {
                    tx.put(&c.selected, sku.as_str(), *selected)?;
                    line.selected = Some(*selected);
                }
                Ok(())
            }
            Op::SelectAll { selected } => {
                for (sku, line) in self.lines.iter_mut().filter(|(_, l)| l.qty() > 0) {
                    if line.selected.unwrap_or(true) != *selected {
                        tx.put(&c.selected, sku.as_str(), *selected)?;
                        line.selected = Some(*selected);
                    }
                }
                Ok(())
            }
            Op::Clear => {
                let skus: Vec<String> = self
                    .lines
                    .iter()
                    .filter(|(_, l)| l.unclamped() > 0)
                    .map(|(sku, _)| sku.clone())
                    .collect();
                for sku in skus {
                    self.overwrite(tx, c, &sku, 0)?;
                }
                Ok(())
            }
        }
    }

    fn add(
        &mut self,
        tx: &mut Transaction<'_>,
        c: &Containers,
        index: usize,
        sku: &str,
        n: u32,
    ) -> Result<(), EditError> {
        validate_sku(sku)?;
        in_range(n, 1)?;
        let current = self.unclamped(sku);
        self.adds.push(schema::encode_add(n, sku));
        let line = self.lines.entry(sku.to_owned()).or_default();
        line.added(n);
        let total = line.unclamped();
        self.last_add.insert(
            sku.to_owned(),
            (index, u32::try_from(current).unwrap_or(u32::MAX), n),
        );
        if current == 0 {
            self.start(tx, c, index, sku)?;
        }
        if self.overwritten.iter().any(|s| s == sku) {
            // An add after a set of its line in the same change: replicas that read exactly (a layout-1 history)
            // count every add of the change a set is in as seen by it, so the set is written again with the add
            // in it. The same on every reader as the set and the add one by one: if this set wins, the line is
            // the set's quantity plus the add; if a concurrent one does, the add is one it had not seen.
            self.overwrite(tx, c, sku, u32::try_from(total).unwrap_or(u32::MAX))?;
        }
        Ok(())
    }

    fn set(
        &mut self,
        tx: &mut Transaction<'_>,
        c: &Containers,
        index: usize,
        sku: &str,
        n: u32,
    ) -> Result<(), EditError> {
        validate_sku(sku)?;
        in_range(n, 0)?;
        let current = self.unclamped(sku);
        if current == 0 && n == 0 {
            // Removing a line that is not there: nothing to record.
            return Ok(());
        }
        self.overwrite(tx, c, sku, n)?;
        // A set is its line's own limit: an earlier add of the batch no longer raises it.
        self.last_add.remove(sku);
        if current == 0 {
            self.start(tx, c, index, sku)?;
        }
        Ok(())
    }

    /// Marks `sku`'s line as new (selected), stamped in the order the batch creates lines.
    fn start(
        &mut self,
        tx: &mut Transaction<'_>,
        c: &Containers,
        index: usize,
        sku: &str,
    ) -> Result<(), EditError> {
        let stamp = self.now.saturating_add(self.new_lines.len() as i64);
        start_line(tx, c, sku, true, stamp)?;
        if let Some(line) = self.lines.get_mut(sku) {
            line.start(true, stamp);
        }
        self.new_lines.push((index, sku.to_owned()));
        Ok(())
    }

    /// The line's quantity so far, unclamped (a batch may pass a limit on the way).
    fn unclamped(&self, sku: &str) -> u64 {
        self.lines.get(sku).map_or(0, RawLine::unclamped)
    }

    /// Sets the line's quantity to `n` over everything this replica has seen of it.
    fn overwrite(
        &mut self,
        tx: &mut Transaction<'_>,
        c: &Containers,
        sku: &str,
        n: u32,
    ) -> Result<(), EditError> {
        let line = self.lines.entry(sku.to_owned()).or_default();
        let records = self
            .records
            .as_ref()
            .map(|r| r.seen_by_a_set(sku))
            .unwrap_or_default();
        overwrite_line(tx, c, sku, n, line.adds, &records, self.exact)?;
        line.overwrite(n, self.exact);
        if !self.overwritten.iter().any(|s| s == sku) {
            self.overwritten.push(sku.to_owned());
        }
        Ok(())
    }

    /// Puts the batch's adds at the front of the `adds` list, newest first (as one insert at index 0 per add
    /// would), in one splice: Automerge pays a splice of its op set per call, so 120 adds cost one, not 120. Nothing
    /// reads the list between an add and the end of its batch (the batch's lines are kept in `lines`).
    fn write_adds(
        &mut self,
        tx: &mut Transaction<'_>,
        c: &Containers,
    ) -> Result<(), automerge::AutomergeError> {
        if self.adds.is_empty() {
            return Ok(());
        }
        let newest_first = self.adds.drain(..).rev().map(ScalarValue::from);
        tx.splice(&c.adds, 0, 0, newest_first)
    }

    /// The limits, against the batch's result: no line above [`MAX_QTY`] (blamed on the last add that raised it),
    /// at most [`MAX_LINES`] lines (blamed on the operation that created the first line beyond them).
    fn check_limits(&self) -> Result<(), BatchError> {
        let over = self
            .last_add
            .iter()
            .filter(|(sku, _)| self.unclamped(sku) > u64::from(MAX_QTY))
            .map(|(_, &(index, current, adding))| (index, current, adding))
            .min();
        if let Some((index, current, adding)) = over {
            return Err(BatchError {
                index: Some(index),
                error: EditError::QuantityLimit {
                    current: current.min(MAX_QTY),
                    adding,
                },
            });
        }
        let present = |sku: &String| self.lines.get(sku).is_some_and(|l| l.qty() > 0);
        let kept = self.before.iter().filter(|s| present(s)).count();
        // A line created, removed and created again counts once, at its last creation.
        let mut created_once: Vec<usize> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (index, sku) in self.new_lines.iter().rev() {
            if present(sku) && !self.before.contains(sku) && seen.insert(sku) {
                created_once.push(*index);
            }
        }
        created_once.reverse();
        // Only a batch that creates lines can be refused for them: a cart over the limit (concurrent adds on two
        // devices can take it there) stays editable.
        if !created_once.is_empty() && kept + created_once.len() > MAX_LINES {
            let index = created_once.get(MAX_LINES.saturating_sub(kept)).copied();
            return Err(BatchError {
                index,
                error: EditError::CartFull,
            });
        }
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
