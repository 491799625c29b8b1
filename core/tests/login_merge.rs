//! S7: the login merge of a guest cart into the user's cart.

mod common;
use cart_core::{Cart, MergePolicy, MAX_LINES, MAX_QTY};
use common::{fork, json, replica, sync};

fn guest_and_user() -> (Cart, Cart) {
    let mut guest = replica(1);
    guest.add("ONLY-GUEST", 2).unwrap();
    guest.add("BOTH", 3).unwrap();
    let mut user = replica(2); // created independently: never synced with the guest
    user.add("ONLY-USER", 1).unwrap();
    user.add("BOTH", 5).unwrap();
    (guest, user)
}

#[test]
fn max_policy_keeps_lines_of_both_carts_and_the_larger_quantity() {
    let (guest, mut user) = guest_and_user();
    let report = user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    let v = user.view();
    assert_eq!(
        (v.qty("ONLY-GUEST"), v.qty("ONLY-USER"), v.qty("BOTH")),
        (2, 1, 5)
    );
    assert_eq!(report.added, ["ONLY-GUEST"]);
    assert_eq!(report.unchanged, ["BOTH"]);
    assert!(!report.already_merged);
}

#[test]
fn max_policy_raises_the_users_quantity_when_the_guest_had_more() {
    let (mut guest, mut user) = guest_and_user();
    guest.add("BOTH", 4).unwrap(); // guest 7, user 5
    let report = user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    assert_eq!(user.view().qty("BOTH"), 7);
    assert_eq!(report.combined, ["BOTH"]);
}

#[test]
fn sum_policy_adds_the_quantities() {
    let (guest, mut user) = guest_and_user();
    user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    let v = user.view();
    assert_eq!(
        (v.qty("ONLY-GUEST"), v.qty("ONLY-USER"), v.qty("BOTH")),
        (2, 1, 8)
    );
}

#[test]
fn max_is_the_default_policy_and_policies_parse_from_their_names() {
    assert_eq!(MergePolicy::default(), MergePolicy::Max);
    assert_eq!("sum".parse::<MergePolicy>().unwrap(), MergePolicy::Sum);
    assert!("most".parse::<MergePolicy>().is_err());
}

#[test]
fn merging_the_same_guest_state_twice_changes_nothing_more() {
    for policy in [MergePolicy::Max, MergePolicy::Sum] {
        let (guest, mut user) = guest_and_user();
        user.merge_guest(&guest, "guest", policy).unwrap();
        let once = json(&user);
        let report = user.merge_guest(&guest, "guest", policy).unwrap();
        assert!(report.already_merged);
        assert_eq!(json(&user), once, "{policy:?}");
    }
}

#[test]
fn a_retried_merge_does_not_bring_back_a_line_removed_after_the_first() {
    let (guest, mut user) = guest_and_user();
    user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    user.remove("ONLY-GUEST").unwrap();
    user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    assert_eq!(user.view().qty("ONLY-GUEST"), 0);
}

#[test]
fn two_replicas_merging_the_same_guest_concurrently_give_the_result_of_one_merge() {
    for policy in [MergePolicy::Max, MergePolicy::Sum] {
        let (guest, mut user) = guest_and_user();
        let mut reference = fork(&mut user, 7);
        reference.merge_guest(&guest, "guest", policy).unwrap();

        let mut tab1 = fork(&mut user, 3);
        let mut tab2 = fork(&mut user, 4);
        tab1.merge_guest(&guest, "guest", policy).unwrap();
        tab2.merge_guest(&guest, "guest", policy).unwrap();
        sync(&mut tab1, &mut tab2);
        assert_eq!(tab1.view().lines, reference.view().lines, "{policy:?}");
        assert_eq!(json(&tab1), json(&tab2));
    }
}

#[test]
fn concurrent_merges_that_saw_different_user_quantities_still_keep_the_maximum() {
    let (mut guest, mut user) = guest_and_user();
    guest.add("BOTH", 4).unwrap(); // guest 7
    let mut server = fork(&mut user, 3);
    let mut phone = fork(&mut user, 4);
    phone.add("BOTH", 1).unwrap(); // phone sees 6, server sees 5
    server
        .merge_guest(&guest, "guest", MergePolicy::Max)
        .unwrap();
    phone
        .merge_guest(&guest, "guest", MergePolicy::Max)
        .unwrap();
    sync(&mut server, &mut phone);
    // max(user incl. the phone's add = 6, guest = 7) = 7: the add is not lost, nothing is doubled.
    assert_eq!(server.view().qty("BOTH"), 7);
    assert_eq!(json(&server), json(&phone));
}

