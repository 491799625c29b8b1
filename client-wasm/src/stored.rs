//! Reading back what the library keeps in LocalStorage. No JS here, so the fuzz target `local_storage` (`fuzz/`)
//! runs it natively.
//!
//! **Invariant:** whatever the stored text (another library's data, a truncated write, a hand edit), the answer is a
//! value or an [`Unreadable`] for the caller to keep aside and report; never a panic.

use base64::{engine::general_purpose::STANDARD, Engine};
use cart_core::{Cart, ChangeHash, InvalidChange, LoadError};

use crate::session::Who;

/// Why stored data could not be read.
#[derive(Debug)]
pub enum Unreadable {
    /// The text is not base64.
    NotBase64,
    /// The bytes are not a cart document.
    NotACart(LoadError),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NotBase64 => f.write_str("not base64"),
            Unreadable::NotACart(e) => write!(f, "{e}"),
        }
    }
}

/// Stored bytes (base64 text).
pub fn bytes(text: &str) -> Result<Vec<u8>, Unreadable> {
    STANDARD
        .decode(text.as_bytes())
        .map_err(|_| Unreadable::NotBase64)
}

/// A stored cart document (`doc:<cart>`).
pub fn cart(text: &str) -> Result<Cart, Unreadable> {
    cart_of(text).map(|(cart, _)| cart)
}

/// A stored cart document and the bytes it was read from.
pub fn cart_of(text: &str) -> Result<(Cart, Vec<u8>), Unreadable> {
    let bytes = bytes(text)?;
    let cart = Cart::load(&bytes).map_err(Unreadable::NotACart)?;
    Ok((cart, bytes))
}

/// A cart read back from its snapshot and increments (`persist.rs`).
pub struct Replica {
    /// `None` when storage held neither a readable snapshot nor a readable increment.
    pub cart: Option<Cart>,
    /// The size of the readable snapshot, in bytes.
    pub snapshot: Option<usize>,
    /// The increments that were applied (storage name and size).
    pub increments: Vec<(String, usize)>,
    /// What could not be read (the snapshot's name is `None`), for the caller to keep aside and report.
    pub unreadable: Vec<(Option<String>, Unreadable)>,
    /// Some increment is of a newer layout than this code knows (a newer release wrote it in another tab): it is
    /// left where it is, for that release, and the cart is to be shown read-only.
    pub newer_layout: bool,
}

/// Whether a load failed because the bytes are of a newer layout than this code knows.
pub fn is_newer_layout(e: &LoadError) -> bool {
    matches!(e, LoadError::InvalidChange(InvalidChange::NewerLayout(_)))
}

/// The cart in a stored snapshot (base64 text, if any) and increments (storage name, base64 text), taken as saved.
/// One load in the usual case; an unreadable increment is left out (and reported) without losing the others.
pub fn replica(snapshot: Option<&str>, increments: &[(String, String)]) -> Replica {
    let mut unreadable = Vec::new();
    let base = match snapshot.map(cart_of) {
        Some(Ok(read)) => Some(read),
        Some(Err(e)) => {
            unreadable.push((None, e));
            None
        }
        None => None,
    };
    let snapshot_len = base.as_ref().map(|(_, b)| b.len());
    let mut decoded = Vec::new();
    for (name, text) in increments {
        match bytes(text) {
            Ok(b) => decoded.push((name.clone(), b)),
            Err(e) => unreadable.push((Some(name.clone()), e)),
        }
    }
    let (mut cart, base_bytes) = match base {
        Some((cart, bytes)) => (cart, bytes),
        None if decoded.is_empty() => {
            return Replica {
                cart: None,
                snapshot: None,
                increments: Vec::new(),
                unreadable,
                newer_layout: false,
            }
        }
        None => {
            let mut cart = Cart::new();
            let bytes = cart.save();
            (cart, bytes)
        }
    };
    let mut newer_layout = false;
    let all: Vec<u8> = decoded
        .iter()
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let applied = if all.is_empty() || cart.load_incremental(&all).is_ok() {
        decoded
            .iter()
            .map(|(n, b)| (n.clone(), b.len()))
            .collect::<Vec<_>>()
    } else {
        // One of them is unreadable (or of a newer layout): find it by taking them one at a time on top of the
        // snapshot and those taken so far, in passes, since an increment that waits for another (read later)
        // only shows what it is once that one is in.
        let mut good: Vec<u8> = Vec::new();
        let mut applied = Vec::new();
        let mut waiting: Vec<&(String, Vec<u8>)> = decoded.iter().collect();
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for item in waiting {
                let (name, b) = item;
                match Cart::load(&[base_bytes.as_slice(), &good, b].concat()) {
                    Ok(candidate) if candidate.holds(b) => {
                        good.extend_from_slice(b);
                        applied.push((name.clone(), b.len()));
                        progress = true;
                    }
                    Ok(_) => still.push(item),
                    Err(e) if is_newer_layout(&e) => newer_layout = true,
                    Err(e) => unreadable.push((Some(name.clone()), Unreadable::NotACart(e))),
                }
            }
            waiting = still;
            if !progress || waiting.is_empty() {
                break;
            }
        }
        // What still waits is loaded too (the cart keeps it aside until what it depends on comes), not counted
        // as read.
        let rest: Vec<u8> = waiting
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        match Cart::load(&[base_bytes.as_slice(), &good, &rest].concat())
            .or_else(|_| Cart::load(&[base_bytes.as_slice(), &good].concat()))
        {
            Ok(c) => cart = c,
            Err(_) => applied.clear(),
        }
        applied
    };
    // Only increments whose changes are all in the document count as read: one waiting for a change that is not
    // there (kept aside by the cart, never saved) stays in storage, never removed by a compaction of this replica.
    let applied = applied
        .into_iter()
        .filter(|(name, _)| decoded.iter().any(|(n, b)| n == name && cart.holds(b)))
        .collect();
    // What storage holds is saved: the next incremental save starts from here.
    let heads = cart.heads();
    cart.save_since(&heads);
    Replica {
        cart: Some(cart),
        snapshot: snapshot_len,
        increments: applied,
        unreadable,
        newer_layout,
    }
}

