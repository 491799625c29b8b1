//! One test per normative rule (S1-S7 of the cart semantics) and per limit.

mod common;
use cart_core::{EditError, SkuError, MAX_LINES, MAX_QTY};
use common::{fork, json, replica, sync};

#[test]
fn a_new_cart_is_empty() {
    let cart = replica(1);
    let view = cart.view();
    assert!(view.lines.is_empty());
    assert_eq!((view.line_count, view.item_count), (0, 0));
    assert_eq!(view.version.len(), 1, "the genesis change is the only head");
}

#[test]
fn adding_creates_a_selected_line_stamped_with_the_clock() {
    let mut cart = replica(1);
    cart.set_clock(|| 42_000);
    cart.add("MUG", 2).unwrap();
    let line = cart.view().lines[0].clone();
    assert_eq!(
        (line.sku.as_str(), line.qty, line.selected, line.added_at),
        ("MUG", 2, true, 42_000)
    );
}

// S1
#[test]
fn an_add_made_offline_survives_sync_with_a_replica_that_edited_other_lines() {
    let mut a = replica(1);
    let mut b = fork(&mut a, 2);
    a.add("A", 1).unwrap();
    b.add("B", 1).unwrap();
    b.remove("A").unwrap(); // b never saw A's add, so this removes nothing
    sync(&mut a, &mut b);
    assert_eq!(a.view().qty("A"), 1);
    assert_eq!(json(&a), json(&b));
}

// S2
#[test]
fn concurrent_adds_of_the_same_sku_from_nothing_sum() {
    let mut a = replica(1);
    let mut b = fork(&mut a, 2);
    a.add("X", 1).unwrap();
    b.add("X", 2).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.view().qty("X"), 3);
    assert_eq!(b.view().qty("X"), 3);
}

#[test]
fn concurrent_adds_on_two_independently_created_carts_sum_when_merged() {
    let mut a = replica(1);
    let mut b = replica(2); // never synced with a
    a.add("X", 1).unwrap();
    b.add("X", 2).unwrap();
    a.merge(&b).unwrap();
    assert_eq!(a.view().qty("X"), 3);
}

// S3
#[test]
fn a_remove_removes_only_what_it_had_seen() {
    let mut a = replica(1);
    a.add("X", 2).unwrap();
    let mut b = fork(&mut a, 2);
    a.remove("X").unwrap(); // saw qty 2
    b.add("X", 1).unwrap(); // concurrently
    sync(&mut a, &mut b);
    assert_eq!(a.view().qty("X"), 1);
    assert_eq!(json(&a), json(&b));
}

// S4
#[test]
fn a_removed_line_is_not_resurrected_whatever_the_sync_order() {
    let mut a = replica(1);
    let mut b = fork(&mut a, 2);
    let mut c = fork(&mut a, 3);
    b.add("X", 2).unwrap();
    sync(&mut a, &mut b); // a saw b's add
    a.remove("X").unwrap();
    // c syncs with b first (learning the add), then with a (learning the remove), and b last.
    sync(&mut c, &mut b);
    assert_eq!(c.view().qty("X"), 2);
    sync(&mut c, &mut a);
    sync(&mut b, &mut c);
    for r in [&a, &b, &c] {
        assert_eq!(r.view().qty("X"), 0, "the removed line stays removed");
    }
    a.add("X", 1).unwrap();
    sync(&mut a, &mut c);
    assert_eq!(c.view().qty("X"), 1, "adding it again brings it back");
}

#[test]
fn a_remove_seen_by_a_replica_is_not_undone_by_an_old_copy_of_the_cart() {
    let mut a = replica(1);
    a.add("X", 5).unwrap();
    let stale = a.save();
    a.remove("X").unwrap();
    a.load_incremental(&stale).unwrap();
    assert_eq!(a.view().qty("X"), 0);
}

// S5
#[test]
fn concurrent_sets_of_one_line_have_one_deterministic_winner() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let mut b = fork(&mut a, 2);
    a.set_quantity("X", 5).unwrap();
    b.set_quantity("X", 7).unwrap();
    sync(&mut a, &mut b);
    let q = a.view().qty("X");
    assert!(q == 5 || q == 7, "one of the sets wins, not a mix: {q}");
    assert_eq!(json(&a), json(&b));
}

#[test]
fn concurrent_sets_give_the_winners_quantity_plus_the_adds_the_winner_had_not_seen() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let mut b = fork(&mut a, 2);
    b.add("X", 1).unwrap(); // seen by b's set, not by a's
    a.set_quantity("X", 5).unwrap();
    b.set_quantity("X", 7).unwrap();
    sync(&mut a, &mut b);
    let q = a.view().qty("X");
    // If a's set wins, b's add (which a never saw) comes on top of it; if b's wins, b had seen every add.
    assert!(q == 6 || q == 7, "winner plus what it had not seen: {q}");
    assert_eq!(json(&a), json(&b));
}

