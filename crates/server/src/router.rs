//! `app(state)`: every route of the relay in one list, and the headers every response gets.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::SharedState;
use crate::{api, assets, feed, link};

/// Same-origin everything; `data:` images for the page's inline icons; no framing, no
/// `<base>`, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The relay's routes.
pub fn app(state: SharedState) -> Router {
    let api = Router::new()
        .route("/pair", post(api::pair))
        .route("/login", post(api::login))
        .route("/logout", post(api::logout))
        .route("/sessions", get(api::sessions))
        .route("/sessions/{id}", get(api::session))
        .route("/sessions/{id}/text", get(api::text))
        .route("/sessions/{id}/transcript", get(api::transcript))
        .route("/sessions/{id}/input", post(api::input))
        .route("/prompts/{id}/approve", post(api::approve))
        .route("/prompts/{id}/reject", post(api::reject))
        .route("/prompts/{id}/answer", post(api::answer_prompt))
        .route("/device/login-link", post(api::device_login_link))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(api::BODY_LIMIT_BYTES));
    Router::new()
        .route("/healthz", get(api::healthz))
        .route(cr_proto::LINK_PATH, get(link::upgrade))
        .route("/events", get(feed::events))
        .nest("/api", api)
        .route("/", get(assets::index))
        .route("/login", get(assets::index))
        .fallback(assets::static_file)
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // API answers hold session contents: never cache them.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
