//! What LocalStorage holds of the active cart, so an edit writes its own change and nothing else.
//!
//! A cart is stored as a snapshot, `doc:<cart>` (base64 of a full save: the layout every release reads), and the
//! incremental saves made since, one key each: `inc:<cart>:<id>` (base64, a random id per write, so two tabs
//! writing at the same moment never overwrite each other's). An edit writes one small key, whatever the history:
//! LocalStorage's `setItem` costs as much as the value it writes (0.34 ms for 64 KiB in Chromium against 0.03 ms
//! for 2 KiB, BENCHMARKS.md), so re-writing the document on every edit is what made long-lived carts slow. Once
//! the increments weigh as much as the snapshot (at least [`MIN_COMPACT_BYTES`]) a compaction is due: a full save
//! replaces the snapshot and the increments it covers are removed, at an idle moment (`client::schedule_compaction`),
//! never inside an edit. automerge-repo compacts by the same rule; the server does too (`worker/src/store.rs`).
//!
//! A replica removes only the increments it has read or written itself: one another tab wrote a moment ago, and
//! this tab has not read yet, stays until a replica that has read it compacts. A release from before increments
//! reads the snapshot alone; the edits in increments come back, merged, when this release loads again.
//!
//! No JS here: the unit tests run natively.

/// Increments below this size never make a compaction due, whatever the snapshot's size.
pub const MIN_COMPACT_BYTES: usize = 4096;

/// What this replica knows storage holds of its cart.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Persisted {
    /// The size of the stored snapshot in bytes; `None` until one is written or read: the next write is then a
    /// full save.
    snapshot: Option<usize>,
    /// A digest of the stored snapshot's text, to tell whether another tab replaced it since (then it is merged
    /// before this replica writes its own over it).
    digest: u64,
    /// The increments this replica wrote or read since that snapshot: storage name and size in bytes.
    increments: Vec<(String, usize)>,
}

/// A digest of a stored text (not cryptographic: it only tells this replica's own snapshot from another's).
pub fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl Persisted {
    /// Storage as read: a snapshot of `snapshot` bytes (if one was readable) from `text`, and these increments.
    pub fn read(
        snapshot: Option<usize>,
        increments: Vec<(String, usize)>,
        text: Option<&str>,
    ) -> Self {
        Persisted {
            snapshot,
            digest: text.map_or(0, digest),
            increments,
        }
    }

    /// Whether `text` is the snapshot this replica last wrote or read.
    pub fn is_known_snapshot(&self, text: &str) -> bool {
        self.snapshot.is_some() && self.digest == digest(text)
    }

    /// Whether a snapshot is known to be stored (else the next write must be a full save).
    pub fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The next write must be a full save (the last one failed, or storage holds something else now).
    pub fn want_full_save(&mut self) {
        self.snapshot = None;
    }

    /// An increment written or read under `name`.
    pub fn add_increment(&mut self, name: String, len: usize) {
        if !self.increments.iter().any(|(n, _)| *n == name) {
            self.increments.push((name, len));
        }
    }

    /// An increment another replica removed (its changes are in the snapshot that replica wrote).
    pub fn forget_increment(&mut self, name: &str) {
        self.increments.retain(|(n, _)| n != name);
    }

    /// Keeps only the increments `still_stored` says are there, after another replica replaced the snapshot (of
    /// `snapshot` bytes) and removed the increments it had covered.
    pub fn replaced_snapshot(
        &mut self,
        snapshot: usize,
        text: &str,
        still_stored: impl Fn(&str) -> bool,
    ) {
        self.snapshot = Some(snapshot);
        self.digest = digest(text);
        self.increments.retain(|(n, _)| still_stored(n));
    }

    /// A full save of `snapshot` bytes was stored as `text`: returns the increments it covers, for the caller to
    /// remove.
    pub fn compacted(&mut self, snapshot: usize, text: &str) -> Vec<String> {
        self.snapshot = Some(snapshot);
        self.digest = digest(text);
        self.increments.drain(..).map(|(n, _)| n).collect()
    }

    /// Whether the increments have grown to the snapshot's size (and at least [`MIN_COMPACT_BYTES`]).
    pub fn compaction_due(&self) -> bool {
        self.snapshot
            .is_some_and(|snapshot| self.increment_bytes() >= snapshot.max(MIN_COMPACT_BYTES))
    }

    pub fn increment_bytes(&self) -> usize {
        self.increments.iter().map(|(_, len)| len).sum()
    }

    pub fn increment_names(&self) -> impl Iterator<Item = &str> {
        self.increments.iter().map(|(n, _)| n.as_str())
    }
}