#[test]
fn independently_created_carts_merge_without_losing_lines() {
    let mut guest = replica(1);
    let mut user = replica(2);
    for i in 0..20 {
        guest.add(&format!("G{i}"), 1).unwrap();
        user.add(&format!("U{i}"), 1).unwrap();
    }
    guest.add("SAME", 1).unwrap();
    user.add("SAME", 1).unwrap();
    user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    let v = user.view();
    assert_eq!(v.line_count, 41);
    assert_eq!(v.qty("SAME"), 2);
    // Syncing the whole documents (not a login merge) also loses nothing.
    let mut other = replica(3);
    other.add("SAME", 4).unwrap();
    user.merge(&other).unwrap();
    assert_eq!(user.view().qty("SAME"), 6);
}

#[test]
fn a_guest_that_kept_shopping_after_a_merge_contributes_only_its_new_items() {
    let (mut guest, mut user) = guest_and_user();
    user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap(); // BOTH 5+3
    guest.add("BOTH", 1).unwrap(); // another tab, still a guest
    guest.add("LATE", 1).unwrap();
    let report = user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    let v = user.view();
    assert_eq!(
        (v.qty("BOTH"), v.qty("LATE"), v.qty("ONLY-GUEST")),
        (9, 1, 2)
    );
    assert_eq!(report.unchanged, ["ONLY-GUEST"]);
}

#[test]
fn merged_lines_keep_the_guests_selection_and_time_added() {
    let mut guest = replica(1);
    guest.set_clock(|| 5);
    guest.add("X", 1).unwrap();
    guest.set_selected("X", false).unwrap();
    let mut user = replica(2);
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    let line = user.view().lines[0].clone();
    assert_eq!((line.selected, line.added_at), (false, 5));
}

#[test]
fn a_user_edit_after_the_merge_overrides_the_merged_quantity() {
    let (guest, mut user) = guest_and_user();
    user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    user.set_quantity("BOTH", 1).unwrap();
    assert_eq!(user.view().qty("BOTH"), 1);
    user.remove("ONLY-GUEST").unwrap();
    assert_eq!(user.view().qty("ONLY-GUEST"), 0);
}

#[test]
fn merging_into_a_full_cart_skips_new_lines_and_reports_them() {
    let mut guest = replica(1);
    guest.add("NEW", 1).unwrap();
    guest.add("U0", 4).unwrap();
    let mut user = replica(2);
    for i in 0..MAX_LINES {
        user.add(&format!("U{i}"), 1).unwrap();
    }
    let report = user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    assert_eq!(report.skipped_cart_full, ["NEW"]);
    assert_eq!(user.view().qty("U0"), 5, "existing lines still combine");
    assert_eq!(user.view().line_count, MAX_LINES);
}

#[test]
fn a_sum_beyond_the_per_line_maximum_is_capped_and_reported() {
    let mut guest = replica(1);
    guest.add("X", 900).unwrap();
    let mut user = replica(2);
    user.add("X", 500).unwrap();
    let report = user.merge_guest(&guest, "guest", MergePolicy::Sum).unwrap();
    assert_eq!(user.view().qty("X"), MAX_QTY);
    assert_eq!(report.clamped, ["X"]);
}

#[test]
fn merging_an_empty_guest_cart_changes_no_line() {
    let (_, mut user) = guest_and_user();
    let before = user.view().lines;
    let report = user
        .merge_guest(&replica(9), "empty", MergePolicy::Max)
        .unwrap();
    assert_eq!(user.view().lines, before);
    assert!(report.added.is_empty() && report.combined.is_empty());
}

