//! # cart-fuzz
//!
//! One function per fuzz target, each taking arbitrary bytes. A target passes an input when it returns: every
//! decoder must answer bad input with an error, never a panic, and must leave the cart it works on unchanged. The
//! functions also check what a successful decode promises (a loaded cart has a sane view, takes edits and survives
//! its own save).
//!
//! The core contains Automerge's panics behind its checks (`core/src/unwind.rs`: an error `Panicked`, a poisoned
//! cart). For the targets that is a finding like any panic: the checks in front of Automerge should have refused
//! the input, so every refusal is checked not to be one ([`not_contained`], [`load_not_contained`]).
//!
//! `fuzz/libfuzzer` drives them with cargo fuzz on nightly (`make fuzz`); `tests/replay.rs` runs every committed
//! corpus input and crasher through them on stable, in `make test`.

use std::cell::RefCell;

use cart_core::{validate_sku, Cart, CartView, LoadError, SyncState, MAX_QTY};

mod forged;
pub use forged::{describe, forged_bytes, forged_change, recipe_bytes};

/// A fuzz target: arbitrary bytes in, a panic when a property fails.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the directory names under `fuzz/corpus/` and `fuzz/crashers/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("load_document", load_document),
    ("load_incremental", load_incremental),
    ("receive_sync", receive_sync),
    #[cfg(feature = "hosts")]
    ("request_body", request_body),
    #[cfg(feature = "hosts")]
    ("local_storage", local_storage),
    ("forged_change", forged_change),
];

/// Fails when a refusal was Automerge panicking behind the checks (contained by the core, which poisoned `cart`).
pub fn not_contained(cart: &Cart, refusal: &dyn std::fmt::Display) {
    assert!(
        !cart.poisoned(),
        "Automerge panicked behind the checks: {refusal}"
    );
}

/// `Cart::load`, failing when Automerge panicked behind the checks.
pub fn load_not_contained(bytes: &[u8]) -> Option<Cart> {
    match Cart::load(bytes) {
        Ok(cart) => Some(cart),
        Err(LoadError::Panicked(p)) => panic!("Automerge panicked behind the checks: {p}"),
        Err(_) => None,
    }
}

/// `Cart::load` on arbitrary bytes (a stored snapshot, a share, a login merge's guest cart).
pub fn load_document(data: &[u8]) {
    if let Some(mut cart) = load_not_contained(data) {
        exercise(&mut cart);
    }
}

/// `Cart::load_incremental` on arbitrary bytes, into a cart with history (stored changes, another tab's save).
pub fn load_incremental(data: &[u8]) {
    let mut cart = take_sample();
    let before = cart.view();
    match cart.load_incremental(data) {
        Ok(()) => exercise(&mut cart),
        Err(e) => {
            not_contained(&cart, &e);
            assert_eq!(cart.view(), before, "a refused load left the cart changed");
            give_back(cart);
        }
    }
}

/// `Cart::receive_sync_message` on arbitrary bytes (an HTTP sync body, a WebSocket frame), in a fresh session and
/// in one that has already exchanged a message.
pub fn receive_sync(data: &[u8]) {
    let mut cart = take_sample();
    for mut state in [SyncState::new(), {
        let mut s = SyncState::new();
        let _ = cart.generate_sync_message(&mut s);
        s
    }] {
        let before = (cart.view(), state.encode());
        match cart.receive_sync_message(&mut state, data) {
            Ok(()) => {
                // The session goes on: the view is sane and the cart can answer. (Honest peers converging is the
                // convergence simulator's job; here the point is surviving hostile bytes.)
                check_view(&cart.view());
                let _ = cart.generate_sync_message(&mut state);
                return;
            }
            Err(e) => {
                not_contained(&cart, &e);
                assert_eq!(
                    (cart.view(), state.encode()),
                    before,
                    "a refused message changed the cart or the session"
                )
            }
        }
    }
    give_back(cart);
}

/// The worker's parsing of every JSON request body, and of the ids and skus in paths. The first byte picks
/// what the rest is fed to.
#[cfg(feature = "hosts")]
pub fn request_body(data: &[u8]) {
    use cart_worker::input;
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let outcome = match pick % 8 {
        0 => input::add_line(rest).map(|add| {
            assert!(validate_sku(&add.sku).is_ok(), "an accepted sku is valid");
        }),
        1 => {
            let (sku, body) = split_at_nul(rest);
            input::patch_line(&String::from_utf8_lossy(sku), body).map(|patch| {
                assert!(validate_sku(&patch.sku).is_ok(), "an accepted sku is valid");
                assert!(
                    patch.qty.is_some() || patch.selected.is_some(),
                    "a patch changes something"
                );
            })
        }
        2 => input::merge(rest).map(|(id, _)| assert!(input::valid_cart_id(&id).is_ok())),
        3 => input::dev_token(rest).map(drop),
        4 => input::copy(rest).map(|token| assert_eq!(token.len(), 43)),
        5 => input::checkout(rest).map(drop),
        6 => input::valid_cart_id(&text).map(|id| assert!((22..=64).contains(&id.len()))),
        _ => input::valid_checkout_id(&text)
            .and(input::valid_share_token(&text))
            .map(drop),
    };
    if let Err(e) = outcome {
        assert!((400..500).contains(&e.status), "{e:?} is not a 4xx");
        assert!(
            !e.code.is_empty() && e.code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
            "{e:?} has no stable code"
        );
    }
}

