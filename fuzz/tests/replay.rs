//! Every committed fuzz input, run through its target on stable: the minimised corpus (`fuzz/corpus/<target>/`)
//! and every crasher ever found (`fuzz/crashers/<target>/`), so a fixed bug stays fixed. `make fuzz` grows them.

use std::path::Path;

/// Runs every input under `fuzz/<kind>/<target>/` through its target; returns how many inputs each target had.
fn replay(kind: &str) -> Vec<(&'static str, usize)> {
    let mut counts = Vec::new();
    for (target, check) in cart_fuzz::TARGETS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(kind)
            .join(target);
        let mut count = 0;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries {
                let path = entry.expect("a readable directory entry").path();
                let data = std::fs::read(&path).expect("a readable input");
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{target} fails on {}", path.display());
                count += 1;
            }
        }
        counts.push((*target, count));
    }
    counts
}

#[test]
fn every_input_of_the_minimised_corpus_passes_its_target() {
    // Each target ships a corpus: an empty directory would make this test pass without checking anything.
    for (target, count) in replay("corpus") {
        assert!(count >= 5, "{target} has only {count} corpus inputs");
    }
}

#[test]
fn every_crasher_ever_found_passes_its_target_now() {
    replay("crashers");
}

#[test]
fn the_targets_accept_the_empty_input_and_one_byte_of_each_kind() {
    for (_, check) in cart_fuzz::TARGETS {
        check(&[]);
        for b in 0..=16u8 {
            check(&[b]);
        }
    }
}

#[test]
fn every_forged_change_that_panics_automerge_alone_is_refused_by_the_cart_and_changes_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crashers/automerge-0.12.0");
    let base = std::fs::read(dir.join("base.automerge")).expect("the base document");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the reproductions") {
        let path = entry.expect("a readable directory entry").path();
        if path.extension().is_none_or(|e| e != "change") {
            continue;
        }
        let change = std::fs::read(&path).expect("a readable reproduction");
        let mut cart = cart_core::Cart::load(&base).expect("the base is a cart");
        let before = cart.view();
        match cart.load_incremental(&change) {
            Ok(()) => panic!("{} was accepted", path.display()),
            // Refused by the checks, not by Automerge panicking behind them (contained, see core/src/unwind.rs).
            Err(e) => cart_fuzz::not_contained(&cart, &e),
        }
        assert_eq!(cart.view(), before, "{} changed the cart", path.display());
        let mut stored = base.clone();
        stored.extend(&change);
        assert!(
            cart_fuzz::load_not_contained(&stored).is_none(),
            "{} loads as a stored cart",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 5, "only {count} reproductions");
}
