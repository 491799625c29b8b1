//! Writes the golden documents of every cart layout so far into `core/tests/fixtures/`, one schedule in each:
//! `cargo run -p cart-core --example layout_fixtures`. Stored carts are never rewritten, so these files are
//! committed once and only read afterwards (`tests/layouts.rs`); run this only to add the next layout's file.
//!
//! The schedule, on two replicas: add 2 MUG-1, add 1 MUG-1; then replica B (forked here) adds 1 MUG-1 while
//! replica A sets MUG-1 to 5, adds and removes TEE, adds 3 CAP and deselects it. Each file is a document (after
//! the first two adds) followed by the rest as incremental changes, as a Durable Object stores a cart.

use automerge::{transaction::Transactable, ActorId, Automerge, ObjId, ReadDoc, ScalarValue, ROOT};
use cart_core::Cart;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(&dir)?;
    type Make = fn() -> Result<Vec<u8>, Box<dyn std::error::Error>>;
    let files: [(&str, Make); 5] = [
        ("layout-1.cart", layout_1),
        ("layout-2.cart", layout_2),
        ("layout-2-merged.cart", layout_2_merged),
        ("layout-2-guest.cart", layout_2_guest),
        ("layout-3.cart", layout_3),
    ];
    // Stored carts are never rewritten: only a missing file is written (a new layout's, or after a deletion).
    for (name, make) in files {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, make()?)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// The layout before 2026-12-01: adds appended as `"<n> <sku>"`; a set or remove deleted every add of the sku it
/// saw and wrote `base = n`.
fn layout_1() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let genesis = Cart::with_actor(ActorId::from([0x11; 16])).encode();
    let mut a = Automerge::load(&genesis)?.with_actor(ActorId::from([0x11; 16]));
    let obj = |doc: &Automerge, key: &str| -> Result<ObjId, Box<dyn std::error::Error>> {
        Ok(doc.get(ROOT, key)?.ok_or("a genesis container")?.1)
    };
    let (adds, base, selected, added_at) = (
        obj(&a, "adds")?,
        obj(&a, "base")?,
        obj(&a, "selected")?,
        obj(&a, "addedAt")?,
    );
    let append = |doc: &mut Automerge, text: &str| -> Result<(), Box<dyn std::error::Error>> {
        let mut tx = doc.transaction();
        let end = tx.length(&adds);
        tx.insert(&adds, end, text)?;
        tx.commit();
        Ok(())
    };
    let start =
        |doc: &mut Automerge, sku: &str, at: i64| -> Result<(), Box<dyn std::error::Error>> {
            let mut tx = doc.transaction();
            tx.put(&selected, sku, true)?;
            tx.put(&added_at, sku, ScalarValue::Timestamp(at))?;
            tx.commit();
            Ok(())
        };
    let set = |doc: &mut Automerge, sku: &str, n: u64| -> Result<(), Box<dyn std::error::Error>> {
        let seen: Vec<usize> = doc
            .values(&adds)
            .enumerate()
            .filter(|(_, (v, _))| v.as_str().is_some_and(|s| s.split(' ').nth(1) == Some(sku)))
            .map(|(i, _)| i)
            .collect();
        let mut tx = doc.transaction();
        for i in seen.into_iter().rev() {
            tx.delete(&adds, i)?;
        }
        tx.put(&base, sku, n)?;
        tx.commit();
        Ok(())
    };
    append(&mut a, "2 MUG-1")?;
    start(&mut a, "MUG-1", 1_000)?;
    append(&mut a, "1 MUG-1")?;
    let mut stored = a.save();
    let snapshot_heads = a.get_heads();
    let mut b = a.fork().with_actor(ActorId::from([0x22; 16]));
    append(&mut b, "1 MUG-1")?;
    set(&mut a, "MUG-1", 5)?;
    append(&mut a, "1 TEE")?;
    start(&mut a, "TEE", 2_000)?;
    set(&mut a, "TEE", 0)?;
    append(&mut a, "3 CAP")?;
    start(&mut a, "CAP", 3_000)?;
    let mut tx = a.transaction();
    tx.put(&selected, "CAP", false)?;
    tx.commit();
    a.merge(&mut b)?;
    stored.extend(a.save_after(&snapshot_heads));
    Ok(stored)
}

