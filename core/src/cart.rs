//! The [`Cart`] type: a cart document with its typed operations, persistence and sync.

use automerge::{
    sync::{self, SyncDoc},
    transaction::{CommitOptions, Transaction},
    ActorId, Automerge, ChangeHash, ReadDoc,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

use crate::chunks;
use crate::guard::{self, Clocks};
use crate::schema::{self, Containers, RawLine};
use crate::unwind::{self, Panicked};
use crate::view::{CartView, Line};

/// A clock giving milliseconds since the Unix epoch. Hosts pass their own (`Date.now` in JS).
pub type Clock = fn() -> i64;

/// The default clock: the system clock natively; on wasm32, where `std` has no clock, always 0, so hosts must call
/// [`Cart::set_clock`].
pub fn system_clock() -> i64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    #[cfg(target_arch = "wasm32")]
    {
        0
    }
}

/// Why bytes could not be loaded into a cart. The cart is unchanged whenever one of these is returned.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The bytes are not a valid Automerge document or change set (truncated, corrupt, garbage).
    #[error("not a valid Automerge encoding: {0}")]
    Malformed(#[from] automerge::AutomergeError),
    /// The bytes are a valid Automerge document, but not one laid out as a cart.
    #[error("the document is not a cart (its schema change is missing)")]
    NotACart,
    /// A change breaks the cart layout's rules (see `guard.rs`): forged, or written by something that is not a
    /// cart replica.
    #[error("a change was refused: {0}")]
    InvalidChange(#[from] crate::guard::InvalidChange),
    /// The bytes hold an Automerge bundle chunk, which carts never use (and Automerge 0.12 cannot parse safely).
    #[error("Automerge bundle chunks are not accepted")]
    Bundle,
    /// A chunk is truncated, of an unknown type, or a change that does not parse.
    #[error("not a valid Automerge chunk: {0}")]
    Chunk(String),
    /// A change names an actor none of whose earlier changes are known (a forged or out-of-order change).
    #[error("a change names actor {0}, whose earlier changes are missing")]
    UnknownActor(String),
    /// Automerge panicked on the bytes (see `unwind.rs`): refused, and the cart is [poisoned](Cart::poisoned).
    #[error("{0}")]
    Panicked(#[from] Panicked),
}

/// Why a sync message was refused. The cart and the sync state are unchanged whenever one of these is returned.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The bytes are not an Automerge sync message.
    #[error("not an Automerge sync message: {0}")]
    Malformed(String),
    /// The message decoded but one of its changes breaks the cart layout's rules (see `guard.rs`): forged, or
    /// written by something that is not a cart replica.
    #[error("the sync message carries a refused change: {0}")]
    InvalidChange(crate::guard::InvalidChange),
    /// The message decoded but its changes could not be applied (for example a reused sequence number).
    #[error("the sync message's changes were refused: {0}")]
    Rejected(#[from] automerge::AutomergeError),
    /// Automerge panicked on the message (see `unwind.rs`): refused, and the cart is [poisoned](Cart::poisoned)
    /// (the sync state is unchanged).
    #[error("{0}")]
    Panicked(Panicked),
}

impl From<Panicked> for SyncError {
    fn from(p: Panicked) -> Self {
        SyncError::Panicked(p)
    }
}

/// Why an encoded sync state could not be decoded.
#[derive(Debug, Error)]
#[error("not an encoded sync state: {0}")]
pub struct SyncStateError(String);

/// Per-peer state of the Automerge sync protocol. Keep one per connection; persist it with [`SyncState::encode`]
/// to resume cheaply with a peer seen before.
#[derive(Debug, Clone, Default)]
pub struct SyncState(pub(crate) sync::State, u64);

impl SyncState {
    /// A fresh state, for a peer not seen before.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes the part of the state worth keeping between connections.
    pub fn encode(&self) -> Vec<u8> {
        self.0.encode()
    }

    /// The heads the peer last told us it has, if it has spoken yet.
    pub fn peer_heads(&self) -> Option<Vec<ChangeHash>> {
        self.0.their_heads.clone()
    }

    /// Decodes a state made by [`SyncState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncStateError> {
        unwind::contain(|| sync::State::decode(bytes))
            .map_err(|p| SyncStateError(p.to_string()))?
            .map(|state| SyncState(state, 0))
            .map_err(|e| SyncStateError(e.to_string()))
    }
}

/// A peer whose heads are this document's holds every change it has: what the peer has is then summarised by those
/// heads. Automerge keeps the peer's last Bloom filter instead, and a peer that started from nothing (a server on a
/// new socket) sent one over the whole history, so the first message after the next edit would test every change
/// against it (4 ms at 10,000 edits natively, against 12 us once summarised). Only the summary of what the peer
/// has changes; what it said it needs is kept.
fn summarise_a_caught_up_peer(doc: &Automerge, state: &mut sync::State) {
    let ours = doc.get_heads();
    let caught_up = state.their_heads.as_ref().is_some_and(|theirs| {
        let mut theirs = theirs.clone();
        theirs.sort();
        theirs == ours
    });
    if caught_up {
        state.their_have = Some(vec![sync::Have {
            last_sync: ours,
            bloom: sync::BloomFilter::default(),
        }]);
    }
}

/// The lines as read at some heads, kept to skip re-reading an unchanged document.
type LineCache = (Vec<ChangeHash>, BTreeMap<String, RawLine>);

/// A shopping cart: an Automerge document with the cart's layout (see the `schema` module) and typed operations.
///
/// ```
/// use cart_core::Cart;
/// let mut phone = Cart::new();
/// phone.add("MUG-1", 2)?;
/// let mut laptop = Cart::load(&phone.save())?;
/// laptop.add("MUG-1", 1)?; // concurrent with the next line
/// phone.add("MUG-1", 1)?;
/// phone.merge(&laptop)?;
/// assert_eq!(phone.view().qty("MUG-1"), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Cart {
    pub(crate) doc: Automerge,
    pub(crate) containers: Containers,
    pub(crate) clock: Clock,
    /// Heads at the last full or incremental save, for [`Cart::save_incremental`].
    saved_heads: Vec<ChangeHash>,
    /// The lines as of the heads stored with them. Local edits update it in place, so an edit and the view after
    /// it cost the same however long the history; anything else that moves the heads makes it stale.
    cache: RefCell<Option<LineCache>>,
    /// Every author of the document with its last change, computed when first needed and kept up to date, for
    /// the check every received change passes (`chunks.rs`, `guard.rs`).
    clocks: RefCell<Option<Clocks>>,
    /// Received changes waiting for their dependencies, kept out of Automerge (see `chunks::check_changes`) and
    /// checked again with the next input. Not saved: sync brings them again.
    pending: Vec<automerge::Change>,
    /// Changes whenever kept changes are dropped (and is random after a load). A peer had sent them and will not
    /// send them again unless told to forget what it sent: a sync state whose copy differs tells its peer so once
    /// (`SYNC_RESET`).
    drops: u64,
    /// Automerge panicked inside a call that may have changed this cart (see [`Cart::poisoned`]).
    poisoned: bool,
    /// An add was deleted somewhere in the history (a layout-1 writer's set), so lines are read exactly
    /// (`schema::history_deletes_adds`). Found at load, and kept up to date from the changes received.
    pub(crate) adds_deleted: bool,
}

