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
        assert_eq!((e.index, e.error.code()), (Some(index), code), "{ops:?}");
        assert_eq!(
            (cart.heads(), cart.view()),
            before,
            "{ops:?} changed the cart"
        );
    }
}

#[test]
fn limits_are_checked_against_the_batch_s_result_so_the_121st_line_is_cart_full_with_its_index() {
    let mut cart = replica(1);
    let fill: Vec<Op> = (0..=MAX_LINES)
        .map(|i| add(&format!("SKU-{i}"), 1))
        .collect();
    let e = cart.apply(&fill).unwrap_err();
    assert_eq!((e.index, e.error.code()), (Some(MAX_LINES), "CART_FULL"));
    assert_eq!(cart.view().line_count, 0);
    cart.apply(&fill[..MAX_LINES]).unwrap();
    assert_eq!(cart.view().line_count, MAX_LINES);
    // Against the batch's result: a full cart may take a new line in a batch that also removes one, in either
    // order.
    cart.apply(&[
        Op::Remove {
            sku: "SKU-0".into(),
        },
        add("SKU-NEW", 1),
    ])
    .unwrap();
    cart.apply(&[
        add("SKU-NEWER", 1),
        Op::Remove {
            sku: "SKU-1".into(),
        },
    ])
    .unwrap();
    assert_eq!(cart.view().line_count, MAX_LINES);
    let e = cart
        .apply(&[
            add("ONE", 1),
            add("TWO", 1),
            Op::Remove {
                sku: "SKU-2".into(),
            },
        ])
        .unwrap_err();
    assert_eq!(
        (e.index, e.error.code()),
        (Some(1), "CART_FULL"),
        "the first line beyond the limit"
    );
}

#[test]
fn a_quantity_is_limited_by_the_batch_s_result_and_blamed_on_the_last_add_that_raised_it() {
    let mut cart = replica(1);
    cart.add("X", 600).unwrap();
    cart.apply(&[
        add("X", 500),
        Op::Set {
            sku: "X".into(),
            qty: 10,
        },
    ])
    .unwrap();
    assert_eq!(cart.view().qty("X"), 10);
    let e = cart
        .apply(&[add("X", 500), add("Y", 1), add("X", 489), add("X", 1)])
        .unwrap_err();
    assert_eq!((e.index, e.error.code()), (Some(3), "QUANTITY_LIMIT"));
    assert_eq!(cart.view().qty("X"), 10);
}

#[test]
fn lines_a_batch_creates_are_listed_in_the_order_it_made_them() {
    let mut cart = replica(1);
    cart.apply(&[add("TEA-SENCHA", 1), add("MUG-STONE", 1), add("CLOTH", 1)])
        .unwrap();
    let skus: Vec<String> = cart.view().lines.iter().map(|l| l.sku.clone()).collect();
    assert_eq!(skus, ["TEA-SENCHA", "MUG-STONE", "CLOTH"]);
}

#[test]
fn more_than_250_operations_are_refused_whole() {
    let mut cart = replica(1);
    let ops: Vec<Op> = (0..=MAX_OPS).map(|_| add("MUG", 1)).collect();
    let e = cart.apply(&ops).unwrap_err();
    assert_eq!(
        (e.index, e.error.code()),
        (None, "TOO_MANY_OPS"),
        "about the whole batch"
    );
    assert!(cart.view().lines.is_empty());
    cart.apply(&ops[..MAX_OPS]).unwrap();
    assert_eq!(cart.view().qty("MUG"), 250);
}

