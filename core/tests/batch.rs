//! Batches (`Cart::apply`): many operations as one change, all or nothing, checked in order. How batches merge
//! under concurrency is in the property tests (`convergence.rs`, step `Batch`), against the rules' model.

mod common;
use cart_core::{Cart, EditError, Op, OpJson, MAX_LINES, MAX_OPS};
use common::replica;

fn add(sku: &str, qty: u32) -> Op {
    Op::Add {
        sku: sku.into(),
        qty,
    }
}

fn changes_since(cart: &Cart, heads: &[cart_core::ChangeHash]) -> usize {
    cart.doc().get_changes(heads).len()
}

#[test]
fn a_batch_is_one_change_whose_operations_each_see_the_ones_before() {
    let mut cart = replica(1);
    cart.add("KEPT", 1).unwrap();
    let heads = cart.heads();
    cart.apply(&[
        add("MUG", 2),
        Op::Set {
            sku: "MUG".into(),
            qty: 5,
        },
        add("TEA", 1),
        Op::Select {
            sku: "TEA".into(),
            selected: false,
        },
        Op::Remove { sku: "KEPT".into() },
        Op::Remove {
            sku: "NEVER-THERE".into(),
        },
    ])
    .unwrap();
    assert_eq!(changes_since(&cart, &heads), 1);
    let view = cart.view();
    assert_eq!(
        (view.qty("MUG"), view.qty("TEA"), view.qty("KEPT")),
        (5, 1, 0)
    );
    assert!(!view.line("TEA").unwrap().selected);
    assert!(cart.cache_matches_a_fresh_read());
}

#[test]
fn select_all_and_clear_act_on_every_line_the_batch_has_so_far() {
    let mut cart = replica(1);
    cart.apply(&[
        add("A", 1),
        add("B", 1),
        Op::SelectAll { selected: false },
        add("C", 1),
    ])
    .unwrap();
    let selected: Vec<bool> = cart.view().lines.iter().map(|l| l.selected).collect();
    assert_eq!(selected, [false, false, true]);
    cart.select_all(true).unwrap();
    assert!(cart.view().lines.iter().all(|l| l.selected));
    cart.apply(&[Op::Clear, add("D", 2)]).unwrap();
    assert_eq!(cart.view().lines.len(), 1);
    assert_eq!(cart.view().qty("D"), 2);
}

#[test]
fn the_first_operation_that_cannot_apply_refuses_the_batch_with_its_index_and_nothing_changes() {
    let mut cart = replica(1);
    cart.add("MUG", 1).unwrap();
    let before = (cart.heads(), cart.view());
    let refusals: Vec<(Vec<Op>, usize, &str)> = vec![
        (vec![add("TEA", 1), add("bad sku", 1)], 1, "INVALID_SKU"),
        (vec![add("TEA", 1), add("TEA", 0)], 1, "INVALID_QUANTITY"),
        (
            vec![add("TEA", 500), add("TEA", 499), add("TEA", 1)],
            2,
            "QUANTITY_LIMIT",
        ),
        (
            vec![
                Op::Remove { sku: "MUG".into() },
                Op::Select {
                    sku: "MUG".into(),
                    selected: true,
                },
            ],
            1,
            "LINE_NOT_FOUND",
        ),
        (
            vec![Op::Set {
                sku: "MUG".into(),
                qty: 1000,
            }],
            0,
            "INVALID_QUANTITY",
        ),
    ];
    for (ops, index, code) in refusals {
        let e = cart.apply(&ops).expect_err(code);
        assert_eq!((e.index, e.error.code()), (index, code), "{ops:?}");
        assert_eq!(
            (cart.heads(), cart.view()),
            before,
            "{ops:?} changed the cart"
        );
    }
}

#[test]
fn limits_are_checked_against_the_batch_so_far_so_the_121st_line_is_cart_full_with_its_index() {
    let mut cart = replica(1);
    let fill: Vec<Op> = (0..=MAX_LINES)
        .map(|i| add(&format!("SKU-{i}"), 1))
        .collect();
    let e = cart.apply(&fill).unwrap_err();
    assert_eq!((e.index, e.error.code()), (MAX_LINES, "CART_FULL"));
    assert_eq!(cart.view().line_count, 0);
    cart.apply(&fill[..MAX_LINES]).unwrap();
    assert_eq!(cart.view().line_count, MAX_LINES);
    // A batch that frees a line first may add another.
    cart.apply(&[
        Op::Remove {
            sku: "SKU-0".into(),
        },
        add("SKU-NEW", 1),
    ])
    .unwrap();
    assert_eq!(cart.view().line_count, MAX_LINES);
}

