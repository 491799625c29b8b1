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

use std::collections::BTreeSet;

use automerge::{
    ActorId, Automerge, Change, ChangeHash, LoadOptions, OnPartialLoad, ReadDoc, VerificationMode,
};

use crate::cart::LoadError;

/// The four bytes that open every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a bundle.
const BUNDLE: u8 = 3;

/// An unsigned LEB128 number and how many bytes it took; `None` when truncated or over 64 bits.
fn uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
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
            1 | 2 => pieces.push(Piece::Change(Box::new(
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

/// What the target document already holds.
pub(crate) struct Known<'a> {
    pub has_change: &'a dyn Fn(&ChangeHash) -> bool,
    pub is_author: &'a dyn Fn(&ActorId) -> bool,
}

/// Checks the changes Automerge is about to apply: those of `pieces`, and those of `pending` (received earlier,
/// still waiting for dependencies), whose dependencies will all be present. Each must name only actors that the
/// document knows, that a document chunk of the input introduces, or that make their first change (sequence
/// number 1) in the same application. Returns the changes that will still wait, to be checked when they can apply.
pub(crate) fn check_actors(
    pieces: &[Piece<'_>],
    pending: &[Change],
    known: &Known<'_>,
) -> Result<Checked, LoadError> {
    let mut provided: BTreeSet<ChangeHash> = BTreeSet::new();
    let mut from_documents: BTreeSet<ActorId> = BTreeSet::new();
    for piece in pieces {
        if let Piece::Document(bytes) = piece {
            for meta in strict_load(bytes)?.get_changes_meta(&[]) {
                provided.insert(meta.hash);
                from_documents.insert(meta.actor.into_owned());
            }
        }
    }
    let mut introduced = from_documents.clone();
    let mut waiting: Vec<&Change> = pending.iter().collect();
    for piece in pieces {
        if let Piece::Change(c) = piece {
            if !waiting.iter().any(|w| w.hash() == c.hash()) {
                waiting.push(c);
            }
        }
    }
    // Which changes can apply: their dependencies are in the document, the input's documents, or among the
    // changes found able to apply so far. Repeat until nothing more can.
    let mut ready: Vec<&Change> = Vec::new();
    loop {
        let (now, later): (Vec<&Change>, Vec<&Change>) = waiting.into_iter().partition(|c| {
            c.deps()
                .iter()
                .all(|d| (known.has_change)(d) || provided.contains(d))
        });
        waiting = later;
        if now.is_empty() {
            break;
        }
        for c in now {
            provided.insert(c.hash());
            ready.push(c);
        }
    }
    for c in &ready {
        if c.seq() == 1 {
            introduced.insert(c.actor_id().clone());
        }
    }
    for c in &ready {
        for actor in c.actors() {
            if !introduced.contains(actor) && !(known.is_author)(actor) {
                return Err(LoadError::UnknownActor(actor.to_hex_string()));
            }
        }
    }
    Ok(Checked {
        from_documents,
        applying: ready.into_iter().cloned().collect(),
        waiting: waiting.into_iter().cloned().collect(),
    })
}

/// The outcome of [`check_actors`].
pub(crate) struct Checked {
    /// The authors of the input's document chunks (whole documents: they apply with every change they hold).
    pub from_documents: BTreeSet<ActorId>,
    /// The changes that will apply now.
    pub applying: Vec<Change>,
    /// The changes that will wait for dependencies.
    pub waiting: Vec<Change>,
}

/// Every actor that authored a change of `doc`.
pub(crate) fn authors(doc: &Automerge) -> BTreeSet<ActorId> {
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|meta| meta.actor.into_owned())
        .collect()
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
/// changes that wait for dependencies (a replica saved while some had arrived before their dependencies).
pub(crate) fn checked_load(bytes: &[u8]) -> Result<(Automerge, Vec<automerge::Change>), LoadError> {
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
    let authors = authors(&doc);
    let has_change = |hash: &ChangeHash| doc.get_change_by_hash(hash).is_some();
    let is_author = |actor: &ActorId| authors.contains(actor);
    let known = Known {
        has_change: &has_change,
        is_author: &is_author,
    };
    let checked = check_actors(rest_pieces, &[], &known)?;
    doc.load_incremental(rest)?;
    Ok((doc, checked.waiting))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cart;

    const NOTHING: Known<'static> = Known {
        has_change: &|_| false,
        is_author: &|_| false,
    };

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
        let checked = check_actors(&pieces, &[], &NOTHING)
            .expect("every actor is introduced before it is used");
        assert_eq!((checked.applying.len(), checked.waiting.len()), (2, 0));
    }

    #[test]
    fn a_change_from_an_actor_never_seen_is_refused_before_automerge_applies_it() {
        let mut cart = Cart::new();
        cart.save();
        cart.add("A", 1).expect("valid edit");
        cart.save_incremental();
        cart.add("B", 1).expect("valid edit");
        let second = cart.save_incremental();
        // Without the first edit the second waits for it; a forged copy claiming no dependencies would apply, and
        // is refused.
        let pieces = split(&second).expect("valid chunks");
        let checked =
            check_actors(&pieces, &[], &NOTHING).expect("a change waiting for its dependencies");
        assert_eq!((checked.applying.len(), checked.waiting.len()), (0, 1));
        let has_all = |_: &ChangeHash| true;
        let everything_but_actors = Known {
            has_change: &has_all,
            is_author: &|_| false,
        };
        assert!(matches!(
            check_actors(&pieces, &[], &everything_but_actors),
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
