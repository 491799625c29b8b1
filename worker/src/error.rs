//! The one application error type: an HTTP status, a stable SNAKE_CASE code and a message, sent as
//! `{"error": {"code": "...", "message": "..."}}`.

use cart_core::{BatchError, EditError, MergeError};
use serde::Serialize;
use worker::{console_error, Response};

/// An error answer of the public API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
    /// A stable snake_case detail of the code (why a token was refused), sent as `error.reason`.
    pub reason: Option<&'static str>,
    /// The position of the operation a batch was refused for, sent as `error.index`.
    pub index: Option<usize>,
    /// The methods a `405` route takes, for its `Allow` header.
    pub allow: Option<String>,
    /// The lines an error is about (`PRICE_CHANGED`), sent as `error.lines`.
    pub lines: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            reason: None,
            index: None,
            allow: None,
            lines: None,
        }
    }

    /// The error of the operation at `index` of a batch.
    pub fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "no such route")
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        // The details go to the log, not to the client.
        console_error!("internal error: {context}: {err}");
        Self::new(500, "INTERNAL", "internal error")
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 3): a refused token is `invalid_token`; a missing one
    /// gets the bare challenge.
    fn www_authenticate(&self) -> String {
        if self.code == "MISSING_TOKEN" {
            return "Bearer".to_owned();
        }
        let description: String = self
            .message
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
            .collect();
        format!(r#"Bearer error="invalid_token", error_description="{description}""#)
    }

    /// The error as a JSON response.
    pub fn to_response(&self) -> worker::Result<Response> {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                reason: self.reason,
                index: self.index,
                lines: self.lines.as_ref(),
            },
        };
        let mut response = Response::from_json(&body)?.with_status(self.status);
        if self.status == 401 {
            response
                .headers_mut()
                .set("WWW-Authenticate", &self.www_authenticate())?;
        }
        if let Some(allow) = &self.allow {
            response.headers_mut().set("Allow", allow)?;
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .set("Retry-After", &seconds.to_string())?;
        }
        Ok(response)
    }
}

impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        ApiError::internal("runtime", err)
    }
}

impl From<EditError> for ApiError {
    fn from(err: EditError) -> Self {
        let status = match err {
            EditError::InvalidSku(_)
            | EditError::InvalidQuantity { .. }
            | EditError::NotAQuantity(_)
            | EditError::InvalidOp(_)
            | EditError::TooManyOps(_) => 400,
            EditError::QuantityLimit { .. } | EditError::CartFull => 422,
            EditError::LineNotFound(_) => 404,
            EditError::Document(e) => return ApiError::internal("cart document", e),
            // The stored cart is newer than this worker: a deploy rolled back or not yet everywhere.
            EditError::UpgradeRequired(_) => 503,
        };
        Self::new(status, err.code(), err.to_string())
    }
}

impl From<BatchError> for ApiError {
    fn from(err: BatchError) -> Self {
        let e = ApiError::from(err.error);
        match err.index {
            Some(index) => e.at(index),
            None => e,
        }
    }
}

impl From<MergeError> for ApiError {
    fn from(err: MergeError) -> Self {
        match err {
            MergeError::Document(e) => ApiError::internal("merge", e),
            MergeError::UpgradeRequired(_) => {
                ApiError::new(503, "UPGRADE_REQUIRED", err.to_string())
            }
            MergeError::Panicked(_) => ApiError::new(400, "AUTOMERGE_PANIC", err.to_string()),
        }
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = std::result::Result<T, ApiError>;