/// The heads the server last acknowledged (`server:<cart>`): comma-separated hex hashes; unreadable ones are
/// dropped, which only means more is sent again.
pub fn heads(text: &str) -> Vec<ChangeHash> {
    text.split(',').filter_map(|h| h.parse().ok()).collect()
}

/// The identity in a session record, from its fields: a guest with a well-formed cart id, or a user with a
/// subject and a token.
pub fn who(
    kind: Option<String>,
    id: Option<String>,
    sub: Option<String>,
    token: Option<String>,
) -> Option<Who> {
    match kind?.as_str() {
        "guest" => {
            let id = id?;
            valid_cart_id(&id).then_some(Who::Guest { id })
        }
        "user" => Some(Who::User {
            sub: sub.filter(|s| !s.is_empty())?,
            token: token?,
        }),
        _ => None,
    }
}

/// A cart id as the server accepts it: 22-64 characters of `[A-Za-z0-9_-]`.
pub fn valid_cart_id(id: &str) -> bool {
    (22..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::STANDARD, Engine};
    use cart_core::ActorId;

    fn text(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// A cart saved once, then edited three times, each edit saved as an increment.
    fn stored() -> (Cart, String, Vec<(String, String)>) {
        let mut cart = Cart::with_actor(ActorId::from([3; 16]));
        cart.add("TEA", 1).expect("add");
        let snapshot = text(&cart.save());
        let increments = ["CUP", "MUG", "PEN"]
            .iter()
            .enumerate()
            .map(|(i, sku)| {
                cart.add(sku, 2).expect("add");
                (format!("inc:guest:x:{i}"), text(&cart.save_incremental()))
            })
            .collect();
        (cart, snapshot, increments)
    }

    #[test]
    fn a_snapshot_and_its_increments_read_back_as_the_cart_and_count_as_saved() {
        let (cart, snapshot, increments) = stored();
        let mut read = replica(Some(&snapshot), &increments);
        assert!(read.unreadable.is_empty());
        assert_eq!(read.increments.len(), 3);
        assert_eq!(read.snapshot, Some(bytes(&snapshot).expect("b64").len()));
        let read_cart = read.cart.as_mut().expect("a cart");
        assert_eq!(read_cart.heads(), cart.heads());
        assert!(
            read_cart.save_incremental().is_empty(),
            "nothing to write again"
        );
    }

    #[test]
    fn an_unreadable_increment_is_reported_and_the_others_still_apply() {
        let (_, snapshot, mut increments) = stored();
        increments[1].1 = text(b"not a change");
        increments.push(("inc:guest:x:9".into(), "%%%".into()));
        let read = replica(Some(&snapshot), &increments);
        let names: Vec<_> = read.unreadable.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(
            names,
            [
                Some("inc:guest:x:9".to_owned()),
                Some("inc:guest:x:1".to_owned())
            ]
        );
        let view = read.cart.expect("a cart").view();
        // PEN's change depends on MUG's, which is unreadable: it waits, so its increment is not counted as read
        // (a compaction of this replica will not remove it).
        assert_eq!(
            (view.qty("TEA"), view.qty("CUP"), view.qty("PEN")),
            (1, 2, 0)
        );
        let read_names: Vec<_> = read.increments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(read_names, ["inc:guest:x:0"]);
    }

    #[test]
    fn nothing_stored_reads_as_no_cart_and_an_unreadable_snapshot_is_reported() {
        let read = replica(None, &[]);
        assert!(read.cart.is_none() && read.unreadable.is_empty());
        let read = replica(Some("garbage!"), &[]);
        assert!(read.cart.is_none());
        assert_eq!(read.unreadable.len(), 1);
        assert_eq!(read.snapshot, None);
    }
}
