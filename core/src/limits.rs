//! Validation of skus and quantities, and the cart's size limits.

use thiserror::Error;

/// Longest accepted sku, in bytes (skus are ASCII).
pub const MAX_SKU_LEN: usize = 64;
/// Largest quantity one line may hold.
pub const MAX_QTY: u32 = 999;
/// Most lines one cart may hold. Adding a line beyond it fails; editing existing lines does not.
pub const MAX_LINES: usize = 120;

/// Why a sku was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SkuError {
    /// The sku was the empty string.
    #[error("sku is empty")]
    Empty,
    /// The sku was longer than [`MAX_SKU_LEN`].
    #[error("sku is {len} characters long; at most {MAX_SKU_LEN} are allowed")]
    TooLong {
        /// Length of the refused sku in bytes.
        len: usize,
    },
    /// The sku held a character outside `[A-Za-z0-9._-]`.
    #[error("sku contains '{found}'; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed")]
    BadCharacter {
        /// The first offending character.
        found: char,
    },
}

/// Checks that `sku` is 1-64 characters of `[A-Za-z0-9._-]`.
///
/// ```
/// use cart_core::{validate_sku, SkuError};
/// assert!(validate_sku("TSHIRT-red.L_2").is_ok());
/// assert_eq!(validate_sku(""), Err(SkuError::Empty));
/// assert_eq!(validate_sku("a b"), Err(SkuError::BadCharacter { found: ' ' }));
/// ```
pub fn validate_sku(sku: &str) -> Result<(), SkuError> {
    if sku.is_empty() {
        return Err(SkuError::Empty);
    }
    if let Some(found) = sku.chars().find(|c| !is_sku_char(*c)) {
        return Err(SkuError::BadCharacter { found });
    }
    if sku.len() > MAX_SKU_LEN {
        return Err(SkuError::TooLong { len: sku.len() });
    }
    Ok(())
}

fn is_sku_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// True when `sku` passes [`validate_sku`]; used to skip foreign keys when reading a document.
pub(crate) fn is_valid_sku(sku: &str) -> bool {
    validate_sku(sku).is_ok()
}
