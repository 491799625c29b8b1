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
fn a_cart_stored_in_todays_layout_reads_as_its_rules_say() {
    check("layout-2.cart");
}
