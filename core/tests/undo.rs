//! Undo of a removal or a clear: `Cart::restore` brings lines back as edits that sync like any other.

use cart_core::{Cart, MAX_LINES};

#[test]
fn undoing_a_remove_brings_the_line_back_with_its_quantity_and_selection() {
    let mut cart = Cart::new();
    cart.add("TEA", 3).unwrap();
    cart.add("MUG", 1).unwrap();
    cart.set_selected("TEA", false).unwrap();
    let before = cart.heads();
    cart.remove("TEA").unwrap();
    assert_eq!(cart.restore(&before).unwrap(), ["TEA"]);
    let view = cart.view();
    assert_eq!(view.qty("TEA"), 3);
    assert!(!view.lines.iter().find(|l| l.sku == "TEA").unwrap().selected);
    assert_eq!(
        view.qty("MUG"),
        1,
        "lines that were not removed are untouched"
    );
}

#[test]
fn undoing_a_clear_restores_every_line_once() {
    let mut cart = Cart::new();
    for (sku, n) in [("A", 1), ("B", 2), ("C", 3)] {
        cart.add(sku, n).unwrap();
    }
    let before = cart.heads();
    cart.clear().unwrap();
    assert_eq!(cart.view().line_count, 0);
    assert_eq!(cart.restore(&before).unwrap(), ["A", "B", "C"]);
    assert!(
        cart.restore(&before).unwrap().is_empty(),
        "a second undo adds nothing"
    );
    assert_eq!(cart.view().item_count, 6);
}

#[test]
fn an_undo_after_a_concurrent_add_tops_up_to_the_old_quantity_and_syncs_as_adds() {
    let mut here = Cart::new();
    here.add("TEA", 2).unwrap();
    let mut there = Cart::load(&here.save()).unwrap();
    let before = here.heads();
    here.remove("TEA").unwrap();
    // Another device adds one meanwhile; this one learns of it before undoing.
    there.add("TEA", 1).unwrap();
    here.merge(&there).unwrap();
    assert_eq!(here.view().qty("TEA"), 1);
    here.restore(&before).unwrap();
    assert_eq!(
        here.view().qty("TEA"),
        2,
        "raised back to what it was, not 3"
    );
    there.merge(&here).unwrap();
    assert_eq!(there.view(), here.view());
}

#[test]
fn an_undo_skips_lines_that_no_longer_fit() {
    let mut cart = Cart::new();
    cart.add("OLD", 1).unwrap();
    let before = cart.heads();
    cart.remove("OLD").unwrap();
    for i in 0..MAX_LINES {
        cart.add(&format!("NEW-{i}"), 1).unwrap();
    }
    assert!(cart.restore(&before).unwrap().is_empty());
    assert_eq!(cart.view().line_count, MAX_LINES);
}
