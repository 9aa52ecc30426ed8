//! `AppError`: every failed HTTP request, as a JSON body `{"error": …}` with the right status.
//! Client mistakes (4xx) are answered tersely and not logged as errors; relay failures (5xx)
//! are logged in full and answered without internals.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cr_proto::{AnswerConflict, ErrorBody};

use crate::store::StoreError;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: credentials fine, request not allowed (cross-origin).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 409 with the state an answer lost to.
    #[error("{}", .0.error)]
    AnswerConflict(AnswerConflict),
    /// 409: the request does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 429: too many failed attempts; try again after the duration.
    #[error("too many failed attempts; try again in {} s", .0.as_secs().max(1))]
    TooManyAttempts(Duration),
    /// 503: the session's `cr` is not linked right now.
    #[error("{0}")]
    Unavailable(String),
    /// 504: `cr` did not confirm in time.
    #[error("{0}")]
    Timeout(String),
    /// 500: the relay failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::AnswerConflict(_) | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            Self::AnswerConflict(body) => (status, Json(body)).into_response(),
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                let body = ErrorBody { error: "the relay failed; see its log".into() };
                (status, Json(body)).into_response()
            }
            Self::TooManyAttempts(wait) => {
                let secs = wait.as_secs().max(1);
                let body = ErrorBody { error: self.to_string() };
                let mut res = (status, Json(body)).into_response();
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                res
            }
            other => (status, Json(ErrorBody { error: other.to_string() })).into_response(),
        }
    }
}