/// The storage name of an increment of the cart `cart_key` (`guest:<id>` or `user:<sub>`).
pub fn increment_name(cart_key: &str, id: &str) -> String {
    format!("inc:{cart_key}:{id}")
}

/// Whether `name` is the storage name of an increment of the cart `cart_key`. The id is `[A-Za-z0-9_-]+`, so a
/// user id containing `:` cannot pass for another user's increment.
pub fn is_increment_of(cart_key: &str, name: &str) -> bool {
    name.strip_prefix("inc:")
        .and_then(|rest| rest.strip_prefix(cart_key))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_is_due_once_the_increments_weigh_as_much_as_the_snapshot() {
        let mut small = Persisted::read(Some(100), Vec::new(), Some("s"));
        small.add_increment("inc:a:1".into(), 4000);
        assert!(!small.compaction_due(), "below the floor");
        small.add_increment("inc:a:2".into(), 96);
        assert!(small.compaction_due(), "at the floor");

        let mut large = Persisted::read(Some(10_000), Vec::new(), Some("s"));
        large.add_increment("inc:a:1".into(), 9_999);
        assert!(!large.compaction_due());
        large.add_increment("inc:a:1".into(), 9_999);
        assert!(
            !large.compaction_due(),
            "the same increment read twice counts once"
        );
        large.add_increment("inc:a:2".into(), 1);
        assert!(large.compaction_due());
        assert_eq!(large.compacted(12_000, "t"), ["inc:a:1", "inc:a:2"]);
        assert!(large.is_known_snapshot("t") && !large.is_known_snapshot("s"));
        assert!(!large.compaction_due());
        assert_eq!(large.increment_bytes(), 0);
    }

    #[test]
    fn without_a_stored_snapshot_the_next_write_is_a_full_save_and_no_compaction_is_due() {
        let mut p = Persisted::default();
        assert!(!p.has_snapshot());
        p.add_increment("inc:a:1".into(), 1 << 20);
        assert!(!p.compaction_due());
        p = Persisted::read(Some(10), Vec::new(), Some("s"));
        assert!(p.has_snapshot());
        p.want_full_save();
        assert!(!p.has_snapshot());
    }

    #[test]
    fn another_replicas_compaction_leaves_only_the_increments_still_stored() {
        let mut p = Persisted::read(Some(10), Vec::new(), Some("s"));
        p.add_increment("inc:a:1".into(), 5);
        p.add_increment("inc:a:2".into(), 6);
        p.add_increment("inc:a:3".into(), 7);
        p.forget_increment("inc:a:1");
        assert!(p.is_known_snapshot("s"));
        p.replaced_snapshot(50, "theirs", |n| n == "inc:a:3");
        assert!(p.is_known_snapshot("theirs") && !p.is_known_snapshot("s"));
        assert_eq!(p.increment_names().collect::<Vec<_>>(), ["inc:a:3"]);
        assert_eq!(p.increment_bytes(), 7);
        assert!(p.has_snapshot());
    }

    #[test]
    fn increment_names_belong_to_one_cart_only() {
        let name = increment_name("user:a", "x1_-Z");
        assert_eq!(name, "inc:user:a:x1_-Z");
        assert!(is_increment_of("user:a", &name));
        assert!(!is_increment_of("user:a:b", &name));
        // The increment of user `a:b` is not one of user `a`'s.
        assert!(!is_increment_of(
            "user:a",
            &increment_name("user:a:b", "x1")
        ));
        assert!(!is_increment_of("user:a", "inc:user:a:"));
        assert!(!is_increment_of("user:a", "doc:user:a"));
    }
}
