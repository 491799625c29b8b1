//! What checking received changes and reading merge records cost as a cart's history grows:
//! `cargo run --release -p cart-core --example receive_cost`. Prints a table (one run, this machine).
//!
//! For each history length: loading the stored cart (its document is Automerge's to rebuild), applying the same
//! document as received input (every change in it is checked by `guard.rs` first), an edit of a cart holding a
//! `max` merge record (the view is recomputed from the records), and a cold load plus view of that cart.

use cart_core::{sim::EditMix, Cart, MergePolicy};
use std::time::{Duration, Instant};

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

fn main() {
    println!("| changes | load (stored) | load_incremental (received document) | edit, cart with a max merge record | cold load + view, with the record |");
    println!("|---|---|---|---|---|");
    for n in [200usize, 1000, 3000] {
        let mut cart = Cart::new();
        let mut mix = EditMix::new(7, 40);
        let mut done = 0;
        while done < n {
            if mix.apply_next(&mut cart) {
                done += 1;
            }
        }
        let bytes = cart.encode();
        let (loaded, load) = time(|| Cart::load(&bytes).expect("a saved cart loads"));
        let mut fresh = Cart::new();
        let ((), received) = time(|| {
            fresh
                .load_incremental(&bytes)
                .expect("an honest document applies")
        });
        let mut guest = Cart::new();
        guest.add("SKU-1", 3).expect("an add");
        let mut user = loaded;
        user.merge_guest(&guest, "guest", MergePolicy::Max)
            .expect("a merge");
        const EDITS: u32 = 20;
        let ((), edits) = time(|| {
            for i in 0..EDITS {
                let _ = user.add("SKU-2", 1);
                if i % 2 == 0 {
                    let _ = user.set_quantity("SKU-3", 2);
                }
            }
        });
        let saved = user.save();
        let (_, cold) = time(|| Cart::load(&saved).expect("it loads").view());
        println!(
            "| {n} | {load:.1?} | {received:.1?} | {:.1?} | {cold:.1?} |",
            edits / EDITS
        );
    }
}