#[test]
fn more_than_250_operations_are_refused_whole() {
    let mut cart = replica(1);
    let ops: Vec<Op> = (0..=MAX_OPS).map(|_| add("MUG", 1)).collect();
    let e = cart.apply(&ops).unwrap_err();
    assert_eq!((e.index, e.error.code()), (MAX_OPS, "TOO_MANY_OPS"));
    assert!(cart.view().lines.is_empty());
    cart.apply(&ops[..MAX_OPS]).unwrap();
    assert_eq!(cart.view().qty("MUG"), 250);
}

#[test]
fn an_add_after_a_set_of_its_line_comes_in_a_change_of_its_own_and_the_batch_stays_all_or_nothing()
{
    // A replica reading exactly (a cart whose history is only the genesis loads so; so do carts with layout-1
    // writes) counts every add of a change as seen by a set in it: the add must come after that change.
    let mut writer = replica(1);
    let mut reader = Cart::load(&replica(2).save()).unwrap();
    assert!(reader.reads_exactly());
    let heads = writer.heads();
    writer
        .apply(&[
            add("B", 1),
            Op::Set {
                sku: "B".into(),
                qty: 0,
            },
            add("B", 1),
        ])
        .unwrap();
    writer
        .apply(&[add("C", 1), Op::Clear, add("C", 2)])
        .unwrap();
    assert_eq!(changes_since(&writer, &heads), 4);
    assert_eq!((writer.view().qty("B"), writer.view().qty("C")), (0, 2));
    let mut b_only = replica(4);
    b_only
        .apply(&[
            add("B", 1),
            Op::Set {
                sku: "B".into(),
                qty: 0,
            },
            add("B", 1),
        ])
        .unwrap();
    common::sync(&mut b_only, &mut reader);
    assert_eq!(
        reader.view().qty("B"),
        1,
        "the add after the set counts for a reader reading exactly"
    );
    common::sync(&mut writer, &mut reader);
    assert_eq!(reader.view().qty("C"), 2);
    let mut b = Cart::load(&replica(3).save()).unwrap();
    b.apply(&[
        add("B", 1),
        Op::Set {
            sku: "B".into(),
            qty: 0,
        },
        add("B", 1),
    ])
    .unwrap();
    assert_eq!(b.view().qty("B"), 1);
    assert!(b.cache_matches_a_fresh_read());
    // Refused later on, nothing of the earlier changes stays.
    let before = b.heads();
    let e = b
        .apply(&[
            Op::Set {
                sku: "B".into(),
                qty: 3,
            },
            add("B", 1),
            add("B", 999),
        ])
        .unwrap_err();
    assert_eq!(e.index, 2);
    assert_eq!(b.heads(), before);
}

fn json(text: &str) -> Result<Op, EditError> {
    Op::from_json(serde_json::from_str::<OpJson>(text).expect("an op object"))
}

#[test]
fn operations_read_from_json_are_checked_for_shape_sku_and_quantity() {
    assert_eq!(json(r#"{"op":"add","sku":"MUG"}"#).unwrap(), add("MUG", 1));
    assert_eq!(
        json(r#"{"op":"add","sku":"MUG","qty":3}"#).unwrap(),
        add("MUG", 3)
    );
    assert_eq!(
        json(r#"{"op":"set","sku":"MUG","qty":0}"#).unwrap(),
        Op::Set {
            sku: "MUG".into(),
            qty: 0
        }
    );
    assert_eq!(
        json(r#"{"op":"selectAll","selected":false}"#).unwrap(),
        Op::SelectAll { selected: false }
    );
    assert_eq!(json(r#"{"op":"clear"}"#).unwrap(), Op::Clear);
    let code = |text: &str| json(text).unwrap_err().code();
    assert_eq!(code(r#"{"op":"explode"}"#), "INVALID_BODY");
    assert_eq!(code(r#"{"op":"set","sku":"MUG"}"#), "INVALID_BODY");
    assert_eq!(code(r#"{"op":"clear","sku":"MUG"}"#), "INVALID_BODY");
    assert_eq!(code(r#"{"op":"select","sku":"MUG"}"#), "INVALID_BODY");
    assert_eq!(code(r#"{"op":"add","sku":"no spaces"}"#), "INVALID_SKU");
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":1.5}"#),
        "INVALID_QUANTITY"
    );
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":-1}"#),
        "INVALID_QUANTITY"
    );
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":5e9}"#),
        "INVALID_QUANTITY"
    );
    assert!(serde_json::from_str::<OpJson>(r#"{"op":"add","sku":"MUG","extra":1}"#).is_err());
}
