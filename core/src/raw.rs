//! A look at a change chunk's raw op columns, for what Automerge 0.12 assumes and does not check.
//!
//! Parsing a change (`Change::try_from`) unwraps the conversion of every op counter to 32 bits, and expanding one
//! (`Change::decode`) unwraps every actor index an op names and panics on an unknown action; a checksum-valid
//! change can break each (`fuzz/crashers/forged_change/`). So before Automerge parses a change chunk, its columns
//! are read here: every actor index must name one of the change's actors and every counter fit in 32 bits.
//!
//! The format (Automerge's binary format, change chunk): header (magic, checksum, type, length), dependencies,
//! author, seq, start op, time, message, other actors, column metadata (spec and length of each column), column
//! data, extra bytes. A column spec is `id << 4 | deflate << 3 | type`; integer and actor columns are run-length
//! encoded unsigned LEB128, delta columns run-length encoded signed LEB128 differences.

use crate::chunks::uleb128;

const ACTOR: u64 = 1;
const INTEGER: u64 = 2;
const DELTA: u64 = 3;
const OBJ: u64 = 0;
const KEY: u64 = 1;
const ACTION: u64 = 4;
const PRED: u64 = 7;

/// Whether Automerge can parse and expand the change chunk `chunk` (header included) without panicking on its
/// ops: actor indices in range, counters within 32 bits, its own ops' counters too. Anything that is not an
/// uncompressed change chunk with readable columns is not parseable.
pub(crate) fn parseable(chunk: &[u8]) -> bool {
    columns(chunk).is_some_and(|(actors, start_op, cols)| {
        let ops = cols
            .iter()
            .filter(|(spec, _)| spec >> 4 == ACTION && spec & 7 == INTEGER)
            .map(|&(_, data)| rle_len(data))
            .max()
            .unwrap_or(Some(0));
        ops.and_then(|n| start_op.checked_add(n))
            .is_some_and(fits_u32)
            && cols.iter().all(|&(spec, data)| {
                let (id, kind) = (spec >> 4, spec & 7);
                spec & 8 == 0
                    && match kind {
                        ACTOR => rle(data, |v| v < actors).is_some(),
                        INTEGER if id == OBJ => rle(data, fits_u32).is_some(),
                        DELTA if id == KEY || id == PRED => deltas_fit(data).is_some(),
                        _ => true,
                    }
            })
    })
}

/// Whether every op of the change chunk `chunk` is a put or a delete (actions 1 and 3).
pub(crate) fn only_puts_and_deletes(chunk: &[u8]) -> bool {
    columns(chunk).is_some_and(|(_, _, cols)| {
        cols.iter()
            .filter(|(spec, _)| spec >> 4 == ACTION && spec & 7 == INTEGER)
            .all(|&(_, data)| rle(data, |v| v == 1 || v == 3).is_some())
    })
}

fn fits_u32(v: u64) -> bool {
    v <= u64::from(u32::MAX)
}

/// The number of actors, the start op, and each column's spec and data, of an uncompressed change chunk.
#[allow(clippy::type_complexity)]
fn columns(chunk: &[u8]) -> Option<(u64, u64, Vec<(u64, &[u8])>)> {
    let mut r = Reader(chunk.get(8..)?);
    if r.byte()? != 1 {
        return None;
    }
    r.uleb()?;
    let deps = usize::try_from(r.uleb()?).ok()?;
    r.take(deps.checked_mul(32)?)?;
    r.bytes()?;
    r.uleb()?;
    let start_op = r.uleb()?;
    r.sleb()?;
    r.bytes()?;
    let others = r.uleb()?;
    for _ in 0..others {
        r.bytes()?;
    }
    let mut specs = Vec::new();
    for _ in 0..r.uleb()? {
        let spec = r.uleb()?;
        specs.push((spec, usize::try_from(r.uleb()?).ok()?));
    }
    let mut cols = Vec::with_capacity(specs.len());
    for (spec, len) in specs {
        cols.push((spec, r.take(len)?));
    }
    Some((others.checked_add(1)?, start_op, cols))
}

