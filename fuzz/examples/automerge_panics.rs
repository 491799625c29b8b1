//! Minimal reproductions of the Automerge 0.12 panics that forged changes reach, for reporting upstream.
//!
//! Runs the `forged_change` recipes (seeded) against Automerge alone, without the cart's checks: loads the sample
//! cart's save, then `load_incremental` of the forged change(s), and groups the panics by where they happen. For
//! each place it keeps the smallest change under `fuzz/crashers/automerge-0.12.0/` (with the document it applies to,
//! `base.automerge`) and prints a table. `fuzz/tests/replay.rs` checks the cart refuses every one of them.
//!
//!     cargo run -p cart-fuzz --example automerge_panics [RUNS]   (unoptimised: the release profile aborts on panic)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn main() {
    let runs: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let location = Arc::new(Mutex::new(String::new()));
    let hook_location = Arc::clone(&location);
    std::panic::set_hook(Box::new(move |info| {
        let here = info.location().map(|l| {
            let file = l.file().rsplit_once("/src/").map_or(l.file(), |(_, f)| f);
            format!("{file}:{}", l.line())
        });
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        *hook_location.lock().expect("the hook's lock") = format!(
            "{}\t{}",
            here.unwrap_or_default(),
            message.lines().next().unwrap_or("")
        );
    }));
    // Where it panics -> (smallest change, its message, how many recipes panic there).
    let mut smallest: BTreeMap<String, (Vec<u8>, String, usize)> = BTreeMap::new();
    let mut base = Vec::new();
    for seed in 0..runs {
        let data = cart_fuzz::recipe_bytes(seed);
        let Some((save, change)) = cart_fuzz::forged_bytes(&data) else {
            continue;
        };
        base = save.clone();
        let outcome = std::panic::catch_unwind(|| {
            let mut doc = automerge::Automerge::load(&save).expect("the sample loads");
            let _ = doc.load_incremental(&change);
        });
        if outcome.is_err() {
            let key = location.lock().expect("the hook's lock").clone();
            let (place, message) = key.split_once('\t').unwrap_or((&key, ""));
            let entry = smallest
                .entry(place.to_owned())
                .or_insert_with(|| (change.clone(), message.to_owned(), 0));
            entry.2 += 1;
            if change.len() < entry.0.len() {
                entry.0 = change;
                entry.1 = message.to_owned();
            }
        }
    }
    let _ = std::panic::take_hook();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crashers/automerge-0.12.0");
    std::fs::create_dir_all(&dir).expect("a writable crashers directory");
    std::fs::write(dir.join("base.automerge"), &base).expect("base written");
    println!("| where Automerge panics | message | recipes (of {runs}) | smallest change (bytes) | file |");
    println!("|---|---|---:|---:|---|");
    for (place, (change, message, count)) in &smallest {
        let name = format!("{}.change", place.replace(['/', ':', '.'], "_"));
        std::fs::write(dir.join(&name), change).expect("crasher written");
        println!(
            "| `{place}` | {} | {count} | {} | `{name}` |",
            message.replace('|', "/"),
            change.len()
        );
    }
}
