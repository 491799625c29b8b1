//! The edge service: routes requests to the cart API. This first version answers liveness only; the cart routes
//! arrive with the Durable Object.

use worker::{event, Context, Env, Request, Response, Result, Router};

/// Entry point for every request the static assets did not answer.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .get("/health", |_, _| health())
        .run(req, env)
        .await
}

/// `GET /health`: liveness, with the cart schema version this build writes.
fn health() -> Result<Response> {
    Response::from_json(&serde_json::json!({
        "ok": true,
        "schema": cart_core::SCHEMA_VERSION,
    }))
}
