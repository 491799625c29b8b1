//! What every handler works with, built from `env` once per request: the bindings, the client's address and
//! limits, the token secret, and the way to send one command to a cart's Durable Object.

use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::object::now_ms;
use crate::protocol;
use crate::ratelimit::{self, Rate};

/// Which cart a request addresses. Guest and user carts live in separate Durable Object name spaces, so no guest
/// id can ever name a user's cart. Share links live in a third name space.
pub enum Target {
    Guest(String),
    /// A user cart, by its Durable Object name (`auth::Issuer::cart_name`: issuer and user).
    User(String),
    Share(String),
}

impl Target {
    fn object_name(&self) -> String {
        match self {
            Target::Guest(id) => format!("guest:{id}"),
            Target::User(name) => name.clone(),
            Target::Share(token) => format!("share:{token}"),
        }
    }

    /// The id a view shows: the guest cart's id, `me` or `shared`.
    pub fn public_id(&self) -> &str {
        match self {
            Target::Guest(id) => id,
            Target::User(_) => "me",
            Target::Share(_) => "shared",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Target::Guest(_) => "guest",
            Target::User(_) => "user",
            Target::Share(_) => "share",
        }
    }
}

/// The request's context: read from `env` and the request's headers once, then passed to every handler.
pub struct Ctx {
    pub env: Env,
    /// The client's address (`CF-Connecting-IP`), keying the per-client limits.
    client: String,
    client_writes: Rate,
    client_reads: Rate,
    /// How bearer tokens are verified.
    pub auth: Auth,
}

impl Ctx {
    pub fn new(env: Env, req: &Request) -> ApiResult<Ctx> {
        let client = req
            .headers()
            .get("cf-connecting-ip")?
            .unwrap_or_else(|| "unknown".into());
        #[cfg(feature = "dev")]
        let dev = crate::routes::dev_enabled(&env);
        #[cfg(not(feature = "dev"))]
        let dev = false;
        let auth = Auth::from_env(&env, dev);
        Ok(Ctx {
            client_writes: Rate::from_env(&env, "CLIENT", ratelimit::CLIENT_DEFAULT),
            client_reads: Rate::reads_from_env(&env),
            env,
            client,
            auth,
        })
    }

    /// Takes a token from this client's write bucket (`writes`) or read bucket: `429 RATE_LIMITED` when empty.
    pub fn take_client_token(&self, writes: bool) -> ApiResult<()> {
        if writes {
            ratelimit::take_client(&self.client, self.client_writes, now_ms())
        } else {
            ratelimit::take_client_read(&self.client, self.client_reads, now_ms())
        }
    }

    fn stub(&self, target: &Target) -> ApiResult<Stub> {
        Ok(self
            .env
            .durable_object("CARTS")?
            .id_from_name(&target.object_name())?
            .get_stub()?)
    }

    /// Sends one command to the cart's object; the object's answer as it came.
    async fn fetch(
        &self,
        target: &Target,
        path: &str,
        method: Method,
        body: Option<Vec<u8>>,
        extra: &[(&str, String)],
    ) -> ApiResult<Response> {
        let headers = Headers::new();
        headers.set(protocol::CART_ID_HEADER, target.public_id())?;
        headers.set(protocol::KIND_HEADER, target.kind())?;
        for (name, value) in extra {
            headers.set(name, value)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers);
        if let Some(body) = body {
            init.with_body(Some(worker::js_sys::Uint8Array::from(&body[..]).into()));
        }
        let req = Request::new_with_init(&format!("{}{path}", protocol::ORIGIN), &init)?;
        Ok(self.stub(target)?.fetch_with_request(req).await?)
    }

    /// Sends one command to the cart's object. Non-WebSocket answers are copied into a fresh response, whose
    /// headers (unlike a subrequest's) can still be changed.
    pub async fn send(
        &self,
        target: &Target,
        path: &str,
        method: Method,
        body: Option<Vec<u8>>,
        extra: &[(&str, String)],
    ) -> ApiResult<Response> {
        let response = self.fetch(target, path, method, body, extra).await?;
        if response.status_code() == 101 {
            return Ok(response);
        }
        Reply::read(response).await?.into_response()
    }

    /// [`Ctx::send`] of a command whose answer is not a WebSocket, read into memory (a cart view on its way to
    /// be priced: no response is built for it until the priced one).
    pub async fn reply(
        &self,
        target: &Target,
        path: &str,
        method: Method,
        body: Option<Vec<u8>>,
        extra: &[(&str, String)],
    ) -> ApiResult<Reply> {
        Reply::read(self.fetch(target, path, method, body, extra).await?).await
    }

    /// [`Ctx::reply`] to a JSON command, with extra headers (an idempotency key).
    pub async fn reply_json<T: serde::Serialize>(
        &self,
        target: &Target,
        path: &str,
        cmd: &T,
        extra: &[(&str, String)],
    ) -> ApiResult<Reply> {
        let body = serde_json::to_vec(cmd).map_err(|e| ApiError::internal("encode command", e))?;
        self.reply(target, path, Method::Post, Some(body), extra)
            .await
    }

    /// [`Ctx::send`] of a JSON command, with extra headers (an idempotency key).
    pub async fn send_json<T: serde::Serialize>(
        &self,
        target: &Target,
        path: &str,
        cmd: &T,
        extra: &[(&str, String)],
    ) -> ApiResult<Response> {
        let body = serde_json::to_vec(cmd).map_err(|e| ApiError::internal("encode command", e))?;
        self.send(target, path, Method::Post, Some(body), extra)
            .await
    }

    /// A bodiless read command (`GET`).
    pub async fn get(&self, target: &Target, path: &str) -> ApiResult<Response> {
        self.send(target, path, Method::Get, None, &[]).await
    }

    /// A bodiless write command (`POST`, empty body).
    pub async fn post(&self, target: &Target, path: &str) -> ApiResult<Response> {
        self.send(target, path, Method::Post, Some(Vec::new()), &[])
            .await
    }
}

/// An object's answer (not a WebSocket), read into memory: its status, the headers the API passes on, the body.
pub struct Reply {
    pub status: u16,
    headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The headers of an object's answer that the API passes on.
    const PASSED_ON: [&'static str; 4] =
        ["content-type", "etag", "www-authenticate", "retry-after"];

    async fn read(mut response: Response) -> ApiResult<Reply> {
        let mut headers = Vec::new();
        for name in Self::PASSED_ON {
            if let Some(value) = response.headers().get(name)? {
                headers.push((name, value));
            }
        }
        Ok(Reply {
            status: response.status_code(),
            headers,
            body: response.bytes().await?,
        })
    }

    /// Whether the body is JSON.
    pub fn is_json(&self) -> bool {
        self.headers
            .iter()
            .any(|(name, value)| *name == "content-type" && value.starts_with("application/json"))
    }

    /// The answer as a response of the API, as the object gave it.
    pub fn into_response(self) -> ApiResult<Response> {
        let headers = Headers::new();
        for (name, value) in &self.headers {
            headers.set(name, value)?;
        }
        Ok(Response::from_bytes(self.body)?
            .with_status(self.status)
            .with_headers(headers))
    }
}