#[test]
fn an_add_after_a_set_of_its_line_is_still_one_change_and_reads_right_where_carts_are_read_exactly()
{
    // A replica reading exactly (a cart whose history is only the genesis loads so; so do carts with layout-1
    // writes) counts every add of a change as seen by a set in it.
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
    assert_eq!(writer.view().qty("B"), 1);
    common::sync(&mut writer, &mut reader);
    assert_eq!(
        reader.view().qty("B"),
        1,
        "the add after the set counts for a reader reading exactly"
    );
    writer
        .apply(&[add("C", 1), Op::Clear, add("C", 2)])
        .unwrap();
    assert_eq!(changes_since(&writer, &heads), 2, "one change per batch");
    assert_eq!((writer.view().qty("B"), writer.view().qty("C")), (0, 2));
    common::sync(&mut writer, &mut reader);
    assert_eq!(
        (reader.view().qty("B"), reader.view().qty("C")),
        (0, 2),
        "the same after a clear and an add"
    );
    let mut b = Cart::load(&replica(3).save()).unwrap();
    let heads = b.heads();
    b.apply(&[
        add("B", 1),
        Op::Set {
            sku: "B".into(),
            qty: 0,
        },
        add("B", 1),
    ])
    .unwrap();
    assert_eq!((b.view().qty("B"), changes_since(&b, &heads)), (1, 1));
    assert!(b.cache_matches_a_fresh_read());
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
    assert_eq!(e.index, Some(2));
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

#[test]
fn quantities_out_of_an_operation_s_range_are_refused_when_read() {
    let code = |text: &str| json(text).unwrap_err().code();
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":0}"#),
        "INVALID_QUANTITY"
    );
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":1000}"#),
        "INVALID_QUANTITY"
    );
    assert_eq!(
        code(r#"{"op":"set","sku":"MUG","qty":1000}"#),
        "INVALID_QUANTITY"
    );
    assert!(json(r#"{"op":"set","sku":"MUG","qty":0}"#).is_ok());
}

#[test]
fn a_quantity_that_is_null_or_not_a_number_is_invalid_quantity_as_on_the_single_routes() {
    let code = |text: &str| json(text).unwrap_err().code();
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":null}"#),
        "INVALID_QUANTITY"
    );
    assert_eq!(
        code(r#"{"op":"add","sku":"MUG","qty":"2"}"#),
        "INVALID_QUANTITY"
    );
    assert_eq!(
        code(r#"{"op":"set","sku":"MUG","qty":[1]}"#),
        "INVALID_QUANTITY"
    );
    assert!(
        serde_json::from_str::<OpJson>(r#"{"op":"select","sku":"MUG","selected":null}"#).is_err()
    );
}

#[test]
fn a_cart_over_the_line_limit_after_a_sync_stays_editable_and_only_new_lines_are_refused() {
    let mut one = replica(1);
    let mut two = replica(2);
    one.apply(
        &(0..65)
            .map(|i| add(&format!("ONE-{i}"), 1))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    two.apply(
        &(0..65)
            .map(|i| add(&format!("TWO-{i}"), 1))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    common::sync(&mut one, &mut two);
    assert_eq!(
        one.view().line_count,
        130,
        "concurrent adds may pass the limit"
    );
    one.remove("ONE-0").unwrap();
    one.set_selected("ONE-1", false).unwrap();
    one.set_quantity("ONE-2", 5).unwrap();
    one.select_all(true).unwrap();
    one.apply(&[
        Op::Remove {
            sku: "TWO-0".into(),
        },
        Op::Set {
            sku: "TWO-1".into(),
            qty: 2,
        },
    ])
    .unwrap();
    assert_eq!(one.view().line_count, 128);
    let e = one.add("NEW", 1).unwrap_err();
    assert_eq!(e.code(), "CART_FULL");
}

#[test]
fn a_batch_s_adds_are_written_in_one_splice_that_any_replica_accepts_and_reads_as_the_adds_one_by_one(
) {
    use automerge::ReadDoc;
    let ops = [add("MUG", 2), add("TEA", 1), add("MUG", 1), add("JAM", 3)];
    let mut batched = replica(1);
    batched.apply(&ops).unwrap();
    let mut single = replica(2);
    for op in &ops {
        single.apply(std::slice::from_ref(op)).unwrap();
    }
    let adds = |cart: &Cart| -> Vec<String> {
        let doc = cart.doc();
        let (_, list) = doc.get(automerge::ROOT, "adds").unwrap().unwrap();
        doc.values(&list).map(|(v, _)| v.to_string()).collect()
    };
    assert_eq!(
        adds(&batched),
        adds(&single),
        "newest first, as one insert at the front per add"
    );
    assert_eq!(adds(&batched).len(), 4);
    // A peer checks the change's inserts (each after the one before it, in the same change) and takes it whole.
    let mut peer = replica(3);
    let (mut to_peer, mut from_peer) = (cart_core::SyncState::new(), cart_core::SyncState::new());
    for _ in 0..8 {
        if let Some(m) = batched.generate_sync_message(&mut to_peer) {
            peer.receive_sync_message(&mut from_peer, &m).unwrap();
        }
        if let Some(m) = peer.generate_sync_message(&mut from_peer) {
            batched.receive_sync_message(&mut to_peer, &m).unwrap();
        }
    }
    assert_eq!(peer.view(), batched.view());
    assert_eq!(
        (
            peer.view().qty("MUG"),
            peer.view().qty("TEA"),
            peer.view().qty("JAM")
        ),
        (3, 1, 3)
    );
}