impl std::fmt::Debug for Cart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cart")
            .field("actor", &self.doc.get_actor().to_hex_string())
            .field("heads", &self.doc.get_heads())
            .finish()
    }
}

impl Default for Cart {
    fn default() -> Self {
        Self::new()
    }
}

impl Cart {
    /// An empty cart with a random actor id. On wasm32 this needs randomness: call it inside a request handler.
    pub fn new() -> Self {
        Self::with_actor(new_actor())
    }

    /// An empty cart whose edits carry `actor` (16 bytes is usual). Tests use fixed actors for reproducibility.
    pub fn with_actor(actor: ActorId) -> Self {
        Self::from_doc(schema::genesis(actor))
    }

    fn from_doc(doc: Automerge) -> Self {
        Cart {
            doc,
            containers: Containers::fixed(),
            clock: system_clock,
            saved_heads: Vec::new(),
            cache: RefCell::new(None),
            clocks: RefCell::new(None),
            pending: Vec::new(),
            drops: 0,
            poisoned: false,
            adds_deleted: false,
        }
    }

    /// Loads a cart from the output of [`Cart::save`] (optionally followed by incremental saves).
    ///
    /// Fails, never panics, on bytes that are truncated, corrupt or not a cart.
    pub fn load(bytes: &[u8]) -> Result<Self, LoadError> {
        let (doc, pending) = unwind::contain(|| chunks::checked_load(bytes))??;
        if !unwind::contain(|| schema::is_cart(&doc))? {
            return Err(LoadError::NotACart);
        }
        let doc = doc.with_actor(new_actor());
        let containers = Containers::fixed();
        let adds_deleted = unwind::contain(|| schema::history_deletes_adds(&doc, &containers))?;
        let mut cart = Self::from_doc(doc);
        cart.adds_deleted = adds_deleted;
        // A reloaded cart has lost whatever it kept aside before: its peers (whose sync states a host may keep
        // across the reload) must be told once to send again, so this cart's drop count starts apart from theirs.
        cart.drops =
            u64::from_le_bytes(new_actor().to_bytes()[..8].try_into().unwrap_or([1; 8])) | 1;
        cart.keep_pending(pending);
        cart.saved_heads = cart.doc.get_heads();
        Ok(cart)
    }

