//! Other tabs of this origin: they write the same LocalStorage, and each write reaches this tab as a `storage`
//! event. This tab follows their sign-in or sign-out, merges their edits (an increment: a few hundred bytes) and
//! their compactions (a snapshot, merged, with what only this tab has written back at once), and stops at changes
//! of a newer layout than it knows. A page restored from the back-forward cache reads what it missed. See
//! `persist.rs` for the keys.

use std::cell::RefCell;
use std::rc::Rc;

use web_sys::StorageEvent;

use wasm_bindgen::JsValue;

use crate::client::{emit, Inner};
use crate::js;
use crate::persist;
use crate::session::Session;
use crate::stored;
use crate::sync;

/// What a storage event asks of this tab once the state is released.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    None,
    Merged,
    Switched,
    /// Another tab wrote changes of a newer layout than this library knows.
    Upgrade,
}

impl Action {
    /// Of two things to do, the one that covers the other.
    fn or(self, other: Action) -> Action {
        self.max(other)
    }
}

pub fn on_storage(rc: &Rc<RefCell<Inner>>, event: &StorageEvent) {
    let Some(key) = event.key() else { return };
    let action = {
        let mut inner = rc.borrow_mut();
        let inner = &mut *inner;
        let Some(name) = inner.store.name_of(&key).map(str::to_owned) else {
            return;
        };
        if name == "session" {
            session_written(inner)
        } else if name == inner.session.doc_name() {
            match event.new_value() {
                Some(text) => snapshot_written(inner, &text),
                None => Action::None,
            }
        } else if inner.session.is_increment(&name) {
            match event.new_value() {
                Some(text) => increment_written(inner, name, &text),
                // Removed by another tab's compaction, whose snapshot has its changes.
                None => {
                    inner.session.persisted.forget_increment(&name);
                    Action::None
                }
            }
        } else {
            Action::None
        }
    };
    act(rc, action);
}

/// A page restored from the back-forward cache heard no `storage` event while it was frozen: it reads again what
/// the other tabs wrote meanwhile (a sign-in or sign-out, a snapshot, increments it has not read).
pub fn on_page_show(rc: &Rc<RefCell<Inner>>, event: &JsValue) {
    if js::get(event, "persisted").as_bool() != Some(true) {
        return;
    }
    let action = {
        let mut inner = rc.borrow_mut();
        let inner = &mut *inner;
        match session_written(inner) {
            Action::None => {
                let mut action = Action::None;
                if let Some(text) = inner.store.get(&inner.session.doc_name()) {
                    if !inner.session.persisted.is_known_snapshot(&text) {
                        action = action.or(snapshot_written(inner, &text));
                    }
                }
                let known: Vec<String> = inner
                    .session
                    .persisted
                    .increment_names()
                    .map(str::to_owned)
                    .collect();
                let cart_key = inner.session.who.cart_key();
                let unread = inner.store.entries(|n| {
                    persist::is_increment_of(&cart_key, n) && !known.iter().any(|k| k == n)
                });
                for (name, text) in unread {
                    action = action.or(increment_written(inner, name, &text));
                }
                action
            }
            other => other,
        }
    };
    act(rc, action);
}

fn act(rc: &Rc<RefCell<Inner>>, action: Action) {
    match action {
        Action::None => {}
        Action::Merged => {
            emit(rc, "change");
            sync::pump(rc);
        }
        Action::Switched => {
            sync::reconnect(rc);
            emit(rc, "change");
        }
        Action::Upgrade => sync::require_upgrade(
            rc,
            &format!(
                "another tab stored changes of a newer layout; this library knows layout {}",
                cart_core::LAYOUT
            ),
        ),
    }
}

/// Another tab signed in or out: this tab follows.
fn session_written(inner: &mut Inner) -> Action {
    let mut problems = Vec::new();
    let restored = Session::restore(&inner.store, &mut problems);
    inner.outbox.extend(problems);
    if restored.who != inner.session.who {
        inner.session = restored;
        Action::Switched
    } else {
        Action::None
    }
}

/// Another tab compacted (or an older release saved the whole cart): merged, and what only this tab has goes back
/// into storage at once, whatever that tab removed.
fn snapshot_written(inner: &mut Inner, text: &str) -> Action {
    let Ok((theirs, bytes)) = stored::cart_of(text) else {
        return Action::None;
    };
    let before = inner.session.cart.heads();
    match inner.session.cart.merge(&theirs) {
        Err(e) if stored::is_newer_layout(&e) => Action::Upgrade,
        Err(_) => failed(inner),
        Ok(()) => {
            let store = &inner.store;
            inner
                .session
                .persisted
                .replaced_snapshot(bytes.len(), text, |n| store.get(n).is_some());
            let extra = inner.session.cart.save_since(&theirs.heads());
            if !extra.is_empty() {
                inner.write_increment(&extra);
            }
            changed(inner, &before)
        }
    }
}

/// Another tab's edit. This tab's own are all stored already (each is written as it is made).
fn increment_written(inner: &mut Inner, name: String, text: &str) -> Action {
    let Ok(bytes) = stored::bytes(text) else {
        return Action::None;
    };
    inner.save_doc();
    let before = inner.session.cart.heads();
    let kept_aside = inner.session.cart.kept_aside();
    match inner.session.cart.load_incremental(&bytes) {
        Err(e) if stored::is_newer_layout(&e) => Action::Upgrade,
        Err(_) => failed(inner),
        Ok(()) => {
            // Waiting for a change this tab lacks: not this tab's to remove when it compacts.
            if inner.session.cart.holds(&bytes) {
                inner.session.persisted.add_increment(name, bytes.len());
            }
            // Storage now has everything this tab has, unless the increment released changes that were kept aside
            // here (received, never stored): those are stored with the next write.
            if kept_aside == 0 {
                let heads = inner.session.cart.heads();
                inner.session.cart.save_since(&heads);
            }
            changed(inner, &before)
        }
    }
}

fn changed(inner: &Inner, before: &[cart_core::ChangeHash]) -> Action {
    if inner.session.cart.heads() != before {
        Action::Merged
    } else {
        Action::None
    }
}

/// Another tab's bytes were refused: ignored, unless Automerge panicked on them (the cart is then reloaded from
/// storage, and that is news).
fn failed(inner: &mut Inner) -> Action {
    if inner.reload_if_poisoned() {
        Action::Merged
    } else {
        Action::None
    }
}
