//! Loads the benchmark's long-lived cart (120 lines after 10,000 edits) `N` times, for profiling the cold load
//! under callgrind: `cargo build --release -p cart-core --example profile_load` then
//! `valgrind --tool=callgrind target/release/examples/profile_load 1`. A second argument names a file to write the
//! saved cart to, for looking at its columns.

use cart_core::{ActorId, Cart};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let mut cart = Cart::with_actor(ActorId::from([1; 8]));
    for i in 0..120 {
        cart.add(&format!("SKU-{i}"), 1 + (i % 5) as u32)
            .expect("fixture add");
    }
    let mut mix = cart_core::sim::EditMix::new(42, 120);
    let mut edits = 120;
    while edits < 10_000 {
        if mix.apply_next(&mut cart) {
            edits += 1;
        }
    }
    let bytes = cart.save();
    if let Some(path) = std::env::args().nth(2) {
        std::fs::write(&path, &bytes).expect("write the saved cart");
    }
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let loaded = Cart::load(&bytes).expect("load");
        std::hint::black_box(loaded);
    }
    eprintln!(
        "{} bytes, {:?} per load",
        bytes.len(),
        start.elapsed() / runs as u32
    );
}