#[test]
fn an_add_concurrent_with_a_set_combines_with_it() {
    let mut a = replica(1);
    a.add("X", 2).unwrap();
    let mut b = fork(&mut a, 2);
    a.set_quantity("X", 5).unwrap();
    b.add("X", 1).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.view().qty("X"), 6);
    assert_eq!(b.view().qty("X"), 6);
}

#[test]
fn setting_quantity_to_zero_removes_the_line() {
    let mut a = replica(1);
    a.add("X", 2).unwrap();
    a.set_quantity("X", 0).unwrap();
    assert_eq!(a.view().line_count, 0);
}

// S6
#[test]
fn the_selection_flag_is_last_writer_wins_and_the_same_everywhere() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let mut b = fork(&mut a, 2);
    a.set_selected("X", false).unwrap();
    sync(&mut a, &mut b);
    assert!(!b.view().lines[0].selected);
    b.set_selected("X", true).unwrap();
    sync(&mut a, &mut b);
    assert!(a.view().lines[0].selected, "the later write wins");
    // Concurrent writes: one of them wins, the same one on both replicas.
    a.set_selected("X", false).unwrap();
    b.set_selected("X", false).unwrap();
    b.set_selected("X", true).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(json(&a), json(&b));
}

#[test]
fn concurrent_selection_writes_resolve_identically_on_every_replica() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let mut b = fork(&mut a, 2);
    a.set_selected("X", false).unwrap();
    b.remove("X").unwrap();
    b.add("X", 1).unwrap(); // a new line starts selected, concurrently with a's deselect
    sync(&mut a, &mut b);
    assert_eq!(json(&a), json(&b));
}

#[test]
fn a_line_added_again_after_removal_starts_selected() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    a.set_selected("X", false).unwrap();
    a.remove("X").unwrap();
    a.add("X", 1).unwrap();
    assert!(a.view().lines[0].selected);
}

#[test]
fn selecting_an_absent_line_is_an_error() {
    let mut a = replica(1);
    assert!(matches!(a.set_selected("X", false), Err(EditError::LineNotFound(s)) if s == "X"));
}

#[test]
fn clear_removes_what_it_saw_but_not_a_concurrent_add() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    a.add("Y", 2).unwrap();
    let mut b = fork(&mut a, 2);
    a.clear().unwrap();
    b.add("Z", 1).unwrap();
    b.add("Y", 1).unwrap();
    sync(&mut a, &mut b);
    let v = a.view();
    assert_eq!((v.qty("X"), v.qty("Y"), v.qty("Z")), (0, 1, 1));
}

#[test]
fn views_are_byte_identical_whatever_order_changes_arrive_in() {
    let mut a = replica(1);
    let mut b = fork(&mut a, 2);
    let mut c = fork(&mut a, 3);
    a.add("A", 1).unwrap();
    b.add("B", 2).unwrap();
    c.add("A", 3).unwrap();
    c.set_selected("A", false).unwrap();
    let (ca, cb, cc) = (
        a.save_incremental(),
        b.save_incremental(),
        c.save_incremental(),
    );
    let mut x = fork(&mut replica(9), 4);
    let mut y = fork(&mut replica(9), 5);
    for bytes in [&ca, &cb, &cc] {
        x.load_incremental(bytes).unwrap();
    }
    for bytes in [&cc, &ca, &cb] {
        y.load_incremental(bytes).unwrap();
    }
    assert_eq!(json(&x), json(&y));
    assert_eq!(x.view().qty("A"), 4);
}

#[test]
fn lines_are_ordered_by_time_added_then_sku() {
    let mut a = replica(1);
    a.set_clock(|| 2);
    a.add("B", 1).unwrap();
    a.add("A", 1).unwrap();
    a.set_clock(|| 1);
    a.add("C", 1).unwrap();
    let skus: Vec<_> = a.view().lines.into_iter().map(|l| l.sku).collect();
    assert_eq!(skus, ["C", "A", "B"]);
}

#[test]
fn invalid_skus_are_refused_with_distinct_errors() {
    let mut a = replica(1);
    assert!(matches!(
        a.add("", 1),
        Err(EditError::InvalidSku(SkuError::Empty))
    ));
    assert!(matches!(
        a.add(&"x".repeat(65), 1),
        Err(EditError::InvalidSku(SkuError::TooLong { len: 65 }))
    ));
    assert!(matches!(
        a.add("a/b", 1),
        Err(EditError::InvalidSku(SkuError::BadCharacter { found: '/' }))
    ));
    assert!(matches!(
        a.add("é", 1),
        Err(EditError::InvalidSku(SkuError::BadCharacter {
            found: 'é'
        }))
    ));
    assert!(a.add(&"x".repeat(64), 1).is_ok());
    assert_eq!(a.view().line_count, 1);
}

