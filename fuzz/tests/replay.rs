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
