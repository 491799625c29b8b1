//! A look at Automerge's binary chunks before Automerge applies them.
//!
//! Automerge 0.12 panics, rather than returning an error, on two kinds of crafted input that the fuzz targets found
//! (the inputs are kept in `fuzz/crashers/load_document/`):
//! - malformed *bundle* chunks (chunk type 3): its column decoder unwraps data it assumes was validated, and
//!   bundles are parsed before their checksum is checked;
//! - a change whose author, or an actor it references, is unknown to the document when the change is applied (for
//!   example a change claiming sequence number 4 of an actor never seen, with no dependencies): the op import
//!   unwraps the actor lookup;
//! - a sync message whose Bloom filter claims entries but holds no bits (`fuzz/crashers/receive_sync/`): probing
//!   it divides by zero; and one asking for billions of probes would exhaust memory.
//!
//! A panic in wasm aborts the worker's isolate or the page's module, so every byte string the core hands to
//! Automerge is looked at here first. Carts never write bundles and the sync protocol never sends them (a V2
//! message carries changes or a document). A well-formed change only names actors whose first change precedes it,
//! so the actor rule refuses nothing an honest replica sends, except in one rare case: a peer that lacks every
//! change of some actor and receives a change naming it before those (a Bloom-filter false positive in the sync
//! protocol); the sync then fails and succeeds on the next connection.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use automerge::{
    ActorId, Automerge, Change, ChangeHash, LoadOptions, OnPartialLoad, VerificationMode,
};

use crate::cart::LoadError;
use crate::guard::{self, Clocks};
use crate::raw;

/// The four bytes that open every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a bundle.
const BUNDLE: u8 = 3;

/// An unsigned LEB128 number and how many bytes it took; `None` when truncated or over 64 bits.
pub(crate) fn uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(b & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// One chunk of a chunk sequence: a whole document (left to Automerge, which rebuilds it consistently), or a
/// parsed change.
pub(crate) enum Piece<'a> {
    Document(&'a [u8]),
    Change(Box<Change>),
}

/// Splits `bytes` into its chunks, parsing each change. Any malformed chunk, unknown chunk type or bundle is an
/// error: the whole input is refused, as Automerge would refuse it.
pub(crate) fn split(bytes: &[u8]) -> Result<Vec<Piece<'_>>, LoadError> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 10 || rest[..4] != MAGIC {
            return Err(LoadError::Chunk("not an Automerge chunk".into()));
        }
        let (len, len_bytes) =
            uleb128(&rest[9..]).ok_or_else(|| LoadError::Chunk("bad chunk length".into()))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(9 + len_bytes))
            .filter(|&end| end <= rest.len())
            .ok_or_else(|| LoadError::Chunk("truncated chunk".into()))?;
        let (chunk, tail) = rest.split_at(end);
        match chunk[8] {
            0 => pieces.push(Piece::Document(chunk)),
            1 if !raw::parseable(chunk) => {
                return Err(LoadError::Chunk(
                    "a change whose ops Automerge cannot read".into(),
                ))
            }
            // Automerge sends and saves changes uncompressed; a compressed one would hide its columns from `raw`.
            2 => {
                return Err(LoadError::Chunk(
                    "compressed change chunks are not accepted".into(),
                ))
            }
            1 => pieces.push(Piece::Change(Box::new(
                Change::try_from(chunk).map_err(|e| LoadError::Chunk(e.to_string()))?,
            ))),
            BUNDLE => return Err(LoadError::Bundle),
            other => return Err(LoadError::Chunk(format!("unknown chunk type {other}"))),
        }
        rest = tail;
    }
    Ok(pieces)
}

/// Whether a sync message's Bloom filter (as [`automerge::sync::BloomFilter::to_bytes`] encodes it) is safe to
/// probe: empty, or with bits and a sane number of probes (Automerge writes 7).
pub(crate) fn bloom_is_sane(encoded: &[u8]) -> bool {
    if encoded.is_empty() {
        return true;
    }
    let mut rest = encoded;
    let mut fields = [0u64; 3];
    for field in &mut fields {
        let Some((value, used)) = uleb128(rest) else {
            return false;
        };
        *field = value;
        rest = &rest[used..];
    }
    let [_entries, _bits_per_entry, probes] = fields;
    !rest.is_empty() && (1..=64).contains(&probes)
}

