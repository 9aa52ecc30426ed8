//! The HTTP API of SPEC section 3: pairing, login, sessions, transcript, answers and input.
//! Handlers parse, authenticate and call the store, the hub or [`crate::answer`]; they hold no
//! state of their own.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State, rejection::QueryRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cr_proto::{
    AnswerRequest, ApproveRequest, DeviceId, Downlink, InputRequest, LoginLink, LoginRequest,
    PairRequest, PairResponse, Prompt, RejectRequest, Session, SessionDetail, SessionId,
    SessionStatus, TranscriptLine, sign,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::{self, Actor, Caller, ClientInfo};
use crate::error::AppError;
use crate::state::SharedState;
use crate::{answer, mint, secret, store};

/// Largest request body the API reads. Answers and input are at most 16 KiB of text.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;
/// How long a phone stays logged in.
pub const PHONE_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default and largest page of transcript lines.
pub const TRANSCRIPT_PAGE: u32 = 200;
/// Largest transcript page a client may ask for.
pub const TRANSCRIPT_MAX: u32 = 1000;
/// Longest device name accepted at pairing, in characters.
const MAX_NAME_CHARS: usize = 64;

/// A JSON body whose errors are 400s with serde's message. An empty body reads as `{}`, so
/// bodies whose fields are all optional may be left out.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge(format!("request body is over {} KiB", BODY_LIMIT_BYTES / 1024))
            } else {
                AppError::BadRequest(e.body_text())
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(|e| AppError::BadRequest(format!("malformed JSON body: {e}")))
    }
}

fn ok() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

fn session_id(id: &str) -> Result<SessionId, AppError> {
    SessionId::new(id).map_err(|_| AppError::NotFound("no such session".into()))
}

fn rate_limit(state: &SharedState, client: &ClientInfo) -> Result<(), AppError> {
    let Some(ip) = client.ip else { return Ok(()) };
    let limiter = state.limiter.lock().expect("limiter lock");
    limiter.check(ip, Instant::now()).map_err(AppError::TooManyAttempts)
}

fn failed_attempt(state: &SharedState, client: &ClientInfo) {
    if let Some(ip) = client.ip {
        state.limiter.lock().expect("limiter lock").fail(ip, Instant::now());
    }
}

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `POST /api/pair`: a pairing code for a device id and secret.
pub async fn pair(
    State(state): State<SharedState>,
    client: ClientInfo,
    JsonBody(req): JsonBody<PairRequest>,
) -> Result<Json<PairResponse>, AppError> {
    rate_limit(&state, &client)?;
    let name = req.name.trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(format!(
            "the device name must be at most {MAX_NAME_CHARS} printable characters"
        )));
    }
    let refused = || {
        AppError::Unauthorized(
            "unknown, expired or already used pairing code; make a new one with `cr-server pair-code`".into(),
        )
    };
    let Some(code) = secret::normalize_pairing_code(&req.code) else {
        failed_attempt(&state, &client);
        return Err(refused());
    };
    let device_id = DeviceId::new(secret::device_id()).expect("device ids are valid ids");
    let device_secret = secret::token("crd_");
    let (id, sec, now) = (device_id.clone(), device_secret.clone(), crate::now());
    let paired = state
        .store
        .write(move |tx| {
            store::redeem_pairing_code(tx.conn(), &secret::hash(&code), &name, &id, &sec, now)
        })
        .await?;
    match paired {
        Some(name) => {
            tracing::info!(device = %device_id, %name, "device paired");
            Ok(Json(PairResponse { device_id, secret: device_secret }))
        }
        None => {
            failed_attempt(&state, &client);
            Err(refused())
        }
    }
}

