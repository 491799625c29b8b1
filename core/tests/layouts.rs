//! Every layout a stored cart may have, read by today's code: the golden documents in `fixtures/` (written once by
//! `examples/layout_fixtures.rs`, never regenerated) hold one schedule each, and the view expected here follows
//! README's rules, not the code.

use cart_core::Cart;

/// What README's rules give for the fixtures' schedule: 2 + 1 MUG-1, then a set to 5 concurrent with another
/// replica's add of 1 (rule 5: 5 + 1), TEE added and removed, 3 CAP deselected (rule 6). Lines in `addedAt` order.
fn expected() -> Vec<(&'static str, u32, bool, i64)> {
    vec![("MUG-1", 6, true, 1_000), ("CAP", 3, false, 3_000)]
}

fn lines(cart: &Cart) -> Vec<(String, u32, bool, i64)> {
    cart.view()
        .lines
        .into_iter()
        .map(|l| (l.sku, l.qty, l.selected, l.added_at))
        .collect()
}

fn check(name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let stored = std::fs::read(&path).expect("the golden document");
    // As a Durable Object stores it (a document, then increments, every increment through the change checks) ...
    let mut cart = Cart::load(&stored).expect("a stored cart of this layout loads");
    let want: Vec<(String, u32, bool, i64)> = expected()
        .into_iter()
        .map(|(s, q, sel, at)| (s.to_owned(), q, sel, at))
        .collect();
    assert_eq!(lines(&cart), want, "{name}");
    // ... and as one compacted document, and after today's code edits it.
    let mut again = Cart::load(&cart.save()).expect("its save loads");
    assert_eq!(lines(&again), want, "{name}, saved again");
    again.add("MUG-1", 1).expect("today's code edits it");
    assert_eq!(again.view().qty("MUG-1"), 7, "{name}, edited");
    again.set_quantity("CAP", 1).expect("today's code sets it");
    assert_eq!(again.view().qty("CAP"), 1, "{name}, set");
}

#[test]
fn a_cart_stored_in_the_layout_before_2026_12_01_reads_as_its_rules_say() {
    check("layout-1.cart");
}

#[test]
fn only_a_cart_whose_history_deleted_adds_is_read_exactly() {
    // Layout 1's set to 5 deleted the adds it saw; no later layout deletes an add.
    assert!(fixture("layout-1.cart").reads_exactly(), "layout 1");
    let mut resaved = fixture("layout-1.cart");
    assert!(
        Cart::load(&resaved.save()).unwrap().reads_exactly(),
        "layout 1, compacted"
    );
    for name in ["layout-2.cart", "layout-2-merged.cart", "layout-3.cart"] {
        assert!(!fixture(name).reads_exactly(), "{name}");
    }
}

#[test]
fn a_cart_stored_in_the_layout_of_2026_12_01_reads_as_its_rules_say() {
    check("layout-2.cart");
}

fn fixture(name: &str) -> Cart {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Cart::load(&std::fs::read(&path).expect("the golden document")).expect("it loads")
}

#[test]
fn a_cart_stored_with_a_layout_2_login_merge_reads_as_it_did_and_takes_only_the_guests_growth_after(
) {
    // The user had MUG-1 2; the guest (MUG-1 3, HAT 1) was merged with `max` by layout 2: MUG-1 3, HAT 1.
    let mut user = fixture("layout-2-merged.cart");
    assert_eq!(
        lines(&user),
        vec![
            ("HAT".to_owned(), 1, true, 500),
            ("MUG-1".to_owned(), 3, true, 1_000)
        ]
    );
    assert_eq!(user.layout(), 2);
    // The same guest state again is already merged; once the guest has grown to MUG-1 5, today's merge adds only
    // the 2 it added since (rule 7: the latest state counts, max(2, 5) = 5).
    let mut guest = fixture("layout-2-guest.cart");
    let again = user
        .merge_guest(&guest, "guest", cart_core::MergePolicy::Max)
        .unwrap();
    assert!(again.already_merged);
    guest.add("MUG-1", 2).unwrap();
    user.merge_guest(&guest, "guest", cart_core::MergePolicy::Max)
        .unwrap();
    assert_eq!(
        user.layout(),
        cart_core::LAYOUT,
        "the first record raises the layout"
    );
    assert_eq!((user.view().qty("MUG-1"), user.view().qty("HAT")), (5, 1));
    // A removal after it stays removed.
    user.remove("HAT").unwrap();
    assert_eq!(user.view().qty("HAT"), 0);
    let reloaded = Cart::load(&user.save()).unwrap();
    assert_eq!(reloaded.view(), user.view());
}

