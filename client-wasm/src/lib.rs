//! JavaScript bindings of the cart core for browser storefronts. This first version exposes validation only; the
//! LocalStorage-backed, syncing cart arrives with the client library issue.

use wasm_bindgen::prelude::*;

/// Checks a sku against the cart's rules; returns the reason it is refused, or `undefined` when it is valid.
#[wasm_bindgen(js_name = skuProblem)]
pub fn sku_problem(sku: &str) -> Option<String> {
    cart_core::validate_sku(sku).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_sku_has_no_problem_and_an_invalid_one_says_why() {
        assert_eq!(sku_problem("MUG-1"), None);
        assert!(sku_problem("a b").is_some_and(|why| why.contains("' '")));
    }
}
