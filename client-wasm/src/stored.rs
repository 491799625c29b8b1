//! Reading back what the library keeps in LocalStorage. No JS here, so the fuzz target `local_storage` (`fuzz/`)
//! runs it natively.
//!
//! **Invariant:** whatever the stored text (another library's data, a truncated write, a hand edit), the answer is a
//! value or an [`Unreadable`] for the caller to keep aside and report; never a panic.

use base64::{engine::general_purpose::STANDARD, Engine};
use cart_core::{Cart, ChangeHash, LoadError};

use crate::session::Who;

/// Why stored data could not be read.
#[derive(Debug)]
pub enum Unreadable {
    /// The text is not base64.
    NotBase64,
    /// The bytes are not a cart document.
    NotACart(LoadError),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NotBase64 => f.write_str("not base64"),
            Unreadable::NotACart(e) => write!(f, "{e}"),
        }
    }
}

/// Stored bytes (base64 text).
pub fn bytes(text: &str) -> Result<Vec<u8>, Unreadable> {
    STANDARD
        .decode(text.as_bytes())
        .map_err(|_| Unreadable::NotBase64)
}

/// A stored cart document (`doc:<cart>`).
pub fn cart(text: &str) -> Result<Cart, Unreadable> {
    Cart::load(&bytes(text)?).map_err(Unreadable::NotACart)
}

/// The heads the server last acknowledged (`server:<cart>`): comma-separated hex hashes; unreadable ones are
/// dropped, which only means more is sent again.
pub fn heads(text: &str) -> Vec<ChangeHash> {
    text.split(',').filter_map(|h| h.parse().ok()).collect()
}

/// The identity in a session record, from its fields: a guest with a well-formed cart id, or a user with a
/// subject and a token.
pub fn who(
    kind: Option<String>,
    id: Option<String>,
    sub: Option<String>,
    token: Option<String>,
) -> Option<Who> {
    match kind?.as_str() {
        "guest" => {
            let id = id?;
            valid_cart_id(&id).then_some(Who::Guest { id })
        }
        "user" => Some(Who::User {
            sub: sub.filter(|s| !s.is_empty())?,
            token: token?,
        }),
        _ => None,
    }
}

/// A cart id as the server accepts it: 22-64 characters of `[A-Za-z0-9_-]`.
pub fn valid_cart_id(id: &str) -> bool {
    (22..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