/// The browser library's reading of its LocalStorage: cart documents, acknowledged heads, session records, and
/// pending changes applied to a cart, a snapshot with its increments (parts split by U+001F). The first byte picks
/// what the rest is fed to.
#[cfg(feature = "hosts")]
pub fn local_storage(data: &[u8]) {
    use cart_client::stored;
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match pick % 4 {
        0 => match stored::cart(&text) {
            Ok(mut cart) => exercise(&mut cart),
            Err(stored::Unreadable::NotACart(LoadError::Panicked(p))) => {
                panic!("Automerge panicked behind the checks: {p}")
            }
            Err(_) => {}
        },
        1 => {
            let cart = take_sample();
            // Unknown heads are harmless: they only make the library send more.
            let heads = stored::heads(&text);
            let _ = cart.changes_missing_from(&heads);
            let _ = cart.has_all(&heads);
            give_back(cart);
        }
        2 => {
            let mut fields = text.split('\u{1f}').map(|f| Some(f.to_owned()));
            let mut next = || fields.next().flatten();
            let _ = stored::who(next(), next(), next(), next());
        }
        _ if text.contains('\u{1f}') => {
            // A snapshot and increments, as `Session::open` reads them (`persist.rs`).
            let mut parts = text.split('\u{1f}');
            let snapshot = parts.next().filter(|s| !s.is_empty());
            let increments: Vec<(String, String)> = parts
                .enumerate()
                .map(|(i, t)| (format!("inc:guest:x:{i}"), t.to_owned()))
                .collect();
            let read = stored::replica(snapshot, &increments);
            for (_, e) in &read.unreadable {
                if let stored::Unreadable::NotACart(LoadError::Panicked(p)) = e {
                    panic!("Automerge panicked behind the checks: {p}")
                }
            }
            if let Some(mut cart) = read.cart {
                exercise(&mut cart);
            }
        }
        _ => {
            if let Ok(bytes) = stored::bytes(&text) {
                load_incremental(&bytes);
            }
        }
    }
}

thread_local! {
    /// The sample cart, kept between inputs while they leave it unchanged (which the targets check), because
    /// building it costs more than most inputs do.
    static SAMPLE: RefCell<Option<Cart>> = const { RefCell::new(None) };
}

/// The sample cart, as built by [`sample_cart`]: reused when the last input left it unchanged.
fn take_sample() -> Cart {
    SAMPLE
        .with(|s| s.borrow_mut().take())
        .unwrap_or_else(sample_cart)
}

/// Returns a sample cart that an input left unchanged, for the next input.
fn give_back(cart: Cart) {
    SAMPLE.with(|s| *s.borrow_mut() = Some(cart));
}

/// A cart with a little history: what the targets decode into.
fn sample_cart() -> Cart {
    let mut cart = Cart::with_actor(cart_core::ActorId::from([7u8; 16]));
    cart.set_clock(|| 1_700_000_000_000);
    for (sku, n) in [("MUG-1", 2), ("TEE-M", 1), ("CAP", 3)] {
        cart.add(sku, n).expect("the sample cart's edits are valid");
    }
    cart.set_selected("TEE-M", false).expect("the line exists");
    cart
}

/// What any cart, however it was decoded, must offer: a sane view, edits, and a save that loads back equal.
fn exercise(cart: &mut Cart) {
    check_view(&cart.view());
    let _ = cart.add("FUZZ-1", 1);
    let _ = cart.set_quantity("MUG-1", 5);
    let _ = cart.remove("CAP");
    check_view(&cart.view());
    let saved = cart.save();
    let again = Cart::load(&saved).expect("a cart's own save loads");
    assert_eq!(
        again.view(),
        cart.view(),
        "a save loads back to the same view"
    );
}

/// The view's promises: valid skus, quantities 1..=999, consistent counts, the stable order.
pub fn check_view(view: &CartView) {
    assert_eq!(view.line_count, view.lines.len());
    assert_eq!(
        view.item_count,
        view.lines.iter().map(|l| u64::from(l.qty)).sum::<u64>()
    );
    for line in &view.lines {
        assert!(
            validate_sku(&line.sku).is_ok(),
            "line {:?} has an invalid sku",
            line.sku
        );
        assert!(
            (1..=MAX_QTY).contains(&line.qty),
            "line {line:?} has a quantity out of range"
        );
    }
    for pair in view.lines.windows(2) {
        let key = |l: &cart_core::Line| (l.added_at, l.sku.clone());
        assert!(
            key(&pair[0]) < key(&pair[1]),
            "lines out of order: {pair:?}"
        );
    }
}

#[cfg(feature = "hosts")]
fn split_at_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
