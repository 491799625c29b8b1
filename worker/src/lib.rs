//! The edge service: one Worker serving the cart API, the Automerge sync protocol and the storefront's static
//! assets, with one Durable Object per cart.
//!
//! - `routes`: the route table, one handler module per resource (`carts`, `me`, `commerce`, `dev`), pricing of cart
//!   views on the way out. `ctx`: what a handler works with, built once per request (bindings, limits, the token
//!   secret, commands to a cart's object). `http`: methods, capped bodies, query, `Idempotency-Key`, 304s.
//! - `object`: `CartObject`, the Durable Object: core operation, durable write, reply, push to sockets.
//! - `store`: the object's SQLite storage (snapshot + incremental changes, compaction).
//! - `catalog`: products in Workers KV, joined into every view (prices, availability, totals).
//! - `routes/commerce`: checkout snapshots (idempotent) and share links; `object/commerce.rs` is the object's side.
//! - `expiry`: idle expiry by Durable Object alarms. `ratelimit`: token buckets per cart and per client.
//! - `observe`: a JSON log line per request.
//! - `input`: everything a client sends, parsed and validated (pure; fuzzed natively from `fuzz/`).
//! - `routes/dev` (cargo feature `dev`, dev and test builds only): the demo's token route, benchmark and
//!   fault-injection routes.
//! - `auth`: bearer tokens (compact JWS), HS256 under one or more shared secrets, and (dev) signing; user carts
//!   keyed by issuer and user. `cors`: CORS. `error`: coded JSON errors.

mod auth;
mod catalog;
mod cors;
mod ctx;
mod error;
mod expiry;
mod http;
pub mod input;
mod object;
mod observe;
mod protocol;
mod ratelimit;
mod routes;
mod store;
mod view;

pub use object::CartObject;

use worker::{event, Context, Env, Request, Response, Result};

/// Entry point for every request the static assets did not answer.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    routes::handle(req, env).await
}