/// What the target document already holds: its changes and its authors' last changes.
pub(crate) struct Known<'a> {
    pub doc: &'a Automerge,
    pub clocks: &'a Clocks,
}

/// Checks the changes of `pieces`, with those of `pending` (received earlier, kept aside until their dependencies
/// came), in the order Automerge would apply them. A document chunk is taken apart into its changes, and those the
/// document lacks are checked like any other. Each change must name only actors that the document knows or that
/// make their first change (sequence number 1) in the same application, and must keep the cart layout's rules
/// (`guard.rs`).
///
/// Changes whose dependencies are neither in the document nor in the input are returned apart (`waiting`): the
/// caller keeps them out of Automerge, where a forged one would be applied unchecked when its dependency arrives,
/// and asks its peer for the dependencies. If a pending change is refused once it can apply, every pending change
/// is dropped and the input alone is checked: a forged change sent earlier cannot make the honest input that
/// completes it fail (sync asks again for any head this replica lacks).
pub(crate) fn check_changes(
    pieces: &[Piece<'_>],
    pending: &[Change],
    known: &Known<'_>,
) -> Result<Checked, LoadError> {
    let mut from_documents: Vec<Change> = Vec::new();
    for piece in pieces {
        if let Piece::Document(bytes) = piece {
            from_documents.extend(
                strict_load(bytes)?
                    .get_changes(&[])
                    .into_iter()
                    .filter(|c| known.doc.get_change_meta_by_hash(&c.hash()).is_none()),
            );
        }
    }
    let mut input: Vec<&Change> = from_documents.iter().collect();
    for piece in pieces {
        if let Piece::Change(c) = piece {
            if known.doc.get_change_meta_by_hash(&c.hash()).is_none()
                && !input.iter().any(|w| w.hash() == c.hash())
            {
                input.push(c);
            }
        }
    }
    // Oldest first: the kept changes, then the input (what waits keeps this order, and the oldest go first).
    let with_pending: Vec<&Change> = pending
        .iter()
        .filter(|p| !input.iter().any(|c| c.hash() == p.hash()))
        .chain(input.iter().copied())
        .collect();
    let (ready, waiting, deletes_adds, dropped_pending) = match order_and_check(with_pending, known)
    {
        Err(_) if !pending.is_empty() => {
            let (ready, waiting, deletes_adds) = order_and_check(input.clone(), known)?;
            (ready, waiting, deletes_adds, true)
        }
        checked => {
            let (ready, waiting, deletes_adds) = checked?;
            (ready, waiting, deletes_adds, false)
        }
    };
    let exact = waiting.is_empty() && ready.len() == input.len();
    Ok(Checked {
        exact,
        dropped_pending,
        deletes_adds,
        applying: ready.into_iter().cloned().collect(),
        waiting: waiting.into_iter().cloned().collect(),
    })
}

/// Splits `changes` into those that can apply (dependencies in the document or before them in the returned
/// order) and those that wait, and checks the first against the layout; also says whether they delete an add.
#[allow(clippy::type_complexity)]
fn order_and_check<'c>(
    changes: Vec<&'c Change>,
    known: &Known<'_>,
) -> Result<(Vec<&'c Change>, Vec<&'c Change>, bool), LoadError> {
    // Each dependency's largest op, looked up in the document once (the lookup builds the change's metadata).
    let looked_up: RefCell<BTreeMap<ChangeHash, Option<u64>>> = RefCell::new(BTreeMap::new());
    let history_max_op = |hash: &ChangeHash| {
        *looked_up.borrow_mut().entry(*hash).or_insert_with(|| {
            known
                .doc
                .get_change_meta_by_hash(hash)
                .map(|meta| meta.max_op)
        })
    };
    let mut waiting = changes;
    let mut ready: Vec<&Change> = Vec::new();
    let mut ready_hashes: BTreeSet<ChangeHash> = BTreeSet::new();
    // A pass takes every change whose dependencies are ready, as soon as they are (changes usually come in causal
    // order, so one pass takes them all); repeat until a pass takes nothing.
    loop {
        let mut later = Vec::new();
        let before = ready.len();
        for c in waiting {
            if c.deps()
                .iter()
                .all(|d| ready_hashes.contains(d) || history_max_op(d).is_some())
            {
                ready_hashes.insert(c.hash());
                ready.push(c);
            } else {
                later.push(c);
            }
        }
        waiting = later;
        if ready.len() == before {
            break;
        }
    }
    let mut introduced: BTreeSet<&ActorId> = BTreeSet::new();
    for c in &ready {
        if c.seq() == 1 {
            introduced.insert(c.actor_id());
        }
    }
    for c in &ready {
        for actor in c.actors() {
            if !introduced.contains(actor) && !known.clocks.contains_key(actor) {
                return Err(LoadError::UnknownActor(actor.to_hex_string()));
            }
        }
    }
    let deletes_adds = guard::check(&ready, known.doc, &history_max_op, known.clocks)?;
    Ok((ready, waiting, deletes_adds))
}

