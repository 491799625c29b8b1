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

/// Whether an op of the uncompressed document chunk `chunk` on the object `(obj_counter, obj_actor)` has a
/// successor: an op that overwrote or deleted it. `None` when `chunk` is not an uncompressed document chunk with
/// readable op columns.
///
/// A document chunk (Automerge's binary format) holds: header (magic, checksum, type 0, length), actors, heads,
/// the change columns' and the op columns' metadata, then their data. Deletes are not ops there: a deleted op
/// lists the delete among its successors (the group column `succ`, id 8). Ops on the root have null object
/// columns.
pub(crate) fn document_has_successors(
    chunk: &[u8],
    obj_actor: &[u8],
    obj_counter: u64,
) -> Option<bool> {
    let mut r = Reader(chunk.get(8..)?);
    if r.byte()? != 0 {
        return None;
    }
    r.uleb()?;
    let mut actor_index = None;
    for i in 0..r.uleb()? {
        if r.bytes()? == obj_actor {
            actor_index = Some(i);
        }
    }
    let heads = usize::try_from(r.uleb()?).ok()?;
    r.take(heads.checked_mul(32)?)?;
    let metadata = |r: &mut Reader<'_>| -> Option<Vec<(u64, usize)>> {
        let mut specs = Vec::new();
        for _ in 0..r.uleb()? {
            let spec = r.uleb()?;
            specs.push((spec, usize::try_from(r.uleb()?).ok()?));
        }
        Some(specs)
    };
    let change_specs = metadata(&mut r)?;
    let op_specs = metadata(&mut r)?;
    let change_len = change_specs
        .iter()
        .try_fold(0usize, |sum, &(_, len)| sum.checked_add(len))?;
    r.take(change_len)?;
    let (mut obj_actors, mut obj_counters, mut succs) = (None, None, None);
    for (spec, len) in op_specs {
        let data = r.take(len)?;
        if spec & 8 != 0 {
            return None;
        }
        match spec {
            OBJ_ACTOR_SPEC => obj_actors = Some(data),
            OBJ_COUNTER_SPEC => obj_counters = Some(data),
            SUCC_COUNT_SPEC => succs = Some(data),
            _ => {}
        }
    }
    let Some(actor_index) = actor_index else {
        // No op names the object's actor: none acts on the object.
        return Some(false);
    };
    let (mut actors, mut counters, mut succs) = (
        Rle::new(obj_actors.unwrap_or_default()),
        Rle::new(obj_counters.unwrap_or_default()),
        Rle::new(succs.unwrap_or_default()),
    );
    loop {
        let (a, c, s) = (actors.next(), counters.next(), succs.next());
        match (a, c, s) {
            (None, None, None) => return Some(false),
            // One column ended before another, or did not decode.
            (None, ..) | (_, None, _) | (.., None) => return None,
            (Some(a), Some(c), Some(s)) => {
                let (a, c, s) = (a.ok()?, c.ok()?, s.ok()?);
                if a == Some(actor_index) && c == Some(obj_counter) && s.unwrap_or(0) > 0 {
                    return Some(true);
                }
            }
        }
    }
}

/// Op column specs of a document chunk (`id << 4 | type`): the object's actor and counter, the successor count.
const OBJ_ACTOR_SPEC: u64 = OBJ << 4 | ACTOR;
const OBJ_COUNTER_SPEC: u64 = OBJ << 4 | INTEGER;
const SUCC_COUNT_SPEC: u64 = SUCC << 4 | GROUP;
const SUCC: u64 = 8;
const GROUP: u64 = 0;

/// The entries of a run-length encoded column of unsigned LEB128 values, one at a time (see [`rle`]):
/// `Some(Ok(value or null))`, `Some(Err(()))` once when the data does not decode, `None` at the end.
struct Rle<'a> {
    r: Reader<'a>,
    /// The current run: its remaining length, and its repeated value (`None`: a literal run, or nulls when
    /// `nulls`).
    left: u64,
    repeated: Option<u64>,
    nulls: bool,
    failed: bool,
}

impl<'a> Rle<'a> {
    fn new(data: &'a [u8]) -> Self {
        Rle {
            r: Reader(data),
            left: 0,
            repeated: None,
            nulls: false,
            failed: false,
        }
    }

    fn start_run(&mut self) -> Option<()> {
        let count = self.r.sleb()?;
        self.nulls = count == 0;
        self.repeated = None;
        self.left = if count == 0 {
            self.r.uleb()?
        } else {
            count.unsigned_abs()
        };
        if count > 0 {
            self.repeated = Some(self.r.uleb()?);
        }
        Some(())
    }
}

impl Iterator for Rle<'_> {
    type Item = Result<Option<u64>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while self.left == 0 {
            if self.r.0.is_empty() {
                return None;
            }
            if self.start_run().is_none() {
                self.failed = true;
                return Some(Err(()));
            }
        }
        self.left -= 1;
        if self.nulls {
            return Some(Ok(None));
        }
        match self.repeated {
            Some(v) => Some(Ok(Some(v))),
            None => match self.r.uleb() {
                Some(v) => Some(Ok(Some(v))),
                None => {
                    self.failed = true;
                    Some(Err(()))
                }
            },
        }
    }
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
    fn a_document_tells_whether_an_element_of_the_adds_list_was_deleted() {
        let c = crate::schema::Containers::fixed();
        let automerge::ObjId::Id(counter, actor, _) = &c.adds else {
            unreachable!("the adds list is an object")
        };
        let mut cart = Cart::new();
        cart.add("MUG", 2).expect("valid edit");
        cart.set_quantity("MUG", 5).expect("valid edit");
        cart.remove("MUG").expect("valid edit");
        let bytes = cart.doc().save_nocompress();
        assert_eq!(
            document_has_successors(&bytes, actor.to_bytes(), *counter),
            Some(false)
        );
        // The `base` map's values were overwritten: the same reading of the same columns says so.
        assert_eq!(
            document_has_successors(&bytes, actor.to_bytes(), 2),
            Some(true)
        );
        // A cut document, or a change chunk, is unreadable, which callers take as "maybe".
        assert_eq!(
            document_has_successors(&bytes[..bytes.len() / 2], actor.to_bytes(), 2),
            None
        );
        let change = cart.doc().get_changes(&[]).pop().expect("a change");
        assert_eq!(
            document_has_successors(change.raw_bytes(), actor.to_bytes(), 2),
            None
        );
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