#[test]
fn quantities_outside_the_allowed_range_are_refused() {
    let mut a = replica(1);
    assert!(matches!(
        a.add("X", 0),
        Err(EditError::InvalidQuantity { qty: 0, .. })
    ));
    assert!(matches!(
        a.add("X", 1000),
        Err(EditError::InvalidQuantity { qty: 1000, .. })
    ));
    assert!(matches!(
        a.set_quantity("X", 1000),
        Err(EditError::InvalidQuantity { .. })
    ));
    a.add("X", MAX_QTY).unwrap();
    assert!(matches!(
        a.add("X", 1),
        Err(EditError::QuantityLimit {
            current: 999,
            adding: 1
        })
    ));
    assert_eq!(a.view().qty("X"), MAX_QTY);
}

#[test]
fn the_121st_line_is_refused_but_existing_lines_stay_editable() {
    let mut a = replica(1);
    for i in 0..MAX_LINES {
        a.add(&format!("SKU-{i}"), 1).unwrap();
    }
    let before = a.heads();
    assert!(matches!(a.add("ONE-MORE", 1), Err(EditError::CartFull)));
    assert!(matches!(
        a.set_quantity("ONE-MORE", 1),
        Err(EditError::CartFull)
    ));
    assert_eq!(a.heads(), before, "a refused edit records nothing");
    a.add("SKU-0", 5).unwrap();
    a.set_quantity("SKU-1", 3).unwrap();
    a.set_selected("SKU-2", false).unwrap();
    a.remove("SKU-3").unwrap();
    a.add("ONE-MORE", 1).unwrap();
    assert_eq!(a.view().line_count, MAX_LINES);
}

#[test]
fn concurrent_adds_beyond_the_per_line_maximum_show_the_maximum() {
    let mut a = replica(1);
    let mut b = fork(&mut a, 2);
    a.add("X", 600).unwrap();
    b.add("X", 600).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.view().qty("X"), MAX_QTY);
    a.set_quantity("X", 10).unwrap();
    assert_eq!(a.view().qty("X"), 10);
}

#[test]
fn removing_an_absent_line_records_nothing() {
    let mut a = replica(1);
    let before = a.heads();
    a.remove("NOPE").unwrap();
    a.clear().unwrap();
    assert_eq!(a.heads(), before);
}

