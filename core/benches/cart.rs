//! Core benchmarks: one edit, the login merge, loading a long-lived cart, and encoded sizes.
//! `make bench` (or `cargo bench -p cart-core --bench cart`) runs them and prints a summary table.

use cart_core::{ActorId, Cart, MergePolicy, SyncState};
use criterion::{BatchSize, Criterion};
use std::hint::black_box;
use std::time::Duration;

/// A cart holding `lines` lines named `{prefix}{i}`, made by one replica (8-byte actor, as `new_actor` gives).
fn cart_with_lines(actor: u8, prefix: &str, range: std::ops::Range<usize>) -> Cart {
    let mut cart = Cart::with_actor(ActorId::from([actor; 8]));
    for i in range {
        cart.add(&format!("{prefix}{i}"), 1 + (i % 5) as u32)
            .expect("fixture add");
    }
    cart
}

/// A 120-line cart after 10,000 edits in the mix a storefront produces: mostly +1 clicks, some quantity sets,
/// selections and removals followed by re-adds. Deterministic (a fixed linear congruential sequence).
fn long_lived_cart() -> Cart {
    let mut cart = cart_with_lines(1, "SKU-", 0..120);
    let mut mix = cart_core::sim::EditMix::new(42, 120);
    let mut edits = 120;
    while edits < 10_000 {
        if mix.apply_next(&mut cart) {
            edits += 1;
        }
    }
    assert_eq!(cart.view().line_count, 120);
    cart
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let mut small = cart_with_lines(1, "SKU-", 0..120);
    let small_bytes = small.save();
    c.bench_function("add_one_item_to_a_120_line_cart", |b| {
        b.iter_batched_ref(
            || Cart::load(&small_bytes).expect("load"),
            |cart| cart.add(black_box("SKU-7"), 1).expect("add"),
            BatchSize::SmallInput,
        )
    });

    // 120 guest lines, 120 user lines, 60 skus in both.
    let guest = cart_with_lines(2, "P", 60..180);
    let mut user = cart_with_lines(3, "P", 0..120);
    let user_bytes = user.save();
    c.bench_function("login_merge_120_guest_lines_into_120_user_lines", |b| {
        b.iter_batched_ref(
            || Cart::load(&user_bytes).expect("load"),
            |cart| {
                cart.merge_guest(black_box(&guest), "guest", MergePolicy::Max)
                    .expect("merge")
            },
            BatchSize::SmallInput,
        )
    });

    let mut long = long_lived_cart();
    let long_bytes = long.save();
    c.bench_function("load_a_120_line_cart_after_10000_edits", |b| {
        b.iter(|| Cart::load(black_box(&long_bytes)).expect("load"))
    });
    // The Durable Object's write path, on a long history and on none: one edit, its incremental save and the view
    // to reply with.
    let mut fresh = cart_with_lines(4, "SKU-", 0..120);
    fresh.save_incremental();
    for (id, cart) in [
        (
            "edit_save_and_view_of_a_120_line_cart_after_10000_edits",
            &mut long,
        ),
        ("edit_save_and_view_of_a_fresh_120_line_cart", &mut fresh),
    ] {
        let mut i = 0usize;
        c.bench_function(id, |b| b.iter(|| black_box(write_path(cart, &mut i))));
    }
    c.bench_function("view_of_a_120_line_cart_after_10000_edits", |b| {
        b.iter(|| black_box(long.view()))
    });
    c.final_summary();

    // Sizes: a full save of the long-lived cart, one edit's incremental save, one edit's sync message.
    let mut peer = Cart::load(&long_bytes).expect("load");
    let (mut s_long, mut s_peer) = (SyncState::new(), SyncState::new());
    sync(&mut long, &mut s_long, &mut peer, &mut s_peer);
    long.save_incremental();
    long.add("SKU-3", 1).expect("add");
    let incremental = long.save_incremental().len();
    let messages = sync(&mut long, &mut s_long, &mut peer, &mut s_peer);
    let sync_bytes: usize = messages.iter().sum();

    // A reconnection: the server greets the client from a fresh sync state (a Bloom filter over the whole
    // history), the client resumes from the heads the server last acknowledged; then the client's first edit.
    let reconnect = first_message_after_reconnecting(&long_bytes);

    println!("\n| benchmark | median |");
    println!("|---|---|");
    for id in [
        "add_one_item_to_a_120_line_cart",
        "login_merge_120_guest_lines_into_120_user_lines",
        "load_a_120_line_cart_after_10000_edits",
        "edit_save_and_view_of_a_fresh_120_line_cart",
        "edit_save_and_view_of_a_120_line_cart_after_10000_edits",
        "view_of_a_120_line_cart_after_10000_edits",
    ] {
        println!(
            "| {id} | {} |",
            median(id).unwrap_or_else(|| "(not run)".into())
        );
    }
    println!(
        "| first_sync_message_after_an_edit_on_a_new_connection_after_10000_edits (median of 15, Instant) | {reconnect:.1?} |"
    );
    println!("\n| size | bytes |");
    println!("|---|---|");
    println!(
        "| full save, 120 lines after 10,000 edits | {} |",
        long_bytes.len()
    );
    // The same document saved without Automerge's per-column DEFLATE, for trying general compressors on it (the
    // file is what BENCHMARKS.md's storage section compresses with xz, zstd and brotli).
    let plain = automerge::Automerge::load(&long_bytes)
        .expect("load")
        .save_nocompress();
    let plain_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-cart-nocompress.bin");
    if let Err(e) = std::fs::write(&plain_path, &plain) {
        eprintln!("could not write {}: {e}", plain_path.display());
    }
    println!(
        "| the same, saved without Automerge's DEFLATE (target/bench-cart-nocompress.bin) | {} |",
        plain.len()
    );
    println!("| incremental save of one edit | {incremental} |");
    println!(
        "| sync messages for one edit, both directions, peers already in sync | {sync_bytes} |"
    );
    let shown: Vec<String> = messages.iter().map(|n| n.to_string()).collect();
    println!(
        "| of which: the message carrying the edit, then the others in order | {} |",
        shown.join(" + ")
    );
}

