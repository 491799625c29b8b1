//! Token buckets for writes: one per cart (in the cart's Durable Object, so exact) and one per client address (in
//! each isolate's memory, so per isolate: a cheap first line against a flood, not an exact global quota); and one
//! per client address for reads (every read wakes a Durable Object and prices from KV). Excess requests get
//! `429 RATE_LIMITED` with `Retry-After`.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::Env;

use crate::error::ApiError;

/// Capacity and refill of a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

impl Rate {
    /// The rate named by `{prefix}_WRITE_BURST` and `{prefix}_WRITES_PER_SECOND`, or the defaults.
    pub fn from_env(env: &Env, prefix: &str, default: Rate) -> Rate {
        Self::named(
            env,
            &format!("{prefix}_WRITE_BURST"),
            &format!("{prefix}_WRITES_PER_SECOND"),
            default,
        )
    }

    /// The client read rate: `CLIENT_READ_BURST` and `CLIENT_READS_PER_SECOND`, or the defaults.
    pub fn reads_from_env(env: &Env) -> Rate {
        Self::named(
            env,
            "CLIENT_READ_BURST",
            "CLIENT_READS_PER_SECOND",
            CLIENT_READ_DEFAULT,
        )
    }

    fn named(env: &Env, burst: &str, per_second: &str, default: Rate) -> Rate {
        let var = |name: String, fallback: f64| {
            env.var(&name)
                .ok()
                .and_then(|v| v.to_string().trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v > 0.0)
                .unwrap_or(fallback)
        };
        Rate {
            burst: var(burst.to_owned(), default.burst),
            per_second: var(per_second.to_owned(), default.per_second),
        }
    }
}

/// Per cart: bursts of 60 writes, 5 a second sustained (a shopper, a few tabs and devices).
pub const CART_DEFAULT: Rate = Rate {
    burst: 60.0,
    per_second: 5.0,
};
/// Per client address: bursts of 200, 20 a second sustained (many shoppers behind one NAT).
pub const CLIENT_DEFAULT: Rate = Rate {
    burst: 200.0,
    per_second: 20.0,
};

/// Reads per client address: bursts of 600, 60 a second sustained (page views and polls of many shoppers).
pub const CLIENT_READ_DEFAULT: Rate = Rate {
    burst: 600.0,
    per_second: 60.0,
};

#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last_ms: i64,
}

impl Bucket {
    pub fn full(rate: Rate, now_ms: i64) -> Bucket {
        Bucket {
            tokens: rate.burst,
            last_ms: now_ms,
        }
    }

    /// Takes one token, or says how many whole seconds until one is there.
    pub fn take(&mut self, rate: Rate, now_ms: i64) -> Result<(), u64> {
        let elapsed = (now_ms - self.last_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.last_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / rate.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The 429 for a write over the limit of `scope` ("cart" or "client").
pub fn limited(scope: &str, retry_after: u64) -> ApiError {
    ApiError::new(
        429,
        "RATE_LIMITED",
        format!("too many writes from this {scope}; retry in {retry_after} s"),
    )
    .retry_after(retry_after)
}

thread_local! {
    static CLIENTS: RefCell<HashMap<String, Bucket>> = RefCell::new(HashMap::new());
    static READERS: RefCell<HashMap<String, Bucket>> = RefCell::new(HashMap::new());
}

/// Most client buckets one isolate keeps; beyond it the table starts over (every client gets a full bucket).
const MAX_CLIENTS: usize = 10_000;

/// Takes a token from the write bucket of `client` in this isolate.
pub fn take_client(client: &str, rate: Rate, now_ms: i64) -> Result<(), ApiError> {
    take_from(&CLIENTS, client, rate, now_ms).map_err(|after| limited("client", after))
}

/// Takes a token from the read bucket of `client` in this isolate.
pub fn take_client_read(client: &str, rate: Rate, now_ms: i64) -> Result<(), ApiError> {
    take_from(&READERS, client, rate, now_ms).map_err(|after| {
        ApiError::new(
            429,
            "RATE_LIMITED",
            format!("too many reads from this client; retry in {after} s"),
        )
        .retry_after(after)
    })
}

type Buckets = std::thread::LocalKey<RefCell<HashMap<String, Bucket>>>;

fn take_from(buckets: &'static Buckets, client: &str, rate: Rate, now_ms: i64) -> Result<(), u64> {
    buckets.with(|clients| {
        let mut clients = clients.borrow_mut();
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(client) {
            clients.clear();
        }
        clients
            .entry(client.to_owned())
            .or_insert_with(|| Bucket::full(rate, now_ms))
            .take(rate, now_ms)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3.0,
        per_second: 0.5,
    };

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_retry() {
        let mut bucket = Bucket::full(RATE, 0);
        for _ in 0..3 {
            assert_eq!(bucket.take(RATE, 0), Ok(()));
        }
        assert_eq!(bucket.take(RATE, 0), Err(2));
        // Half a token after one second: still one second to wait.
        assert_eq!(bucket.take(RATE, 1000), Err(1));
        assert_eq!(bucket.take(RATE, 2000), Ok(()));
    }

    #[test]
    fn a_bucket_refills_only_up_to_its_burst() {
        let mut bucket = Bucket::full(RATE, 0);
        for _ in 0..3 {
            bucket.take(RATE, 0).expect("within the burst");
        }
        for _ in 0..3 {
            assert_eq!(bucket.take(RATE, 3_600_000), Ok(()));
        }
        assert!(bucket.take(RATE, 3_600_000).is_err());
    }

    #[test]
    fn client_buckets_are_separate_per_client() {
        for _ in 0..3 {
            take_client("a", RATE, 0).expect("a's burst");
        }
        let refused = take_client("a", RATE, 0).expect_err("a is over");
        assert_eq!(
            (refused.status, refused.code, refused.retry_after),
            (429, "RATE_LIMITED", Some(2))
        );
        assert!(take_client("b", RATE, 0).is_ok());
    }
}
