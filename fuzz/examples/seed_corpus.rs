//! Writes the starting corpus of every fuzz target into `fuzz/corpus/<target>/`: real documents, changes, sync
//! messages, request bodies and storage records, so the fuzzer starts from inputs that reach deep into each
//! decoder. `make fuzz` runs it before fuzzing; the committed corpus is the minimised result of both.
//!
//! `cargo run -p cart-fuzz --example seed_corpus`

use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::STANDARD, Engine};
use cart_core::{ActorId, Cart, MergePolicy, SyncState};

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut out = Out { root, n: 0 };

    // Documents: empty, small, full, with a login merge, with removals.
    let docs = sample_documents();
    for doc in &docs {
        out.write("load_document", doc)?;
        out.write(
            "local_storage",
            &[&[0u8][..], STANDARD.encode(doc).as_bytes()].concat(),
        )?;
    }

    // Incremental changes on top of the fuzz targets' sample cart history and on their own.
    let mut cart = Cart::with_actor(ActorId::from([9u8; 16]));
    cart.save();
    for (i, sku) in ["MUG-1", "NEW-1", "CAP"].iter().enumerate() {
        cart.add(sku, i as u32 + 1).expect("valid edit");
        let change = cart.save_incremental();
        out.write("load_incremental", &change)?;
        out.write(
            "local_storage",
            &[&[3u8][..], STANDARD.encode(&change).as_bytes()].concat(),
        )?;
    }
    cart.remove("CAP").expect("valid edit");
    out.write("load_incremental", &cart.save_incremental())?;

    // A snapshot with its increments, as the browser library stores a cart (parts split by U+001F).
    let mut stored = Cart::with_actor(ActorId::from([8u8; 16]));
    stored.add("TEA", 1).expect("valid edit");
    let mut parts = vec![STANDARD.encode(stored.save())];
    for (i, sku) in ["CUP", "MUG-1", "TEA"].iter().enumerate() {
        stored.set_quantity(sku, i as u32 + 2).expect("valid edit");
        parts.push(STANDARD.encode(stored.save_incremental()));
    }
    out.write(
        "local_storage",
        &[&[3u8][..], parts.join("\u{1f}").as_bytes()].concat(),
    )?;
    // The same increments with no snapshot, and in the reverse order.
    let reversed: Vec<&str> = parts[1..].iter().rev().map(String::as_str).collect();
    out.write(
        "local_storage",
        &[
            &[3u8][..],
            format!("\u{1f}{}", reversed.join("\u{1f}")).as_bytes(),
        ]
        .concat(),
    )?;
    out.write("load_incremental", &docs[1])?;

    // Sync messages: a first message, one carrying changes, one answering.
    let (mut a, mut b) = (Cart::new(), Cart::new());
    a.add("MUG-1", 2).expect("valid edit");
    b.add("TEE-M", 1).expect("valid edit");
    let (mut sa, mut sb) = (SyncState::new(), SyncState::new());
    for _ in 0..4 {
        if let Some(m) = a.generate_sync_message(&mut sa) {
            out.write("receive_sync", &m)?;
            b.receive_sync_message(&mut sb, &m).expect("a real message");
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            out.write("receive_sync", &m)?;
            a.receive_sync_message(&mut sa, &m).expect("a real message");
        }
    }

    // Request bodies: the first byte picks the parser (see cart_fuzz::request_body).
    let bodies: &[(u8, &str)] = &[
        (0, r#"{"sku":"MUG-1","qty":2}"#),
        (0, r#"{"sku":"MUG-1"}"#),
        (0, r#"{"sku":"bad sku","qty":-1}"#),
        (0, r#"{"sku":"X","qty":1.5,"extra":true}"#),
        (
            0,
            r#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
        ),
        (1, "MUG-1\u{0}{\"qty\":3,\"selected\":false}"),
        (1, "MUG-1\u{0}{}"),
        (1, "\u{0}{\"qty\":99999999999}"),
        (
            2,
            r#"{"guestCartId":"AAAAAAAAAAAAAAAAAAAAAA","policy":"sum"}"#,
        ),
        (2, r#"{"guestCartId":"short","policy":"most"}"#),
        (3, r#"{"userId":"alice"}"#),
        (3, r#"{"userId":""}"#),
        (
            4,
            r#"{"from":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        ),
        (5, ""),
        (5, r#"{"removeCheckedOut":true}"#),
        (6, "AAAAAAAAAAAAAAAAAAAAAA"),
        (7, "co_AAAAAAAAAAAAAAAAAAAAAA"),
    ];
    for (pick, body) in bodies {
        out.write("request_body", &[&[*pick][..], body.as_bytes()].concat())?;
    }

    // Storage records: heads lists and session fields (separated by U+001F).
    let heads: Vec<String> = docs
        .iter()
        .filter_map(|d| Cart::load(d).ok())
        .flat_map(|c| c.heads())
        .map(|h| h.to_string())
        .collect();
    out.write(
        "local_storage",
        &[&[1u8][..], heads.join(",").as_bytes()].concat(),
    )?;
    out.write("local_storage", b"\x01zz,00,")?;
    for fields in [
        "guest\u{1f}AAAAAAAAAAAAAAAAAAAAAA",
        "user\u{1f}\u{1f}alice\u{1f}a.b.c",
        "robot",
    ] {
        out.write("local_storage", &[&[2u8][..], fields.as_bytes()].concat())?;
    }
    println!("wrote {} seed inputs under {}", out.n, out.root.display());
    Ok(())
}

fn sample_documents() -> Vec<Vec<u8>> {
    let mut docs = Vec::new();
    let mut cart = Cart::with_actor(ActorId::from([1u8; 16]));
    docs.push(cart.save());
    cart.add("MUG-1", 2).expect("valid edit");
    cart.add("TEE-M", 1).expect("valid edit");
    docs.push(cart.save());
    let mut guest = Cart::with_actor(ActorId::from([2u8; 16]));
    guest.add("MUG-1", 5).expect("valid edit");
    guest.add("CAP", 1).expect("valid edit");
    cart.merge_guest(&guest, "guest", MergePolicy::Max)
        .expect("a valid merge");
    cart.set_selected("CAP", false).expect("the line exists");
    cart.set_quantity("TEE-M", 4).expect("valid edit");
    cart.remove("MUG-1").expect("valid edit");
    docs.push(cart.save());
    let mut full = Cart::with_actor(ActorId::from([3u8; 16]));
    for i in 0..120 {
        full.add(&format!("SKU-{i}"), 1 + i % 3)
            .expect("valid edit");
    }
    docs.push(full.save());
    docs
}

struct Out {
    root: PathBuf,
    n: usize,
}

impl Out {
    fn write(&mut self, target: &str, data: &[u8]) -> std::io::Result<()> {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir)?;
        // Named by content, like libFuzzer's own corpus files, so reruns do not duplicate.
        let name = format!("seed-{:016x}", fnv1a(data));
        std::fs::write(dir.join(name), data)?;
        self.n += 1;
        Ok(())
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}