/// One storefront edit as a Durable Object handles it: `add` (or a set when the line is full), the incremental
/// save to persist, the view to reply with.
fn write_path(cart: &mut Cart, i: &mut usize) -> (Vec<u8>, cart_core::CartView) {
    *i += 1;
    let sku = format!("SKU-{}", *i % 120);
    if cart.add(&sku, 1).is_err() {
        cart.set_quantity(&sku, 1).expect("set");
    }
    (cart.save_incremental(), cart.view())
}

/// The time the client takes to write its first sync message after an edit, on a connection where the server
/// spoke first from a fresh state and the client resumed from the server's acknowledged heads (as the browser
/// library and the Durable Object do). Median of 15 connections.
fn first_message_after_reconnecting(bytes: &[u8]) -> Duration {
    let mut times = Vec::new();
    for i in 0..15 {
        let mut server = Cart::load(bytes).expect("load");
        let mut client = Cart::load(bytes).expect("load");
        let mut s_server = SyncState::new();
        let mut s_client = client.resume_sync(&server.heads());
        let greeting = server
            .generate_sync_message(&mut s_server)
            .expect("a greeting");
        client
            .receive_sync_message(&mut s_client, &greeting)
            .expect("sync");
        sync(&mut client, &mut s_client, &mut server, &mut s_server);
        client.add(&format!("SKU-{i}"), 1).expect("add");
        let started = std::time::Instant::now();
        black_box(client.generate_sync_message(&mut s_client));
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Syncs two replicas to convergence; returns the size of each message, in the order they were sent.
fn sync(a: &mut Cart, sa: &mut SyncState, b: &mut Cart, sb: &mut SyncState) -> Vec<usize> {
    let mut sizes = Vec::new();
    loop {
        let mut quiet = true;
        if let Some(m) = a.generate_sync_message(sa) {
            sizes.push(m.len());
            b.receive_sync_message(sb, &m).expect("sync");
            quiet = false;
        }
        if let Some(m) = b.generate_sync_message(sb) {
            sizes.push(m.len());
            a.receive_sync_message(sa, &m).expect("sync");
            quiet = false;
        }
        if quiet {
            return sizes;
        }
    }
}

/// Criterion's median estimate for `id`, formatted, read from its report directory.
fn median(id: &str) -> Option<String> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let text = std::fs::read_to_string(format!("{dir}/criterion/{id}/new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let ns = json["median"]["point_estimate"].as_f64()?;
    Some(if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    })
}
