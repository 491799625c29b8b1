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
    std::fs::write(dir.join("layout-1.cart"), layout_1()?)?;
    std::fs::write(dir.join("layout-2.cart"), layout_2()?)?;
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

/// The layout since 2026-12-01 (today's `Cart`): adds inserted at the head, `"<sku>"` for one; a set writes
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