    /// Sets the clock used to stamp new lines' `added_at`.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Changes the actor id used for this replica's future edits.
    pub fn set_actor(&mut self, actor: ActorId) {
        self.doc.set_actor(actor);
    }

    /// Saves the whole document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        self.saved_heads = self.doc.get_heads();
        self.doc.save()
    }

    /// The whole document, compacted, without marking it saved: for sending a copy elsewhere (a login merge, a
    /// share) while [`Cart::save_incremental`] keeps tracking what storage has.
    pub fn encode(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// Saves the changes made or received since the last [`Cart::save`] or [`Cart::save_incremental`]; empty when
    /// there are none. Concatenating a full save with all later incremental saves loads to the same cart.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        let heads = self.doc.get_heads();
        if heads == self.saved_heads {
            return Vec::new();
        }
        // The common case, one local edit on top of the last save, needs no walk of the change graph.
        if let Some(change) = self.doc.get_last_local_change() {
            let mut deps = change.deps().to_vec();
            deps.sort();
            if heads == [change.hash()] && deps == self.saved_heads {
                self.saved_heads = heads;
                return change.raw_bytes().to_vec();
            }
        }
        let bytes = self.doc.save_after(&self.saved_heads);
        self.saved_heads = heads;
        bytes
    }

    /// Saves the changes this cart has beyond `heads` (what storage is known to hold, e.g. after another writer
    /// replaced it) and takes them as saved, so the next [`Cart::save_incremental`] follows on from here. Empty when
    /// this cart has nothing beyond `heads`. Heads this cart does not hold are ignored.
    pub fn save_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        let known: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        self.saved_heads = self.doc.get_heads();
        self.doc.save_after(&known)
    }

    /// A sync state for a peer that acknowledged `heads` before (the heads a host kept from the peer's last
    /// message): the first messages then summarise only the changes after the ones this cart holds of them, not the
    /// whole history, so resuming with a server costs the same at any history length. Heads this cart does not hold
    /// (announced, but their changes never arrived) are left out: claiming them would make the peer skip changes
    /// this cart lacks. A peer that no longer has them answers with the protocol's reset, and everything is offered
    /// again.
    pub fn resume_sync(&self, heads: &[ChangeHash]) -> SyncState {
        let mut state = SyncState::default();
        state.0.shared_heads = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        state.0.shared_heads.sort();
        state
    }

    /// How many received changes are kept aside, waiting for a change they depend on (not in the document).
    pub fn kept_aside(&self) -> usize {
        self.pending.len()
    }

    /// Whether every change in `bytes` (incremental saves, as [`Cart::save_incremental`] writes them) is part of
    /// this cart's document, not merely kept aside waiting for a change it depends on: a host may then drop its own
    /// copy of those bytes once it has stored the whole cart. False for a full save and for anything unreadable.
    pub fn holds(&self, bytes: &[u8]) -> bool {
        unwind::contain(|| match chunks::split(bytes) {
            Ok(pieces) => {
                !pieces.is_empty()
                    && pieces.iter().all(|piece| match piece {
                        chunks::Piece::Change(change) => {
                            self.doc.get_change_by_hash(&change.hash()).is_some()
                        }
                        chunks::Piece::Document(_) => false,
                    })
            }
            Err(_) => false,
        })
        .unwrap_or(false)
    }

    /// Whether the cart's only change since it was at `heads` is one local edit made on top of them: a peer that
    /// lacked n of this cart's changes then lacks n + 1 now, known without walking the history.
    pub fn is_one_local_change_after(&self, heads: &[ChangeHash]) -> bool {
        let Some(change) = self.doc.get_last_local_change() else {
            return false;
        };
        let mut deps = change.deps().to_vec();
        deps.sort();
        let mut before = heads.to_vec();
        before.sort();
        self.doc.get_heads() == [change.hash()] && deps == before
    }

    /// Applies saved bytes (a full save or incremental saves) from another replica of this cart.
    ///
    /// All or nothing: if any part of `bytes` is malformed, nothing is applied and the cart is unchanged.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        let contained = unwind::contain(|| self.checked_load_incremental(bytes));
        self.poison_on(contained)
    }

    fn checked_load_incremental(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        // Automerge applies the valid prefix of a partly corrupt buffer, so every chunk is parsed and checked
        // first, and the bytes are applied to a copy that replaces the document only if all of them applied.
        let pieces = chunks::split(bytes)?;
        let checked = self.check_changes(&pieces)?;
        let mut candidate = self.doc.clone();
        if checked.exact {
            candidate.load_incremental(bytes)?;
        } else {
            candidate.load_incremental(&checked.bytes())?;
        }
        self.doc = candidate;
        self.applied(checked);
        Ok(())
    }

    /// Takes every change of `other` this cart lacks, through the same checks as [`Cart::load_incremental`].
    pub fn merge(&mut self, other: &Cart) -> Result<(), LoadError> {
        let bytes: Vec<u8> = unwind::contain(|| {
            self.doc
                .get_changes_added(&other.doc)
                .iter()
                .flat_map(|c| c.raw_bytes().to_vec())
                .collect()
        })?;
        self.load_incremental(&bytes)
    }

    /// Whether Automerge panicked inside a call that may have changed this cart, on input from outside (an error
    /// `Panicked` said so; see `unwind.rs`). A poisoned cart may hold part of that input: drop it and load the
    /// copy in storage again, which never saw the input. The hosts do (the worker's Durable Object, the browser
    /// library); nothing the cart-core tests or fuzzers ever sent has poisoned one.
    pub fn poisoned(&self) -> bool {
        self.poisoned
    }

    /// The result of a contained call that may have changed the cart; a panic poisons it.
    pub(crate) fn poison_on<T, E: From<Panicked>>(
        &mut self,
        contained: Result<Result<T, E>, Panicked>,
    ) -> Result<T, E> {
        contained.unwrap_or_else(|panicked| {
            self.poisoned = true;
            // Whatever the caches held may describe the half-applied document.
            *self.cache.get_mut() = None;
            *self.clocks.get_mut() = None;
            Err(panicked.into())
        })
    }

    /// Runs `f` on every author of the document with its last change (computed once, then kept up to date).
    pub(crate) fn with_clocks<T>(&self, f: impl FnOnce(&Clocks) -> T) -> T {
        let mut clocks = self.clocks.borrow_mut();
        f(clocks.get_or_insert_with(|| chunks::clocks(&self.doc)))
    }

    /// Refuses changes that name actors the document does not know or break the cart layout (see `chunks.rs`).
    fn check_changes(&self, pieces: &[chunks::Piece<'_>]) -> Result<chunks::Checked, LoadError> {
        let mut clocks = self.clocks.borrow_mut();
        let clocks = clocks.get_or_insert_with(|| chunks::clocks(&self.doc));
        let known = chunks::Known {
            doc: &self.doc,
            clocks,
        };
        chunks::check_changes(pieces, &self.pending, &known)
    }

    /// Keeps `waiting` aside, at most [`MAX_PENDING`] changes and [`MAX_PENDING_BYTES`] (the oldest go first;
    /// peers are told to send again what they sent).
    fn keep_pending(&mut self, mut waiting: Vec<automerge::Change>) {
        let mut bytes = 0usize;
        let mut keep = waiting.len();
        for (i, c) in waiting.iter().enumerate().rev() {
            bytes = bytes.saturating_add(c.raw_bytes().len());
            if bytes > MAX_PENDING_BYTES || waiting.len() - i > MAX_PENDING {
                break;
            }
            keep = i;
        }
        if keep > 0 {
            waiting.drain(..keep);
            self.drops += 1;
        }
        self.pending = waiting;
    }

    /// Records what a checked application did: the authors' last changes move on, and the changes still waiting
    /// are kept aside.
    fn applied(&mut self, checked: chunks::Checked) {
        let mut clocks = self.clocks.borrow_mut();
        if let Some(known) = clocks.as_mut() {
            for c in &checked.applying {
                if self.doc.get_change_by_hash(&c.hash()).is_some() {
                    guard::record(known, c);
                } else {
                    // Automerge did not apply what the check expected: recompute when next needed.
                    *clocks = None;
                    break;
                }
            }
        }
        drop(clocks);
        self.adds_deleted |= checked.deletes_adds;
        if checked.dropped_pending {
            self.drops += 1;
        }
        self.keep_pending(checked.waiting);
    }

    /// The next message of the standard Automerge sync protocol for the peer behind `state`, or `None` when the
    /// peer is known to be in sync.
    pub fn generate_sync_message(&self, state: &mut SyncState) -> Option<Vec<u8>> {
        // The state holds what the peer said it has and needs; should Automerge panic on it (see `unwind.rs`), the
        // peer starts over from a fresh state rather than trapping the host.
        match unwind::contain(|| self.checked_generate(state)) {
            Ok(message) => message,
            Err(_) => {
                *state = SyncState::new();
                None
            }
        }
    }

    fn checked_generate(&self, state: &mut SyncState) -> Option<Vec<u8>> {
        let mut message = self.doc.generate_sync_message(&mut state.0)?;
        // Automerge does not know the changes kept aside: ask for what they wait for (a bounded number at a time).
        if !self.pending.is_empty() {
            let kept: BTreeSet<ChangeHash> = self.pending.iter().map(|p| p.hash()).collect();
            let mut need: BTreeSet<ChangeHash> = message.need.iter().copied().collect();
            // Newest first: the oldest may wait for what no peer has any more.
            'deps: for change in self.pending.iter().rev() {
                for dep in change.deps() {
                    if need.len() >= MAX_NEED {
                        break 'deps;
                    }
                    if !kept.contains(dep) && self.doc.get_change_meta_by_hash(dep).is_none() {
                        need.insert(*dep);
                    }
                }
            }
            message.need = need.into_iter().collect(); // sorted, as the encoding wants
        }
        if state.1 != self.drops {
            // Changes this peer sent may have been dropped: it must forget what it sent, or it will never send them
            // again.
            state.1 = self.drops;
            message
                .flags
                .get_or_insert_with(sync::MessageFlags::new)
                .set(sync::MessageFlags::SYNC_RESET);
        }
        Some(message.encode())
    }

    /// Receives a message of the standard Automerge sync protocol from the peer behind `state`.
    ///
    /// Malformed or refused messages leave both the cart and `state` as they were.
    pub fn receive_sync_message(
        &mut self,
        state: &mut SyncState,
        bytes: &[u8],
    ) -> Result<(), SyncError> {
        let contained = unwind::contain(|| self.checked_receive(state, bytes));
        self.poison_on(contained)
    }

    fn checked_receive(&mut self, state: &mut SyncState, bytes: &[u8]) -> Result<(), SyncError> {
        let message =
            sync::Message::decode(bytes).map_err(|e| SyncError::Malformed(e.to_string()))?;
        let refused = |e: LoadError| match e {
            LoadError::InvalidChange(c) => SyncError::InvalidChange(c),
            other => SyncError::Malformed(other.to_string()),
        };
        if !message
            .have
            .iter()
            .all(|have| chunks::bloom_is_sane(&have.bloom.to_bytes()))
        {
            return Err(SyncError::Malformed("a Bloom filter without bits".into()));
        }
        let raw: Vec<Vec<u8>> = message.changes.iter().map(<[u8]>::to_vec).collect();
        let mut pieces = Vec::new();
        for chunk in &raw {
            pieces.extend(chunks::split(chunk).map_err(refused)?);
        }
        let checked = self.check_changes(&pieces).map_err(refused)?;
        let mut message = message;
        if !checked.exact {
            // Changes waiting for dependencies stay out of Automerge (see `chunks::check_changes`); the next
            // message asks for every head of the peer this replica lacks.
            message.changes = sync::ChunkList::from(vec![checked.bytes()]);
        }
        let mut next = state.0.clone();
        self.doc.receive_sync_message(&mut next, message)?;
        if !pieces.is_empty() {
            self.applied(checked);
        }
        summarise_a_caught_up_peer(&self.doc, &mut next);
        // Last: a panic above leaves the state as it was.
        state.0 = next;
        Ok(())
    }

    /// Fault injection, for tests of the hosts only (feature `fault-injection`, never in a shipped build): receives
    /// a sync message as [`Cart::receive_sync_message`] does, contained the same way, but without the checks in
    /// front of Automerge, so a forged change reaches Automerge's own panics.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn receive_sync_message_unchecked(
        &mut self,
        state: &mut SyncState,
        bytes: &[u8],
    ) -> Result<(), SyncError> {
        let contained = unwind::contain(|| {
            let message =
                sync::Message::decode(bytes).map_err(|e| SyncError::Malformed(e.to_string()))?;
            let mut next = state.0.clone();
            self.doc.receive_sync_message(&mut next, message)?;
            state.0 = next;
            Ok(())
        });
        self.poison_on(contained)
    }

    /// Whether the cart holds nothing but the genesis change every cart shares (a cart never edited, nor received
    /// anything): a host need not store it.
    pub fn is_untouched(&self) -> bool {
        self.doc.get_heads() == [schema::genesis_hash()]
    }

    /// The layout the document declares (see [`crate::LAYOUT`]).
    pub fn layout(&self) -> u64 {
        schema::layout_of(&self.doc)
    }

    /// Whether the document is laid out in a layout newer than this code knows: it can be shown as read (every
    /// container this code knows is read as before) but every edit is refused with `UPGRADE_REQUIRED`.
    pub fn needs_upgrade(&self) -> bool {
        self.layout() > crate::LAYOUT
    }

    /// The document heads: the cart's version.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Whether this cart holds every change named in `heads` (it has caught up with a peer reporting them).
    pub fn has_all(&self, heads: &[ChangeHash]) -> bool {
        heads
            .iter()
            .all(|h| self.doc.get_change_by_hash(h).is_some())
    }

    /// How many of this cart's changes a peer whose heads are `heads` lacks: the changes not yet acknowledged by
    /// a server that last reported those heads. Unknown hashes in `heads` are ignored; the genesis change, which
    /// every cart shares, never counts.
    pub fn changes_missing_from(&self, heads: &[ChangeHash]) -> usize {
        let known: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        let genesis = schema::genesis_hash();
        self.doc
            .get_changes(&known)
            .iter()
            .filter(|c| c.hash() != genesis)
            .count()
    }

    /// The underlying Automerge document, read-only, for hosts that need more of Automerge than this type offers.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// The materialised cart.
    pub fn view(&self) -> CartView {
        view_of(self.raw_lines(None), &self.doc.get_heads())
    }

    /// The cart as it was at `heads` (which must be part of this cart's history; unknown heads read as empty).
    pub fn view_at(&self, heads: &[ChangeHash]) -> CartView {
        let mut sorted = heads.to_vec();
        sorted.sort();
        view_of(self.raw_lines(Some(heads)), &sorted)
    }

    pub(crate) fn raw_lines(&self, heads: Option<&[ChangeHash]>) -> BTreeMap<String, RawLine> {
        if heads.is_some() {
            return schema::read_lines(&self.doc, &self.containers, heads, self.adds_deleted);
        }
        let current = self.doc.get_heads();
        if let Some((cached_heads, lines)) = &*self.cache.borrow() {
            if *cached_heads == current {
                return lines.clone();
            }
        }
        let lines = schema::read_lines(&self.doc, &self.containers, None, self.adds_deleted);
        *self.cache.borrow_mut() = Some((current, lines.clone()));
        lines
    }

    /// The merge records at the current heads.
    pub(crate) fn records(&self) -> crate::records::Records {
        schema::read_records(&self.doc, &self.containers, None)
    }

    /// Records `lines` as the state at the current heads, after a local edit whose effect the caller applied to
    /// them. Tests compare this against a fresh read after every step (`cache_matches_a_fresh_read`).
    pub(crate) fn remember(&self, lines: BTreeMap<String, RawLine>) {
        *self.cache.borrow_mut() = Some((self.doc.get_heads(), lines));
    }

    /// Whether the lines are read exactly, because an add was deleted somewhere in the history (only layout-1
    /// writers deleted adds; `schema::history_deletes_adds`). For tests.
    #[doc(hidden)]
    pub fn reads_exactly(&self) -> bool {
        self.adds_deleted
    }

    /// Whether the cached lines equal a fresh read of the document. For tests.
    #[doc(hidden)]
    pub fn cache_matches_a_fresh_read(&self) -> bool {
        let fresh = schema::read_lines(&self.doc, &self.containers, None, self.adds_deleted);
        match &*self.cache.borrow() {
            Some((heads, lines)) if *heads == self.doc.get_heads() => *lines == fresh,
            _ => true,
        }
    }

    /// Runs `f` in one Automerge transaction, committing only if it succeeded and changed something.
    pub(crate) fn transact<T, E>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>, &Containers) -> Result<T, E>,
    ) -> Result<T, E> {
        let containers = self.containers.clone();
        let mut tx = self.doc.transaction();
        match f(&mut tx, &containers) {
            Ok(value) => {
                // No change time: nothing reads it, and it would cost 5 bytes of every change on the wire and a
                // column of every save (lines carry their own `addedAt`). Empty transactions commit nothing.
                tx.commit_with(CommitOptions::default().with_time(0));
                // Re-reading the change costs about as much as saving it: only when the clocks are kept.
                if let Some(clocks) = self.clocks.get_mut().as_mut() {
                    if let Some(change) = self.doc.get_last_local_change() {
                        guard::record(clocks, &change);
                    }
                }
                Ok(value)
            }
            Err(e) => {
                tx.rollback();
                Err(e)
            }
        }
    }
}

