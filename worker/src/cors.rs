//! CORS: the worker's own origin (the storefront it serves) is always allowed; more origins come from the
//! `CORS_ALLOWED_ORIGINS` variable (comma-separated, or `*`).

use worker::{Env, Headers, Response};

use crate::error::ApiError;

const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, If-None-Match, Idempotency-Key";
const EXPOSE_HEADERS: &str = "ETag, Retry-After, Server-Timing, Allow, WWW-Authenticate";

pub struct Cors {
    own_origin: String,
    allowed: Vec<String>,
}

impl Cors {
    pub fn new(env: &Env, own_origin: String) -> Self {
        let allowed = env
            .var("CORS_ALLOWED_ORIGINS")
            .map(|v| v.to_string())
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Cors {
            own_origin,
            allowed,
        }
    }

    fn allows(&self, origin: &str) -> bool {
        origin == self.own_origin || self.allowed.iter().any(|a| a == "*" || a == origin)
    }

    /// The answer to an `OPTIONS` preflight.
    pub fn preflight(&self, origin: Option<&str>) -> Result<Response, ApiError> {
        match origin {
            Some(origin) if self.allows(origin) => {
                let headers = Headers::new();
                headers.set("Access-Control-Allow-Origin", origin)?;
                headers.set("Access-Control-Allow-Methods", ALLOW_METHODS)?;
                headers.set("Access-Control-Allow-Headers", ALLOW_HEADERS)?;
                headers.set("Access-Control-Max-Age", "86400")?;
                headers.set("Vary", "Origin")?;
                Ok(Response::empty()?.with_status(204).with_headers(headers))
            }
            Some(origin) => Err(ApiError::new(
                403,
                "CORS_ORIGIN_NOT_ALLOWED",
                format!("origin {origin} is not allowed; add it to CORS_ALLOWED_ORIGINS"),
            )),
            None => Ok(Response::empty()?.with_status(204)),
        }
    }

    /// Adds the CORS headers an allowed origin's actual request needs.
    pub fn decorate(&self, response: &mut Response, origin: Option<&str>) {
        let headers = response.headers_mut();
        let _ = headers.append("Vary", "Origin");
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            let _ = headers.set("Access-Control-Allow-Origin", origin);
            let _ = headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
        }
    }
}