/// `POST /api/login`: a one-time login token for the phone session cookie.
pub async fn login(
    State(state): State<SharedState>,
    client: ClientInfo,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, AppError> {
    // Login sets a cookie, so it gets the same Origin check as every cookie request.
    auth::check_origin(&state.public_url, &headers)?;
    rate_limit(&state, &client)?;
    let cookie = secret::token("crs_");
    let now = crate::now();
    let expires = cr_proto::Timestamp(now.0 + PHONE_SESSION_TTL.as_millis() as i64);
    let (token_hash, cookie_hash) = (secret::hash(req.token.trim()), secret::hash(&cookie));
    let (addr, ua) = (client.addr(), client.user_agent.clone());
    let logged_in = state
        .store
        .write(move |tx| {
            if !store::redeem_login_token(tx.conn(), &token_hash, now)? {
                return Ok(false);
            }
            store::create_phone_session(tx.conn(), &cookie_hash, now, expires, &addr, &ua)?;
            Ok(true)
        })
        .await?;
    if !logged_in {
        failed_attempt(&state, &client);
        return Err(AppError::Unauthorized(
            "this login link is unknown, expired or already used; ask for a new one (`cr qr` or `cr-server login-link`)".into(),
        ));
    }
    let set = auth::session_cookie(&cookie, &state.public_url, PHONE_SESSION_TTL.as_secs());
    Ok(([(header::SET_COOKIE, set)], ok()).into_response())
}

/// `POST /api/logout`: ends this phone session.
pub async fn logout(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Response, AppError> {
    let Actor::Phone(id) = caller.actor else {
        return Err(AppError::BadRequest(
            "logout ends a phone session; API tokens stay valid".into(),
        ));
    };
    let now = crate::now();
    state.store.write(move |tx| store::end_phone_session(tx.conn(), id, now)).await?;
    let clear = auth::session_cookie("", &state.public_url, 0);
    Ok(([(header::SET_COOKIE, clear)], ok()).into_response())
}

/// `GET /api/sessions`: newest first.
pub async fn sessions(
    State(state): State<SharedState>,
    _: Caller,
) -> Result<Json<Vec<Session>>, AppError> {
    Ok(Json(state.store.read(store::sessions).await?))
}

/// `GET /api/sessions/{id}`: the session, its current screen and pending prompts.
pub async fn session(
    State(state): State<SharedState>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, AppError> {
    let id = session_id(&id)?;
    let live = state.hub.screen(&id).map(|s| s.screen.clone());
    let lookup = id.clone();
    let found = state
        .store
        .read(move |c| {
            let Some(session) = store::session(c, &lookup)? else { return Ok(None) };
            let prompts = store::pending_prompts(c, &lookup)?;
            let screen = match live {
                Some(s) => Some(s),
                None => store::saved_screen(c, &lookup)?,
            };
            Ok(Some(SessionDetail { session, screen, prompts }))
        })
        .await?;
    found.map(Json).ok_or_else(|| AppError::NotFound("no such session".into()))
}

/// `GET /api/sessions/{id}/text`: the screen as plain text.
pub async fn text(
    State(state): State<SharedState>,
    caller: Caller,
    path: Path<String>,
) -> Result<Response, AppError> {
    let Json(detail) = session(State(state), caller, path).await?;
    let text = detail.screen.map(|s| s.text()).unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Query of `GET /api/sessions/{id}/transcript`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptQuery {
    /// Lines with a greater `seq` (default 0).
    #[serde(default)]
    pub after: u64,
    /// Lines with a smaller `seq`: the page just before it, for scrolling back.
    pub before: Option<u64>,
    /// Page size (default 200, at most 1000).
    pub limit: Option<u32>,
}

/// `GET /api/sessions/{id}/transcript`.
pub async fn transcript(
    State(state): State<SharedState>,
    _: Caller,
    Path(id): Path<String>,
    query: Result<Query<TranscriptQuery>, QueryRejection>,
) -> Result<Json<Vec<TranscriptLine>>, AppError> {
    let Query(q) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let id = session_id(&id)?;
    let limit = q.limit.unwrap_or(TRANSCRIPT_PAGE).clamp(1, TRANSCRIPT_MAX);
    let lines = state
        .store
        .read(move |c| {
            if store::session(c, &id)?.is_none() {
                return Ok(None);
            }
            store::transcript(c, &id, q.after, q.before, limit).map(Some)
        })
        .await?;
    lines.map(Json).ok_or_else(|| AppError::NotFound("no such session".into()))
}

/// `POST /api/prompts/{id}/approve`.
pub async fn approve(
    State(state): State<SharedState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ApproveRequest>,
) -> Result<Json<Prompt>, AppError> {
    answer::answer(&state, &id, req.into(), &caller, &client).await.map(Json)
}

/// `POST /api/prompts/{id}/reject`.
pub async fn reject(
    State(state): State<SharedState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RejectRequest>,
) -> Result<Json<Prompt>, AppError> {
    answer::answer(&state, &id, req.into(), &caller, &client).await.map(Json)
}

/// `POST /api/prompts/{id}/answer`.
pub async fn answer_prompt(
    State(state): State<SharedState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<AnswerRequest>,
) -> Result<Json<Prompt>, AppError> {
    let answer = req.into_answer().map_err(|e| AppError::BadRequest(e.into()))?;
    answer::answer(&state, &id, answer, &caller, &client).await.map(Json)
}

/// `POST /api/sessions/{id}/input`: text or keys for the session's terminal.
pub async fn input(
    State(state): State<SharedState>,
    _: Caller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<InputRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let input = req.into_input().map_err(|e| AppError::BadRequest(e.to_string()))?;
    let id = session_id(&id)?;
    let session = state.store.read_now(|c| store::session(c, &id))?;
    let session = session.ok_or_else(|| AppError::NotFound("no such session".into()))?;
    if session.status == SessionStatus::Ended {
        return Err(AppError::Conflict("this session has ended".into()));
    }
    let not_linked = || {
        AppError::Unavailable(
            "the session's cr is not connected right now; nothing was typed".into(),
        )
    };
    let downlink = state.hub.downlink(&id).ok_or_else(not_linked)?;
    downlink.try_send(Downlink::Input { input }).map_err(|_| not_linked())?;
    Ok(ok())
}

/// `POST /api/device/login-link`: a paired device (`cr qr`) asks for a phone login link.
pub async fn device_login_link(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<LoginLink>, AppError> {
    let device = auth::verify_device(&state, &headers, sign::LOGIN_LINK_CONTEXT).await?;
    let (public, by, now) = (state.public_url.clone(), device.id.to_string(), crate::now());
    let link = state.store.write(move |tx| mint::login_link(tx.conn(), &public, &by, now)).await?;
    tracing::info!(device = %device.id, "login link minted for a device");
    Ok(Json(link))
}

/// Unknown `/api/…` routes: a JSON 404 like every other API error.
pub async fn not_found() -> AppError {
    AppError::NotFound("no such API route; see SPEC section 3".into())
}