#[test]
fn a_cart_stored_in_layout_3_with_a_merge_record_reads_as_its_rules_say() {
    // MUG-1: the user's 2 plus another device's concurrent 1, against the guest's 3 under max (rule 7: the
    // concurrent add counts in the comparison): 3. CAP: set to 4 after the merge, which it overrides.
    let mut cart = fixture("layout-3.cart");
    assert_eq!(cart.layout(), 3);
    assert_eq!(
        lines(&cart),
        vec![
            ("MUG-1".to_owned(), 3, true, 1_000),
            ("CAP".to_owned(), 4, true, 2_000)
        ]
    );
    cart.add("MUG-1", 1).unwrap();
    assert_eq!(
        cart.view().qty("MUG-1"),
        4,
        "an add after the merge comes on top"
    );
    cart.remove("CAP").unwrap();
    let reloaded = Cart::load(&cart.save()).unwrap();
    assert_eq!(reloaded.view().qty("CAP"), 0);
    assert_eq!(reloaded.view().qty("MUG-1"), 4);
}

/// `cart` with one change from another replica raising the root `layout` register to `layout`, as bytes.
fn raise_layout(cart: &mut Cart, layout: u64) -> Vec<u8> {
    use automerge::{transaction::Transactable, ActorId, Automerge, ROOT};
    let mut doc = Automerge::load(&cart.encode())
        .unwrap()
        .with_actor(ActorId::from([0x33; 16]));
    let heads = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(ROOT, "layout", layout).unwrap();
    tx.commit();
    doc.save_after(&heads)
}

#[test]
fn a_change_raising_the_cart_to_a_layout_this_code_does_not_know_is_refused_and_changes_nothing() {
    let mut cart = Cart::new();
    cart.add("MUG", 1).unwrap();
    let newer = raise_layout(&mut cart, cart_core::LAYOUT + 1);
    let before = cart.view();
    let refused = cart.load_incremental(&newer);
    assert!(
        matches!(
            refused,
            Err(cart_core::LoadError::InvalidChange(cart_core::InvalidChange::NewerLayout(n))) if n == cart_core::LAYOUT + 1
        ),
        "{refused:?}"
    );
    assert_eq!(cart.view(), before);
    // Announcing today's layout is accepted.
    let same = raise_layout(&mut cart, cart_core::LAYOUT);
    cart.load_incremental(&same).expect("today's layout");
    assert_eq!(cart.layout(), cart_core::LAYOUT);
    assert!(!cart.needs_upgrade());
}

#[test]
fn a_stored_cart_of_a_newer_layout_reads_as_it_was_and_refuses_every_edit_with_upgrade_required() {
    use automerge::{transaction::Transactable, Automerge, ROOT};
    let mut cart = Cart::new();
    cart.add("MUG", 2).unwrap();
    // A document written by a later release (the layout register raised), loaded as a whole document.
    let mut doc = Automerge::load(&cart.encode()).unwrap();
    let mut tx = doc.transaction();
    tx.put(ROOT, "layout", cart_core::LAYOUT + 1).unwrap();
    tx.commit();
    let mut newer = Cart::load(&doc.save()).expect("a newer document still loads");
    assert!(newer.needs_upgrade());
    assert_eq!(
        newer.view().qty("MUG"),
        2,
        "what this code knows reads as before"
    );
    let before = newer.heads();
    for refused in [
        newer.add("MUG", 1).err(),
        newer.set_quantity("MUG", 1).err(),
        newer.remove("MUG").err(),
        newer.set_selected("MUG", false).err(),
        newer.clear().err(),
    ] {
        assert_eq!(refused.map(|e| e.code()), Some("UPGRADE_REQUIRED"));
    }
    let guest = Cart::new();
    assert!(matches!(
        newer.merge_guest(&guest, "guest", cart_core::MergePolicy::Max),
        Err(cart_core::MergeError::UpgradeRequired(_))
    ));
    assert_eq!(newer.heads(), before, "nothing was written");
}
