//! Deterministic workloads for benchmarks and simulations: the mix of edits a storefront produces.

use crate::cart::Cart;

/// A storefront-like stream of edits over `lines` skus (`SKU-0` ...): 60% +1 clicks, 20% quantity sets, 15%
/// selection changes, 5% removals followed by re-adds. Deterministic for a given seed (a linear congruential
/// sequence), so every run and every machine builds the same history.
#[derive(Debug, Clone)]
pub struct EditMix {
    seed: u64,
    lines: u64,
}

impl EditMix {
    pub fn new(seed: u64, lines: usize) -> Self {
        EditMix {
            seed,
            lines: lines.max(1) as u64,
        }
    }

    /// Applies the next edit to `cart`; returns whether it changed the cart (an edit a limit refused does not).
    pub fn apply_next(&mut self, cart: &mut Cart) -> bool {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let sku = format!("SKU-{}", (self.seed >> 33) % self.lines);
        let roll = (self.seed >> 20) % 100;
        match roll {
            0..=59 => cart.add(&sku, 1).is_ok(),
            60..=79 => cart.set_quantity(&sku, 1 + (roll % 7) as u32).is_ok(),
            80..=94 => cart.set_selected(&sku, roll.is_multiple_of(2)).is_ok(),
            _ => cart.remove(&sku).is_ok() && cart.add(&sku, 1).is_ok(),
        }
    }
}