#[test]
fn view_at_old_heads_shows_the_cart_as_it_was() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let then = a.heads();
    a.add("Y", 1).unwrap();
    assert_eq!(a.view_at(&then).line_count, 1);
    assert_eq!(
        a.view_at(&then).version,
        then.iter().map(|h| h.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn changes_missing_from_counts_what_a_peer_has_not_acknowledged() {
    let mut a = replica(1);
    assert_eq!(
        a.changes_missing_from(&[]),
        0,
        "a server that never spoke has the shared genesis"
    );
    let server = a.heads();
    assert_eq!(a.changes_missing_from(&server), 0);
    a.add("X", 1).unwrap();
    a.add("Y", 1).unwrap();
    assert_eq!(a.changes_missing_from(&server), 2);
    assert_eq!(a.changes_missing_from(&a.heads()), 0);
}

#[test]
fn one_local_edit_after_some_heads_is_told_apart_from_anything_else() {
    let mut a = replica(1);
    let mut b = replica(2);
    let before = a.heads();
    a.add("X", 1).unwrap();
    assert!(a.is_one_local_change_after(&before));
    let once = a.heads();
    a.add("X", 1).unwrap();
    assert!(
        !a.is_one_local_change_after(&before),
        "two edits since `before`"
    );
    assert!(
        a.is_one_local_change_after(&once),
        "one edit on top of `once`"
    );
    b.add("Y", 1).unwrap();
    let mid = a.heads();
    sync(&mut a, &mut b);
    assert!(
        !a.is_one_local_change_after(&mid),
        "a received change is not a local edit"
    );
    let merged = a.heads();
    a.add("Z", 1).unwrap();
    assert!(a.is_one_local_change_after(&merged));
    assert_eq!(a.changes_missing_from(&merged), 1);
}

#[test]
fn saving_since_what_storage_holds_returns_only_the_changes_storage_lacks() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let stored = a.save();
    let mut other_tab = cart_core::Cart::load(&stored).unwrap();
    other_tab.add("Y", 1).unwrap();
    let theirs = other_tab.save();
    // This tab adds Z without having seen Y, then reads the other tab's save back.
    a.add("Z", 1).unwrap();
    let read = cart_core::Cart::load(&theirs).unwrap();
    a.merge(&read).unwrap();
    let extra = a.save_since(&read.heads());
    assert!(!extra.is_empty());
    let rebuilt = cart_core::Cart::load(&[theirs.clone(), extra].concat()).unwrap();
    assert_eq!(rebuilt.heads(), a.heads());
    assert_eq!(json(&rebuilt), json(&a));
    assert!(
        a.save_incremental().is_empty(),
        "what was saved since is taken as saved"
    );
    assert!(
        a.save_since(&a.heads()).is_empty(),
        "nothing beyond its own heads"
    );
}

#[test]
fn a_cart_holds_saved_changes_only_once_they_are_in_its_document() {
    let mut a = replica(1);
    a.add("X", 1).unwrap();
    let mut b = cart_core::Cart::load(&a.save()).unwrap();
    a.add("Y", 1).unwrap();
    let first = a.save_incremental();
    a.add("Z", 1).unwrap();
    let second = a.save_incremental();
    assert!(a.holds(&first) && a.holds(&second));
    assert!(!b.holds(&first));
    // The second change alone waits for the first: kept aside, not held.
    b.load_incremental(&second).unwrap();
    assert!(!b.holds(&second));
    b.load_incremental(&first).unwrap();
    assert!(b.holds(&first) && b.holds(&second));
    let saved = b.save();
    assert!(!b.holds(&saved), "a full save is not incremental changes");
    assert!(!b.holds(b"garbage") && !b.holds(&[]));
}

/// Runs the sync protocol between `a` (state `sa`) and `b` (a fresh state) until both are quiet; returns the bytes
/// `a` sent.
fn sync_from(
    a: &mut cart_core::Cart,
    sa: &mut cart_core::SyncState,
    b: &mut cart_core::Cart,
) -> usize {
    let mut sb = cart_core::SyncState::new();
    let mut sent = 0;
    for _ in 0..32 {
        let mut quiet = true;
        if let Some(m) = a.generate_sync_message(sa) {
            sent += m.len();
            b.receive_sync_message(&mut sb, &m).unwrap();
            quiet = false;
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            a.receive_sync_message(sa, &m).unwrap();
            quiet = false;
        }
        if quiet {
            return sent;
        }
    }
    panic!("sync did not settle");
}

#[test]
fn resuming_with_the_heads_a_server_acknowledged_syncs_what_is_new_and_survives_a_server_that_lost_them(
) {
    let mut client = replica(1);
    let mut server = replica(2);
    for i in 0..1000 {
        client.set_quantity("TEA", 1 + i % 9).unwrap();
    }
    sync(&mut client, &mut server);
    let acknowledged = server.heads();
    client.add("CUP", 2).unwrap();
    server.add("MUG", 1).unwrap();
    // Resumed: the first message summarises one change, not 1,000.
    let mut resumed_state = client.resume_sync(&acknowledged);
    let resumed = sync_from(&mut client, &mut resumed_state, &mut server);
    assert_eq!(client.heads(), server.heads());
    assert_eq!(json(&client), json(&server));
    let mut copy = cart_core::Cart::load(&client.encode()).unwrap();
    let mut again = cart_core::Cart::load(&server.encode()).unwrap();
    let fresh = sync_from(&mut copy, &mut cart_core::SyncState::new(), &mut again);
    assert!(
        resumed < fresh,
        "{resumed} bytes resumed, {fresh} from a fresh state"
    );
    // A server that lost the cart (expired, restored from nothing) gets the whole history back.
    let mut wiped = replica(3);
    let mut state = client.resume_sync(&acknowledged);
    sync_from(&mut client, &mut state, &mut wiped);
    assert_eq!(client.heads(), wiped.heads());
    assert_eq!(json(&client), json(&wiped));
}

#[test]
fn resuming_with_announced_heads_whose_changes_never_arrived_still_brings_them_in_one_exchange() {
    let mut server = replica(1);
    for i in 0..200 {
        server.set_quantity("TEA", 1 + i % 9).unwrap();
    }
    // The client heard the server's heads (a greeting) but the changes never came: the socket dropped.
    let mut client = replica(2);
    let announced = server.heads();
    let mut state = client.resume_sync(&announced);
    let mut rounds = 0;
    let mut s_server = cart_core::SyncState::new();
    loop {
        rounds += 1;
        let mut quiet = true;
        if let Some(m) = client.generate_sync_message(&mut state) {
            server.receive_sync_message(&mut s_server, &m).unwrap();
            quiet = false;
        }
        if let Some(m) = server.generate_sync_message(&mut s_server) {
            client.receive_sync_message(&mut state, &m).unwrap();
            quiet = false;
        }
        if quiet {
            break;
        }
        assert!(rounds < 10, "sync did not settle");
    }
    assert_eq!(client.heads(), server.heads());
    assert!(
        rounds <= 3,
        "{rounds} rounds: the changes came in one go, not one per round"
    );
    assert_eq!(json(&client), json(&server));
}
