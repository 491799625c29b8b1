//! Idle expiry: a cart's object arms a Durable Object alarm at each write for `last write + TTL`; when it fires
//! on an idle cart, every byte of the cart is deleted. The TTL depends on what the object holds.

use worker::Env;

const DAY_SECS: i64 = 24 * 3600;

/// What a cart object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Guest,
    User,
    Share,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "guest" => Some(Kind::Guest),
            "user" => Some(Kind::User),
            "share" => Some(Kind::Share),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Guest => "guest",
            Kind::User => "user",
            Kind::Share => "share",
        }
    }

    /// Idle time before deletion, in ms: `GUEST_CART_TTL_SECONDS` (default 30 days), `USER_CART_TTL_SECONDS`
    /// (180 days) or `SHARE_TTL_SECONDS` (30 days).
    pub fn ttl_ms(self, env: &Env) -> i64 {
        let (var, default_days) = match self {
            Kind::Guest => ("GUEST_CART_TTL_SECONDS", 30),
            Kind::User => ("USER_CART_TTL_SECONDS", 180),
            Kind::Share => ("SHARE_TTL_SECONDS", 30),
        };
        let secs = env
            .var(var)
            .ok()
            .and_then(|v| v.to_string().trim().parse::<i64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(default_days * DAY_SECS);
        secs.saturating_mul(1000)
    }
}
