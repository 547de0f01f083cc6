//! The read-only JSON API under `/api/v1/`, for scripts and other tools. It
//! shares the query functions of the pages, takes a session or an
//! `Authorization: Bearer` API token (checked by the auth middleware), and
//! pages lists by an opaque cursor: pass `next` back as `after`.
//! The two changes it allows (acknowledge an alert, switch a destination)
//! check the same roles as the pages.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Extension, Json, Router,
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    model::{Caller, Page, Role, TimelineFilter},
    projection::{
        alerts::AckError,
        queries::{self, QueryError},
    },
    startup::AppState,
    store::{
        destinations::{DestinationError, DestinationStatus},
        events::{self, EventFilter, EventSummary},
    },
    ui::pages::destinations::ssr::destination_rows,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(list_events))
        .route("/api/v1/events/{seq}", get(one_event))
        .route("/api/v1/conversations", get(list_conversations))
        .route("/api/v1/conversations/{phone}", get(one_conversation))
        .route("/api/v1/deliveries", get(list_deliveries))
        .route("/api/v1/deliveries/{message_id}", get(one_delivery))
        .route("/api/v1/templates", get(list_templates))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}/acknowledge", post(acknowledge))
        .route("/api/v1/destinations", get(list_destinations))
        .route("/api/v1/destinations/{slug}/status", post(set_status))
}

/// What an API call can answer besides its data.
#[derive(Debug)]
pub enum ApiError {
    BadInput(String),
    NotFound,
    Forbidden,
    /// Refused for a reason the caller can act on, with its own status.
    Refused(StatusCode, String),
    /// Logged here, once; the caller only learns that it failed.
    Unexpected(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadInput(message) => (StatusCode::BAD_REQUEST, message),
            Self::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "your role does not allow this".to_owned(),
            ),
            Self::Refused(status, message) => (status, message),
            Self::Unexpected(cause) => {
                tracing::error!(%cause, "API call failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request failed; see the server log".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.to_string())
    }
}