#[test]
fn an_offline_max_merge_is_right_as_soon_as_the_users_other_lines_arrive() {
    let mut guest = replica(1);
    guest.add("HAT", 2).unwrap();
    guest.add("NEW", 1).unwrap();
    let mut server = replica(2);
    server.add("HAT", 5).unwrap(); // the user added 5 on another device
    let mut phone = fork(&mut replica(9), 3); // signed in offline: knows nothing of the server's cart
    phone
        .merge_guest(&guest, "guest", MergePolicy::Max)
        .unwrap();
    assert_eq!(phone.view().qty("HAT"), 2, "offline, max(nothing, 2)");
    sync(&mut phone, &mut server);
    for cart in [&phone, &server] {
        assert_eq!(
            (cart.view().qty("HAT"), cart.view().qty("NEW")),
            (5, 1),
            "max(5, 2) = 5 with nothing to reconcile; new lines stay"
        );
    }
}

#[test]
fn an_add_made_after_a_max_merge_adds_on_top_of_it() {
    let mut guest = replica(1);
    guest.add("HAT", 3).unwrap();
    let mut user = replica(2);
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    user.add("HAT", 1).unwrap();
    assert_eq!(user.view().qty("HAT"), 4, "3 merged, then one more");
}

#[test]
fn an_add_made_after_merging_a_guest_state_without_the_line_counts_in_a_later_max_merge() {
    let mut guest = replica(1);
    guest.add("CAP", 1).unwrap();
    let mut user = replica(2);
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    user.add("MUG", 3).unwrap(); // it saw nothing of the guest's MUG: there was none
    guest.add("MUG", 5).unwrap();
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    assert_eq!(user.view().qty("MUG"), 5, "max(3, 5)");
    assert_eq!(user.view().qty("CAP"), 1);
    // An add after a merge that had the line still adds on top of the guest's growth.
    user.add("MUG", 1).unwrap();
    guest.add("MUG", 1).unwrap();
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    assert_eq!(
        user.view().qty("MUG"),
        7,
        "max(3, 6) and the 1 added on top"
    );
}

#[test]
fn a_max_merge_after_a_sum_merge_compares_against_the_summed_line() {
    let mut a = replica(1);
    a.add("HAT", 2).unwrap();
    let mut b = replica(2);
    b.add("HAT", 3).unwrap();
    let mut user = replica(3);
    user.merge_guest(&a, "a", MergePolicy::Sum).unwrap();
    user.merge_guest(&b, "b", MergePolicy::Max).unwrap();
    assert_eq!(user.view().qty("HAT"), 3, "0 + 2, then max(2, 3)");
}

#[test]
fn a_set_after_a_merge_leaves_only_the_guests_later_growth() {
    let mut guest = replica(1);
    guest.add("HAT", 3).unwrap();
    let mut user = replica(2);
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    user.set_quantity("HAT", 1).unwrap();
    guest.add("HAT", 2).unwrap(); // the guest, still shopping: 5
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    assert_eq!(
        user.view().qty("HAT"),
        3,
        "the set's 1, plus the 2 the guest added since"
    );
}

#[test]
fn an_add_made_after_a_max_merge_survives_a_later_merge_of_the_same_guest() {
    let mut guest = replica(1);
    guest.add("MUG", 3).unwrap();
    let mut user = replica(2);
    user.add("MUG", 1).unwrap();
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap(); // max(1, 3) = 3
    user.add("MUG", 1).unwrap(); // 4
    guest.add("HAT", 1).unwrap(); // the guest's MUG is unchanged
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    assert_eq!(
        user.view().qty("MUG"),
        4,
        "rule 1: the add made after the first merge is not absorbed"
    );
    assert_eq!(user.view().qty("HAT"), 1);
}

#[test]
fn a_layout_2_merge_of_an_empty_guest_does_not_turn_later_max_merges_into_sums() {
    use automerge::{transaction::Transactable, Automerge, ReadDoc, ROOT};
    let mut user = replica(2);
    user.add("MUG", 2).unwrap();
    // Layout 2 recorded a merge of an empty guest cart as its heads: the genesis alone, which every cart holds.
    let genesis = replica(9).heads()[0];
    let mut doc = Automerge::load(&user.encode()).unwrap();
    let (_, merged) = doc.get(ROOT, "merged").unwrap().unwrap();
    let heads = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(&merged, &genesis.to_string()[..12], genesis.to_string())
        .unwrap();
    tx.commit();
    user.load_incremental(&doc.save_after(&heads)).unwrap();
    let mut guest = replica(1);
    guest.add("MUG", 3).unwrap();
    user.merge_guest(&guest, "guest", MergePolicy::Max).unwrap();
    assert_eq!(user.view().qty("MUG"), 3, "max(2, 3)");
}