/// The most received changes kept aside while they wait for dependencies, in number and in bytes.
const MAX_PENDING: usize = 10_000;
const MAX_PENDING_BYTES: usize = 4 << 20;
/// The most hashes one sync message asks for on behalf of the changes kept aside.
const MAX_NEED: usize = 256;

/// A fresh random actor id for a replica: 8 bytes, not Automerge's usual 16.
///
/// Every change carries its author's id, and the ids of the authors whose elements it touches, so each byte here is
/// paid on the wire by every edit. A cart has at most a few thousand replicas (devices, tabs, page loads, server
/// instances) in its life: the chance that two of them draw the same 64-bit id is below 1e-12.
pub fn new_actor() -> ActorId {
    ActorId::from(&ActorId::random().to_bytes()[..8])
}

fn view_of(raw: BTreeMap<String, RawLine>, heads: &[ChangeHash]) -> CartView {
    let mut lines: Vec<Line> = raw
        .into_iter()
        .filter_map(|(sku, line)| {
            let qty = line.qty();
            (qty > 0).then(|| Line {
                sku,
                qty,
                selected: line.selected.unwrap_or(true),
                added_at: line.added_at.unwrap_or(0),
            })
        })
        .collect();
    lines.sort_by(|a, b| a.added_at.cmp(&b.added_at).then_with(|| a.sku.cmp(&b.sku)));
    CartView {
        line_count: lines.len(),
        item_count: lines.iter().map(|l| u64::from(l.qty)).sum(),
        lines,
        version: heads.iter().map(|h| h.to_string()).collect(),
    }
}