impl From<DestinationError> for ApiError {
    /// Whats91's refusals and outages answer 502 with their message: the
    /// local status did not change.
    fn from(error: DestinationError) -> Self {
        match error {
            DestinationError::NotFound(_) => Self::NotFound,
            DestinationError::Database(error) => error.into(),
            DestinationError::Whats91(_) => {
                Self::Refused(StatusCode::BAD_GATEWAY, error.to_string())
            }
            DestinationError::NoApiToken(_) => {
                Self::Refused(StatusCode::CONFLICT, error.to_string())
            }
            other => Self::BadInput(other.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::BadInput(message) => Self::BadInput(message),
            QueryError::Database(error) => error.into(),
        }
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn allow(caller: &Caller, role: Role) -> Result<(), ApiError> {
    if caller.role.allows(role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Items per page: 50 unless asked, never more than 500.
fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(50).clamp(1, 500)
}

#[derive(Debug, Deserialize)]
pub struct EventQuery {
    after: Option<i64>,
    limit: Option<i64>,
    event: Option<String>,
    destination: Option<String>,
    sender: Option<String>,
    flag: Option<String>,
}

async fn list_events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<EventQuery>,
) -> ApiResult<Page<Value>> {
    allow(&caller, Role::Viewer)?;
    let limit = page_size(query.limit);
    let filter = EventFilter {
        event_key: query.event,
        destination: query.destination,
        sender_id: query.sender,
        flag: query.flag.clone(),
    };
    let found = events::list_page(&state.db.pool, &filter, query.after, limit)
        .await?
        .ok_or_else(|| {
            ApiError::BadInput(format!("unknown flag {:?}", query.flag.unwrap_or_default()))
        })?;
    Ok(Json(Page {
        items: found.items.iter().map(EventSummary::to_json).collect(),
        next: found.next,
    }))
}

async fn one_event(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(seq): Path<i64>,
) -> ApiResult<Value> {
    allow(&caller, Role::Viewer)?;
    let stored = events::get(&state.db.pool, seq)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut event = stored.summary.to_json();
    // The raw body as it arrived: parsed JSON when it is JSON, otherwise
    // text, otherwise base64.
    match serde_json::from_slice::<Value>(&stored.body) {
        Ok(body) => event["body"] = body,
        Err(_) => match std::str::from_utf8(&stored.body) {
            Ok(text) => event["bodyText"] = Value::from(text),
            Err(_) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&stored.body);
                event["bodyBase64"] = Value::from(encoded);
            }
        },
    }
    Ok(Json(event))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_conversations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Page<crate::model::ConversationSummary>> {
    allow(&caller, Role::Viewer)?;
    let text = query.q.unwrap_or_default();
    let page = queries::search_conversations(
        &state.db.pool,
        &text,
        query.after.as_deref(),
        page_size(query.limit),
    )
    .await?;
    Ok(Json(page))
}

async fn one_conversation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(phone): Path<String>,
) -> ApiResult<crate::model::ConversationThread> {
    allow(&caller, Role::Viewer)?;
    let thread = queries::conversation_thread(&state.db.pool, &phone).await?;
    Ok(Json(thread.ok_or(ApiError::NotFound)?))
}

#[derive(Debug, Deserialize)]
pub struct DeliveryQuery {
    recipient: Option<String>,
    status: Option<String>,
    error: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn list_deliveries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<DeliveryQuery>,
) -> ApiResult<Page<crate::model::TimelineSummary>> {
    allow(&caller, Role::Viewer)?;
    let filter = TimelineFilter {
        recipient: query.recipient,
        status: query.status,
        error: query.error,
        since: query.since,
        until: query.until,
    };
    let page = queries::list_timelines(
        &state.db.pool,
        &filter,
        query.after.as_deref(),
        page_size(query.limit),
    )
    .await?;
    Ok(Json(page))
}

async fn one_delivery(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(message_id): Path<String>,
) -> ApiResult<crate::model::Timeline> {
    allow(&caller, Role::Viewer)?;
    let timeline = queries::timeline(&state.db.pool, &message_id).await?;
    Ok(Json(timeline.ok_or(ApiError::NotFound)?))
}

async fn list_templates(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Vec<crate::model::TemplateSummary>> {
    allow(&caller, Role::Viewer)?;
    Ok(Json(queries::template_board(&state.db.pool).await?))
}

#[derive(Debug, Deserialize)]
pub struct AlertQuery {
    /// Only alerts nobody acknowledged yet.
    open: Option<bool>,
    limit: Option<i64>,
}

async fn list_alerts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<AlertQuery>,
) -> ApiResult<Vec<crate::model::Alert>> {
    allow(&caller, Role::Viewer)?;
    let open_only = query.open.unwrap_or(false);
    Ok(Json(
        queries::alerts(&state.db.pool, open_only, page_size(query.limit)).await?,
    ))
}

async fn acknowledge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<Value> {
    allow(&caller, Role::Operator)?;
    let recorded = match state.acknowledge_alert(id, &caller, None).await {
        Ok(recorded) => recorded,
        Err(AckError::NotFound(_)) => return Err(ApiError::NotFound),
        Err(AckError::Database(error)) => return Err(error.into()),
    };
    Ok(Json(
        json!({ "acknowledged": true, "recordedNow": recorded }),
    ))
}

async fn list_destinations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Vec<crate::ui::pages::destinations::DestinationRow>> {
    allow(&caller, Role::Viewer)?;
    Ok(Json(destination_rows(&state).await?))
}

#[derive(Debug, Deserialize)]
pub struct StatusBody {
    status: DestinationStatus,
}

async fn set_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
    Json(body): Json<StatusBody>,
) -> ApiResult<Value> {
    allow(&caller, Role::Admin)?;
    state
        .set_destination_status(&slug, body.status, &caller, None)
        .await?;
    Ok(Json(
        json!({ "slug": slug, "status": body.status.as_str() }),
    ))
}
