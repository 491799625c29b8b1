//! The login merge timed inside wasm (not a test: `make bench-client` runs it and reads the printed line).
//! Guest and user carts of 120 lines each, 60 skus shared, policy max: the same case as the core's criterion bench
//! and `bench/merge-peers.mjs`.

use cart_core::{ActorId, Cart, MergePolicy};
use wasm_bindgen_test::{wasm_bindgen_test, Instant};

fn cart(actor: u8, prefix: &str, range: std::ops::Range<usize>) -> Cart {
    let mut cart = Cart::with_actor(ActorId::from([actor; 16]));
    for i in range {
        cart.add(&format!("{prefix}{i}"), 1 + (i % 5) as u32)
            .expect("fixture add");
    }
    cart
}

#[wasm_bindgen_test]
fn login_merge_of_120_guest_lines_into_120_user_lines() {
    let guest = cart(2, "SKU-", 60..180);
    let user_bytes = cart(1, "SKU-", 0..120).save();
    let mut samples = Vec::new();
    for _ in 0..60 {
        let mut user = Cart::load(&user_bytes).expect("load");
        let started = Instant::now();
        let report = user
            .merge_guest(&guest, "guest", MergePolicy::Max)
            .expect("merge");
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        // The user's cart is full: the 60 shared skus are merged, the 60 guest-only lines do not fit.
        assert_eq!(report.combined.len() + report.unchanged.len(), 60);
        assert_eq!(report.skipped_cart_full.len(), 60);
    }
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    wasm_bindgen_test::console_log!("BENCH login_merge_us={median:.1}");
}
