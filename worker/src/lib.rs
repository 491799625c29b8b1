//! The edge service: one Worker serving the cart API, the Automerge sync protocol and the storefront's static
//! assets, with one Durable Object per cart.
//!
//! - `api`: public routes, auth, validation, limits; forwards one command per request to the cart's object.
//! - `object`: `CartObject`, the Durable Object: core operation, durable write, reply, push to sockets.
//! - `store`: the object's SQLite storage (snapshot + incremental changes, compaction).
//! - `auth`: HS256 JWT verification and (dev) signing. `cors`: CORS. `error`: coded JSON errors.

mod api;
mod auth;
mod cors;
mod error;
mod object;
mod protocol;
mod store;
mod view;

pub use object::CartObject;

use worker::{event, Context, Env, Request, Response, Result};

/// Entry point for every request the static assets did not answer.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    api::handle(req, env).await
}