/// Runs `ok` on every non-null value of a run-length encoded column of unsigned LEB128 values: a signed count n,
/// then one value repeated n times if n > 0, -n literal values if n < 0, or a count of nulls if n = 0.
fn rle(data: &[u8], ok: impl Fn(u64) -> bool) -> Option<()> {
    let mut r = Reader(data);
    while !r.0.is_empty() {
        let count = r.sleb()?;
        let values = if count > 0 { 1 } else { count.unsigned_abs() };
        if count == 0 {
            r.uleb()?;
        }
        for _ in 0..values {
            if !ok(r.uleb()?) {
                return None;
            }
        }
    }
    Some(())
}

/// The number of entries (values and nulls) of a run-length encoded column of unsigned LEB128 values.
fn rle_len(data: &[u8]) -> Option<u64> {
    let mut r = Reader(data);
    let mut len: u64 = 0;
    while !r.0.is_empty() {
        let count = r.sleb()?;
        let n = if count == 0 {
            r.uleb()?
        } else {
            count.unsigned_abs()
        };
        if count > 0 {
            r.uleb()?;
        } else if count < 0 {
            for _ in 0..n {
                r.uleb()?;
            }
        }
        len = len.checked_add(n)?;
    }
    Some(len)
}

/// Whether every running sum of a run-length encoded delta column stays within 0..=u32::MAX.
fn deltas_fit(data: &[u8]) -> Option<()> {
    let mut r = Reader(data);
    let mut sum: i64 = 0;
    let mut step = |d: i64| -> Option<()> {
        sum = sum.checked_add(d)?;
        (0..=i64::from(u32::MAX)).contains(&sum).then_some(())
    };
    while !r.0.is_empty() {
        let count = r.sleb()?;
        if count > 0 {
            let d = r.sleb()?;
            // A run repeats the same delta: the largest and smallest sums are at its ends.
            step(d.checked_mul(count)?)?;
        } else if count < 0 {
            for _ in 0..count.unsigned_abs() {
                step(r.sleb()?)?;
            }
        } else {
            r.uleb()?;
        }
    }
    Some(())
}

/// A cursor over bytes that answers `None` rather than read past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn uleb(&mut self) -> Option<u64> {
        let (value, used) = uleb128(self.0)?;
        self.0 = &self.0[used..];
        Some(value)
    }

    fn sleb(&mut self) -> Option<i64> {
        let mut value: i64 = 0;
        for i in 0..10u32 {
            let b = self.byte()?;
            value |= i64::from(b & 0x7f).checked_shl(7 * i)?;
            if b & 0x80 == 0 {
                if 7 * (i + 1) < 64 && b & 0x40 != 0 {
                    value |= -1i64 << (7 * (i + 1));
                }
                return Some(value);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.uleb()?).ok()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cart;

    #[test]
    fn every_change_a_cart_writes_is_parseable_and_only_puts_and_deletes_after_genesis() {
        let mut cart = Cart::new();
        cart.add("MUG", 2).expect("valid edit");
        cart.set_quantity("MUG", 5).expect("valid edit");
        cart.set_selected("MUG", false).expect("valid edit");
        cart.remove("MUG").expect("valid edit");
        let changes = cart.doc().get_changes(&[]);
        assert_eq!(changes.len(), 5);
        for change in &changes {
            assert!(parseable(change.raw_bytes()));
        }
        assert!(
            !only_puts_and_deletes(changes[0].raw_bytes()),
            "the genesis makes objects"
        );
        for change in &changes[1..] {
            assert!(only_puts_and_deletes(change.raw_bytes()));
        }
    }

    #[test]
    fn run_length_and_delta_columns_decode_as_automerge_writes_them() {
        // A run of three 5s, then two literals 1 and 2, then four nulls.
        let col = [3, 5, 0x7e, 1, 2, 0, 4];
        let seen = std::cell::RefCell::new(Vec::new());
        assert!(rle(&col, |v| {
            seen.borrow_mut().push(v);
            true
        })
        .is_some());
        assert_eq!(*seen.borrow(), [5, 1, 2]);
        assert!(rle(&col, |v| v < 5).is_none());
        // Deltas: +3 three times (sum 9), then a literal -9: in range; a literal -10 goes below zero.
        assert!(deltas_fit(&[3, 3, 0x7f, 0x77]).is_some());
        assert!(deltas_fit(&[3, 3, 0x7f, 0x76]).is_none());
    }
}