/// The outcome of [`check_changes`].
pub(crate) struct Checked {
    /// Whether the changes to apply are exactly the input's: it can be applied as it came.
    pub exact: bool,
    /// Whether the changes kept aside were dropped (one was refused).
    pub dropped_pending: bool,
    /// Whether a change that applies deletes an add (only layout-1 writers did): the cart's lines are then read
    /// exactly (`schema::read_lines`).
    pub deletes_adds: bool,
    /// The changes that apply, in an order that can apply.
    pub applying: Vec<Change>,
    /// The changes that wait for dependencies: kept out of Automerge, checked again when more arrives.
    pub waiting: Vec<Change>,
}

impl Checked {
    /// The bytes to apply: the changes that apply, one chunk each.
    pub fn bytes(&self) -> Vec<u8> {
        self.applying
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect()
    }
}

/// Every author of `doc` with its last change.
pub(crate) fn clocks(doc: &Automerge) -> Clocks {
    let mut clocks = Clocks::new();
    for meta in doc.get_changes_meta(&[]) {
        let entry = clocks.entry(meta.actor.into_owned()).or_default();
        entry.seq = entry.seq.max(meta.seq);
        entry.max_op = entry.max_op.max(meta.max_op);
    }
    clocks
}

/// Loads `bytes` into a fresh document, refusing any partial or unverifiable input. Callers have passed the
/// bytes through `split` (and the actor check) first.
pub(crate) fn strict_load(bytes: &[u8]) -> Result<Automerge, LoadError> {
    Ok(Automerge::load_with_options(
        bytes,
        LoadOptions::new()
            .on_partial_load(OnPartialLoad::Error)
            .verification_mode(VerificationMode::Check),
    )?)
}