/// The layout of 2026-12-01 (today's `Cart` for carts without login merges): adds inserted at the head, `"<sku>"` for one; a set writes
/// `base = n + 1000 * seen` and deletes no add.
fn layout_2() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut a = Cart::with_actor(ActorId::from([0x11; 16]));
    a.set_clock(|| 1_000);
    a.add("MUG-1", 2)?;
    a.add("MUG-1", 1)?;
    let mut stored = a.save();
    let mut b = Cart::load(&stored)?;
    b.set_actor(ActorId::from([0x22; 16]));
    b.add("MUG-1", 1)?;
    a.set_quantity("MUG-1", 5)?;
    a.set_clock(|| 2_000);
    a.add("TEE", 1)?;
    a.remove("TEE")?;
    a.set_clock(|| 3_000);
    a.add("CAP", 3)?;
    a.set_selected("CAP", false)?;
    a.merge(&b)?;
    stored.extend(a.save_incremental());
    Ok(stored)
}

/// The guest cart of `layout-2-merged.cart`, at the state that was merged: MUG-1 3, HAT 1 (actor 0x33, clock 500).
fn layout_2_guest() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut guest = Cart::with_actor(ActorId::from([0x33; 16]));
    guest.set_clock(|| 500);
    guest.add("MUG-1", 3)?;
    guest.add("HAT", 1)?;
    Ok(guest.save())
}

/// A user's cart with a layout-2 login merge, written as layout 2's `merge_guest` wrote it: the user had MUG-1 2;
/// the guest (`layout-2-guest.cart`) was merged with `max`, contributing `merges["<sku>/<tag>"]` = 1 MUG-1 and 1
/// HAT (a new line, with the guest's selection and time), and `merged[tag]` = the guest's heads.
fn layout_2_merged() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut user = Cart::with_actor(ActorId::from([0x11; 16]));
    user.set_clock(|| 1_000);
    user.add("MUG-1", 2)?;
    let guest = Cart::load(&layout_2_guest()?)?;
    let mut heads = guest.heads();
    heads.sort();
    let tag = heads
        .iter()
        .map(|h| h.to_string()[..12].to_owned())
        .collect::<Vec<_>>()
        .join(".");
    let text = heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut stored = user.save();
    let mut doc = Automerge::load(&stored)?.with_actor(ActorId::from([0x11; 16]));
    let obj = |doc: &Automerge, key: &str| -> Result<ObjId, Box<dyn std::error::Error>> {
        Ok(doc.get(ROOT, key)?.ok_or("a genesis container")?.1)
    };
    let (merges, merged, selected, added_at) = (
        obj(&doc, "merges")?,
        obj(&doc, "merged")?,
        obj(&doc, "selected")?,
        obj(&doc, "addedAt")?,
    );
    let heads_before = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(&merges, format!("MUG-1/{tag}"), 1u64)?;
    tx.put(&merges, format!("HAT/{tag}"), 1u64)?;
    tx.put(&selected, "HAT", true)?;
    tx.put(&added_at, "HAT", ScalarValue::Timestamp(500))?;
    tx.put(&merged, tag.as_str(), text.as_str())?;
    tx.commit();
    stored.extend(doc.save_after(&heads_before));
    Ok(stored)
}

/// Layout 3 (since 2026-12-02): login merges are records. The user (0x11) has MUG-1 2; another device (0x22) adds
/// 1 MUG-1 concurrently with the user's `max` merge of a guest (0x33: MUG-1 3, CAP 1 at clock 2_000); then the user
/// sets CAP to 4, a set that saw the record.
fn layout_3() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut a = Cart::with_actor(ActorId::from([0x11; 16]));
    a.set_clock(|| 1_000);
    a.add("MUG-1", 2)?;
    let mut stored = a.save();
    let mut b = Cart::load(&stored)?;
    b.set_actor(ActorId::from([0x22; 16]));
    b.add("MUG-1", 1)?;
    let mut guest = Cart::with_actor(ActorId::from([0x33; 16]));
    guest.set_clock(|| 2_000);
    guest.add("MUG-1", 3)?;
    guest.add("CAP", 1)?;
    a.merge_guest(&guest, "the-guest-cart", cart_core::MergePolicy::Max)?;
    a.set_quantity("CAP", 4)?;
    a.merge(&b)?;
    stored.extend(a.save_incremental());
    Ok(stored)
}