/// Loads a saved cart: its documents first (rebuilt consistently by Automerge), then its incremental changes,
/// checked against them (see `chunks.rs`). Refuses anything partial, unverifiable or forged. Also returns the
/// changes that wait for dependencies (saved while they waited), to be kept out of Automerge.
pub(crate) fn checked_load(bytes: &[u8]) -> Result<(Automerge, Vec<Change>), LoadError> {
    let pieces = split(bytes)?;
    let leading = pieces
        .iter()
        .take_while(|p| matches!(p, Piece::Document(_)))
        .count();
    let documents: usize = pieces[..leading]
        .iter()
        .map(|p| match p {
            Piece::Document(d) => d.len(),
            Piece::Change(_) => 0,
        })
        .sum();
    let (front, rest) = bytes.split_at(documents);
    let mut doc = strict_load(front)?;
    if rest.is_empty() {
        return Ok((doc, Vec::new()));
    }
    let rest_pieces = &pieces[leading..];
    let clocks = clocks(&doc);
    let known = Known {
        doc: &doc,
        clocks: &clocks,
    };
    let checked = check_changes(rest_pieces, &[], &known)?;
    if checked.exact {
        doc.load_incremental(rest)?;
    } else {
        doc.load_incremental(&checked.bytes())?;
    }
    Ok((doc, checked.waiting))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cart;

    /// Checks `pieces` against a document that holds nothing, not even the genesis.
    fn check_against_nothing(pieces: &[Piece<'_>]) -> Result<Checked, LoadError> {
        let empty = Automerge::new();
        let clocks = Clocks::new();
        check_changes(
            pieces,
            &[],
            &Known {
                doc: &empty,
                clocks: &clocks,
            },
        )
    }

    fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([0, 0, 0, 0, kind, data.len() as u8]);
        out.extend(data);
        out
    }

    #[test]
    fn a_bundle_anywhere_in_a_chunk_sequence_is_refused() {
        let mut cart = Cart::new();
        cart.add("A", 1).expect("valid edit");
        let mut seq = cart.save();
        seq.extend(chunk(BUNDLE, b""));
        assert!(matches!(split(&seq), Err(LoadError::Bundle)));
    }

    #[test]
    fn garbage_truncated_and_unknown_chunks_are_refused() {
        assert!(matches!(
            split(b"not a chunk at all"),
            Err(LoadError::Chunk(_))
        ));
        let mut long = chunk(1, b"");
        long[9] = 0x7f;
        assert!(matches!(split(&long), Err(LoadError::Chunk(_))));
        assert!(matches!(split(&chunk(9, b"")), Err(LoadError::Chunk(_))));
        assert!(matches!(
            split(&chunk(1, b"not a change")),
            Err(LoadError::Chunk(_))
        ));
        assert!(split(b"").expect("nothing is fine").is_empty());
    }

    #[test]
    fn a_save_and_its_increments_split_into_a_document_and_changes_with_known_actors() {
        let mut cart = Cart::new();
        let mut bytes = cart.save();
        cart.add("A", 1).expect("valid edit");
        cart.add("B", 2).expect("valid edit");
        bytes.extend(cart.save_incremental());
        let pieces = split(&bytes).expect("valid chunks");
        assert!(matches!(pieces[0], Piece::Document(_)));
        assert!(pieces[1..].iter().all(|p| matches!(p, Piece::Change(_))));
        let checked =
            check_against_nothing(&pieces).expect("every actor is introduced before it is used");
        // The document's one change (the genesis) is checked like the two edits after it.
        assert_eq!((checked.applying.len(), checked.waiting.len()), (3, 0));
    }

    #[test]
    fn a_change_from_an_actor_never_seen_is_refused_before_automerge_applies_it() {
        let mut cart = Cart::new();
        cart.save();
        cart.add("A", 1).expect("valid edit");
        cart.save_incremental();
        let with_first = cart.doc().clone();
        cart.add("B", 1).expect("valid edit");
        let second = cart.save_incremental();
        // Without the first edit the second waits for it.
        let pieces = split(&second).expect("valid chunks");
        let checked =
            check_against_nothing(&pieces).expect("a change waiting for its dependencies");
        assert_eq!((checked.applying.len(), checked.waiting.len()), (0, 1));
        // With its dependency present but its author unknown (a forged copy would look like this), it is refused.
        let no_authors = Clocks::new();
        let known = Known {
            doc: &with_first,
            clocks: &no_authors,
        };
        assert!(matches!(
            check_changes(&pieces, &[], &known),
            Err(LoadError::UnknownActor(_))
        ));
    }

    #[test]
    fn the_inputs_the_fuzzer_found_are_refused_without_a_panic() {
        let bundle = include_bytes!(
            "../../fuzz/crashers/load_document/crash-5bd82f38414982ff0198cc15ce78d4f6d6df46fe"
        );
        assert!(matches!(Cart::load(bundle), Err(LoadError::Bundle)));
        let forged = include_bytes!(
            "../../fuzz/crashers/load_document/crash-69e0de0bf2375d8e22dbba8b0a309dec8f5ea4e4"
        );
        assert!(matches!(
            Cart::load(forged),
            Err(LoadError::UnknownActor(_))
        ));
    }

    #[test]
    fn bloom_filters_without_bits_or_with_absurd_probe_counts_are_refused() {
        assert!(bloom_is_sane(&[]));
        assert!(bloom_is_sane(&[3, 10, 7, 0xff, 0xff, 0xff, 0xff]));
        assert!(!bloom_is_sane(&[3, 0, 7]), "entries but no bits");
        assert!(
            !bloom_is_sane(&[3, 10, 0xff, 0xff, 0xff, 0xff, 0x0f, 1]),
            "four billion probes"
        );
        assert!(!bloom_is_sane(&[0x80]), "truncated");
    }

    #[test]
    fn leb128_lengths_decode_and_overflow_is_refused() {
        assert_eq!(uleb128(&[0x05]), Some((5, 1)));
        assert_eq!(uleb128(&[0xe5, 0x8e, 0x26]), Some((624_485, 3)));
        assert_eq!(uleb128(&[0x80]), None);
        assert_eq!(uleb128(&[0xff; 11]), None);
    }
}
