//! The simulator's management API under `/api/v2`, as DESIGN §1 describes
//! Whats91's, plus the `/_simulate` control endpoints.
//!
//! Every call needs `Authorization: Bearer <token>` (compared in constant
//! time): none gives 401 `MISSING_AUTH_TOKEN`, another 401
//! `INVALID_AUTH_TOKEN`. A `POST` whose `Content-Type` is not JSON gets 415
//! `UNSUPPORTED_CONTENT_TYPE`. Answers are
//! `{success, message, data, metadata: {apiVersion, requestId}}` (the create
//! adds `signingSecret`, its only appearance) and errors
//! `{success: false, message, error_code, details?, metadata}`.
//!
//! | call | answer |
//! | --- | --- |
//! | `GET /webhooks/events` | `data.eventKeys` |
//! | `POST /webhooks` | 201, the webhook and `signingSecret: "whsec_…"` |
//! | `GET /webhooks?senderId=&status=&event=&page=&limit=` | `data: {webhooks, pagination: {page, limit, total, totalPages}}`; `page` from 1, `limit` 1–100 (20 unless given) |
//! | `GET /webhooks/{uid}` | the webhook, or 404 `WEBHOOK_NOT_FOUND` |
//! | `POST /webhooks/{uid}` | partial update `{webhook: {…}}`, the webhook |
//!
//! Validation answers 400 `VALIDATION_FAILED` with
//! `details: [{field, message}]`: `name` (1–120 characters), `events` (a
//! non-empty list of catalog keys), `status` (`ACTIVE`/`INACTIVE`),
//! `timeoutMs` (1000–30000), `retryMaxAttempts` (1–10), `retryEnabled`,
//! `verificationHeaderKey` (an HTTP header name), `verificationToken`
//! (1–512 characters), `senderId` (6–15 digits). `endpointUrl` must be an
//! absolute http(s) URL (else 400 `WEBHOOK_ENDPOINT_INVALID`) and https,
//! except on a loopback host (`localhost`, `127.0.0.0/8`, `::1`) or when the
//! simulator runs with `--allow-http` (else 400
//! `WEBHOOK_ENDPOINT_REQUIRES_HTTPS`).
//!
//! ## Control (same bearer token)
//!
//! - `POST /_simulate/fail {"code": "FEATURE_NOT_AVAILABLE", "times": 1,
//!   "on": "update", "status": 403, "message": "…"}` makes the next `times`
//!   (default 1) authenticated calls of operation `on` (`events`, `create`,
//!   `list`, `get`, `update`, or `any`, the default) answer with that error
//!   instead of doing their work. `status` defaults to the documented one
//!   for the code (400 for an unknown code, so `{"code": "BOOM", "status":
//!   503}` simulates an outage). Injections queue up in order.
//! - `DELETE /_simulate/fail` forgets every pending injection.
//! - `GET /_simulate/webhooks` lists webhooks with their delivery counts,
//!   never their secrets.

use std::{collections::HashMap, net::IpAddr};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::{
    body::Bytes,
    extract::{Path, Query, Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use super::{story::EVENT_KEYS, Injection, Shared, SimWebhook, DEFAULT_SENDER};
use crate::store::{
    destinations::{Secret, DEFAULT_HEADER_KEY},
    format_millis, now_millis,
};

/// What the API handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub shared: Shared,
    pub token: Secret,
    pub allow_http: bool,
}

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/api/v2/webhooks/events", get(event_catalog))
        .route("/api/v2/webhooks", get(list).post(create))
        .route("/api/v2/webhooks/{uid}", get(one).post(update))
        .layer(middleware::from_fn_with_state(state.clone(), gate));
    let control = Router::new()
        .route("/_simulate/fail", axum::routing::post(inject).delete(clear))
        .route("/_simulate/webhooks", get(overview))
        .layer(middleware::from_fn_with_state(state.clone(), control_gate));
    api.merge(control).with_state(state)
}

/// The documented status of an error code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "MISSING_AUTH_TOKEN" | "INVALID_AUTH_TOKEN" => StatusCode::UNAUTHORIZED,
        "FEATURE_NOT_AVAILABLE" => StatusCode::FORBIDDEN,
        "WEBHOOK_NOT_FOUND" => StatusCode::NOT_FOUND,
        "UNSUPPORTED_CONTENT_TYPE" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn default_message(code: &str) -> &'static str {
    match code {
        "MISSING_AUTH_TOKEN" => "Authorization token is required",
        "INVALID_AUTH_TOKEN" => "Invalid or expired authorization token",
        "FEATURE_NOT_AVAILABLE" => "Webhooks v2 is not available on your current plan",
        "WHATSAPP_SETUP_INCOMPLETE" => "WhatsApp Business setup is incomplete for this account",
        "VALIDATION_FAILED" => "Validation failed",
        "WEBHOOK_ENDPOINT_INVALID" => "Webhook endpoint URL is invalid",
        "WEBHOOK_ENDPOINT_REQUIRES_HTTPS" => "Webhook endpoint URL must use HTTPS",
        "WEBHOOK_NOT_FOUND" => "Webhook not found",
        "UNSUPPORTED_CONTENT_TYPE" => "Content-Type must be application/json",
        _ => "Request failed",
    }
}

/// An injection as the control endpoint would queue it.
pub fn injection(
    code: &str,
    status: Option<u16>,
    message: Option<String>,
    on: &str,
    times: u32,
) -> Injection {
    Injection {
        code: code.to_owned(),
        status: status.unwrap_or_else(|| status_of(code).as_u16()),
        message: message.unwrap_or_else(|| default_message(code).to_owned()),
        on: on.to_owned(),
        remaining: times.max(1),
    }
}

fn metadata(shared: &Shared) -> Value {
    let id = shared.lock().next_id();
    json!({ "apiVersion": "v2", "requestId": format!("req_{id:08x}") })
}

fn failure(shared: &Shared, status: StatusCode, code: &str, message: &str) -> Response {
    failure_with(shared, status, code, message, None)
}

fn failure_with(
    shared: &Shared,
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<Value>,
) -> Response {
    let mut body = json!({
        "success": false,
        "message": message,
        "error_code": code,
        "metadata": metadata(shared),
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    (status, Json(body)).into_response()
}

fn success(shared: &Shared, status: StatusCode, message: &str, data: Value) -> Response {
    let body = json!({
        "success": true,
        "message": message,
        "data": data,
        "metadata": metadata(shared),
    });
    (status, Json(body)).into_response()
}

/// Whether the request carries the simulator's token; `Err` holds the
/// 401's error code.
fn check_token(state: &ApiState, headers: &HeaderMap) -> Result<(), &'static str> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or("MISSING_AUTH_TOKEN")?;
    let expected = state.token.expose().as_bytes();
    if bool::from(given.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err("INVALID_AUTH_TOKEN")
    }
}

/// The 401 for a request without the simulator's token, if it is one.
fn refuse_unauthorized(state: &ApiState, headers: &HeaderMap) -> Option<Response> {
    let code = check_token(state, headers).err()?;
    Some(failure(
        &state.shared,
        StatusCode::UNAUTHORIZED,
        code,
        default_message(code),
    ))
}

/// Which documented call a request is, for injections.
fn operation(method: &Method, path: &str) -> &'static str {
    let rest = path.trim_start_matches("/api/v2/webhooks");
    match (method.as_str(), rest) {
        ("GET", "/events") => "events",
        ("GET", "" | "/") => "list",
        ("POST", "" | "/") => "create",
        ("GET", _) => "get",
        _ => "update",
    }
}

/// Authentication, then a pending injection, then the content type.
async fn gate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if let Some(refusal) = refuse_unauthorized(&state, request.headers()) {
        return refusal;
    }
    let operation = operation(request.method(), request.uri().path());
    let injected = take_injection(&state.shared, operation);
    if let Some(injected) = injected {
        let status = StatusCode::from_u16(injected.status).unwrap_or(StatusCode::BAD_REQUEST);
        let details = (injected.code == "VALIDATION_FAILED")
            .then(|| json!([{"field": "webhook", "message": "rejected by injection"}]));
        return failure_with(
            &state.shared,
            status,
            &injected.code,
            &injected.message,
            details,
        );
    }
    if request.method() == Method::POST && !is_json(request.headers()) {
        let code = "UNSUPPORTED_CONTENT_TYPE";
        return failure(&state.shared, status_of(code), code, default_message(code));
    }
    next.run(request).await
}

fn take_injection(shared: &Shared, operation: &str) -> Option<Injection> {
    let mut state = shared.lock();
    let index = state
        .injections
        .iter()
        .position(|i| i.on == "any" || i.on == operation)?;
    let injection = &mut state.injections[index];
    injection.remaining -= 1;
    let taken = injection.clone();
    if injection.remaining == 0 {
        state.injections.remove(index);
    }
    Some(taken)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

async fn control_gate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    match refuse_unauthorized(&state, request.headers()) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

async fn event_catalog(State(state): State<ApiState>) -> Response {
    let data = json!({ "eventKeys": EVENT_KEYS });
    success(
        &state.shared,
        StatusCode::OK,
        "Webhook events retrieved",
        data,
    )
}

/// What the webhook fields of a create or update say, once checked.
#[derive(Debug, Default)]
struct Fields {
    name: Option<String>,
    endpoint_url: Option<String>,
    events: Option<Vec<String>>,
    active: Option<bool>,
    timeout_ms: Option<u64>,
    retry_enabled: Option<bool>,
    retry_max_attempts: Option<u64>,
    verification_header_key: Option<String>,
    verification_token: Option<String>,
    clear_verification_token: bool,
}

/// Field problems, as `details`.
#[derive(Debug, Default)]
struct Problems(Vec<Value>);

impl Problems {
    fn add(&mut self, field: &str, message: &str) {
        self.0.push(json!({ "field": field, "message": message }));
    }

    /// The 400 listing every problem, when there is one.
    fn refusal(self, shared: &Shared) -> Option<Response> {
        (!self.0.is_empty()).then(|| self.respond(shared))
    }

    fn respond(self, shared: &Shared) -> Response {
        failure_with(
            shared,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
            "Validation failed",
            Some(Value::Array(self.0)),
        )
    }
}

fn read_fields(webhook: &Map<String, Value>, problems: &mut Problems) -> Fields {
    let mut fields = Fields::default();
    let field = |name: &str| format!("webhook.{name}");
    if let Some(value) = webhook.get("name") {
        match value.as_str().map(str::trim) {
            Some(name) if (1..=120).contains(&name.chars().count()) => {
                fields.name = Some(name.to_owned())
            }
            _ => problems.add(&field("name"), "must be a string of 1 to 120 characters"),
        }
    }
    if let Some(value) = webhook.get("endpointUrl") {
        match value.as_str() {
            Some(url) if !url.trim().is_empty() => {
                fields.endpoint_url = Some(url.trim().to_owned())
            }
            _ => problems.add(&field("endpointUrl"), "must be a non-empty string"),
        }
    }
    if let Some(value) = webhook.get("events") {
        fields.events = read_events(value, &field("events"), problems);
    }
    if let Some(value) = webhook.get("status") {
        match value.as_str() {
            Some("ACTIVE") => fields.active = Some(true),
            Some("INACTIVE") => fields.active = Some(false),
            _ => problems.add(&field("status"), "must be ACTIVE or INACTIVE"),
        }
    }
    if let Some(value) = webhook.get("timeoutMs") {
        match value.as_u64().filter(|ms| (1000..=30_000).contains(ms)) {
            Some(ms) => fields.timeout_ms = Some(ms),
            None => problems.add(&field("timeoutMs"), "must be an integer from 1000 to 30000"),
        }
    }
    if let Some(value) = webhook.get("retryEnabled") {
        match value.as_bool() {
            Some(retry) => fields.retry_enabled = Some(retry),
            None => problems.add(&field("retryEnabled"), "must be true or false"),
        }
    }
    if let Some(value) = webhook.get("retryMaxAttempts") {
        match value.as_u64().filter(|n| (1..=10).contains(n)) {
            Some(n) => fields.retry_max_attempts = Some(n),
            None => problems.add(
                &field("retryMaxAttempts"),
                "must be an integer from 1 to 10",
            ),
        }
    }
    if let Some(value) = webhook.get("verificationHeaderKey") {
        let valid = value
            .as_str()
            .filter(|key| axum::http::HeaderName::try_from(*key).is_ok());
        match valid {
            Some(key) => fields.verification_header_key = Some(key.to_owned()),
            None => problems.add(
                &field("verificationHeaderKey"),
                "must be an HTTP header name",
            ),
        }
    }
    if let Some(value) = webhook.get("verificationToken") {
        match value.as_str().filter(|t| (1..=512).contains(&t.len())) {
            Some(token) => fields.verification_token = Some(token.to_owned()),
            None => problems.add(&field("verificationToken"), "must be 1 to 512 characters"),
        }
    }
    if let Some(value) = webhook.get("clearVerificationToken") {
        match value.as_bool() {
            Some(clear) => fields.clear_verification_token = clear,
            None => problems.add(&field("clearVerificationToken"), "must be true or false"),
        }
    }
    fields
}

fn read_events(value: &Value, field: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
        problems.add(field, "must be a non-empty list of event keys");
        return None;
    };
    let mut events = Vec::new();
    for item in items {
        match item.as_str() {
            Some(key) if EVENT_KEYS.contains(&key) => {
                if !events.iter().any(|e| e == key) {
                    events.push(key.to_owned());
                }
            }
            Some(key) => problems.add(field, &format!("unknown event key {key:?}")),
            None => problems.add(field, "event keys are strings"),
        }
    }
    Some(events)
}

/// The body and its `webhook` object, or the problem that makes it a 400.
fn webhook_object(body: &[u8]) -> Result<(Value, Map<String, Value>), Problems> {
    let mut problems = Problems::default();
    let Some(parsed) = serde_json::from_slice::<Value>(body).ok() else {
        problems.add("body", "must be a JSON object");
        return Err(problems);
    };
    match parsed.get("webhook").and_then(Value::as_object).cloned() {
        Some(webhook) => Ok((parsed, webhook)),
        None => {
            problems.add("webhook", "is required and must be an object");
            Err(problems)
        }
    }
}

/// Why an endpoint URL cannot be used, as an error code.
fn check_endpoint(url: &str, allow_http: bool) -> Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "WEBHOOK_ENDPOINT_INVALID")?;
    let host = parsed.host_str().ok_or("WEBHOOK_ENDPOINT_INVALID")?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(host) => Ok(()),
        "http" => Err("WEBHOOK_ENDPOINT_REQUIRES_HTTPS"),
        _ => Err("WEBHOOK_ENDPOINT_INVALID"),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn endpoint_refusal(shared: &Shared, url: &str, allow_http: bool) -> Option<Response> {
    let code = check_endpoint(url, allow_http).err()?;
    Some(failure(
        shared,
        status_of(code),
        code,
        default_message(code),
    ))
}

async fn create(State(state): State<ApiState>, body: Bytes) -> Response {
    let shared = &state.shared;
    let (body, webhook) = match webhook_object(&body) {
        Ok(parts) => parts,
        Err(problems) => return problems.respond(shared),
    };
    let mut problems = Problems::default();
    let fields = read_fields(&webhook, &mut problems);
    for (required, present) in [
        ("webhook.name", webhook.contains_key("name")),
        ("webhook.endpointUrl", webhook.contains_key("endpointUrl")),
        ("webhook.events", webhook.contains_key("events")),
    ] {
        if !present {
            problems.add(required, "is required");
        }
    }
    let sender = match body.get("senderId") {
        None | Some(Value::Null) => DEFAULT_SENDER.to_owned(),
        Some(value) => match value.as_str().filter(|s| is_sender(s)) {
            Some(sender) => sender.to_owned(),
            None => {
                problems.add("senderId", "must be a phone number of 6 to 15 digits");
                String::new()
            }
        },
    };
    if let Some(refusal) = problems.refusal(shared) {
        return refusal;
    }
    let endpoint_url = fields.endpoint_url.clone().unwrap_or_default();
    if let Some(refusal) = endpoint_refusal(shared, &endpoint_url, state.allow_http) {
        return refusal;
    }
    let webhook = new_webhook(shared, fields, endpoint_url, sender);
    let described = describe(&webhook);
    let secret = webhook.signing_secret.expose().to_owned();
    tracing::info!(uid = %webhook.uid, endpoint = %webhook.endpoint_url,
        active = webhook.active, "simulated webhook created");
    shared.lock().webhooks.push(webhook);
    let body = json!({
        "success": true,
        "message": "Webhook created. Store the signing secret now: it is not shown again.",
        "data": described,
        "signingSecret": secret,
        "metadata": metadata(shared),
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

fn is_sender(sender: &str) -> bool {
    (6..=15).contains(&sender.len()) && sender.bytes().all(|b| b.is_ascii_digit())
}

fn new_webhook(
    shared: &Shared,
    fields: Fields,
    endpoint_url: String,
    sender: String,
) -> SimWebhook {
    let id = shared.lock().next_id();
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let now = format_millis(now_millis());
    let token = fields.verification_token.map(Secret::new);
    let header_key = fields
        .verification_header_key
        .or_else(|| token.as_ref().map(|_| DEFAULT_HEADER_KEY.to_owned()));
    SimWebhook {
        uid: format!("wh_{id:04}{}", &hex::encode(&secret[..4])),
        name: fields.name.unwrap_or_default(),
        endpoint_url,
        phone_number_id: format!("10{}", &sender[sender.len().saturating_sub(8)..]),
        sender_id: sender,
        events: fields.events.unwrap_or_default(),
        active: fields.active.unwrap_or(true),
        timeout_ms: fields.timeout_ms.unwrap_or(10_000),
        retry_enabled: fields.retry_enabled.unwrap_or(true),
        retry_max_attempts: fields.retry_max_attempts.unwrap_or(3),
        verification_header_key: header_key,
        verification_token: token,
        signing_secret: Secret::new(format!("whsec_{}", hex::encode(secret))),
        created_at: now.clone(),
        updated_at: now,
        delivered: 0,
        failed: 0,
    }
}

/// A webhook as the API shows it: never its secret or token.
fn describe(w: &SimWebhook) -> Value {
    json!({
        "webhookUid": w.uid,
        "uid": w.uid,
        "name": w.name,
        "endpointUrl": w.endpoint_url,
        "phoneNumber": w.sender_id,
        "phoneNumberId": w.phone_number_id,
        "events": w.events,
        "status": if w.active { "ACTIVE" } else { "INACTIVE" },
        "timeoutMs": w.timeout_ms,
        "retryEnabled": w.retry_enabled,
        "retryMaxAttempts": w.retry_max_attempts,
        "verificationHeaderKey": w.verification_header_key,
        "hasVerificationToken": w.verification_token.is_some(),
        "createdAt": w.created_at,
        "updatedAt": w.updated_at,
    })
}

async fn list(
    State(state): State<ApiState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let shared = &state.shared;
    let mut problems = Problems::default();
    let mut number = |name: &str, default: u64, max: u64| -> u64 {
        match query.get(name).map(|v| v.parse::<u64>()) {
            None => default,
            Some(Ok(n)) if (1..=max).contains(&n) => n,
            Some(_) => {
                problems.add(name, &format!("must be an integer from 1 to {max}"));
                default
            }
        }
    };
    let page = number("page", 1, u64::from(u32::MAX));
    let limit = number("limit", 20, 100);
    let status = query.get("status").map(String::as_str);
    if !matches!(status, None | Some("ACTIVE" | "INACTIVE")) {
        problems.add("status", "must be ACTIVE or INACTIVE");
    }
    if let Some(refusal) = problems.refusal(shared) {
        return refusal;
    }
    let matching: Vec<Value> = shared
        .lock()
        .webhooks
        .iter()
        .filter(|w| query.get("senderId").is_none_or(|s| *s == w.sender_id))
        .filter(|w| status.is_none_or(|s| (s == "ACTIVE") == w.active))
        .filter(|w| query.get("event").is_none_or(|e| w.events.contains(e)))
        .map(describe)
        .collect();
    let total = matching.len() as u64;
    let total_pages = total.div_ceil(limit);
    let start = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    let webhooks: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(limit as usize)
        .collect();
    let data = json!({
        "webhooks": webhooks,
        "pagination": {"page": page, "limit": limit, "total": total, "totalPages": total_pages},
    });
    success(shared, StatusCode::OK, "Webhooks retrieved", data)
}

fn not_found(shared: &Shared) -> Response {
    let code = "WEBHOOK_NOT_FOUND";
    failure(shared, status_of(code), code, default_message(code))
}

async fn one(State(state): State<ApiState>, Path(uid): Path<String>) -> Response {
    let found = state
        .shared
        .lock()
        .webhooks
        .iter()
        .find(|w| w.uid == uid)
        .map(describe);
    match found {
        Some(data) => success(&state.shared, StatusCode::OK, "Webhook retrieved", data),
        None => not_found(&state.shared),
    }
}

async fn update(State(state): State<ApiState>, Path(uid): Path<String>, body: Bytes) -> Response {
    let shared = &state.shared;
    if shared.lock().webhook_mut(&uid).is_none() {
        return not_found(shared);
    }
    let (_, webhook) = match webhook_object(&body) {
        Ok(parts) => parts,
        Err(problems) => return problems.respond(shared),
    };
    let mut problems = Problems::default();
    let fields = read_fields(&webhook, &mut problems);
    if webhook.is_empty() {
        problems.add("webhook", "names nothing to change");
    }
    if fields.verification_token.is_some() && fields.clear_verification_token {
        problems.add(
            "webhook.clearVerificationToken",
            "cannot be combined with verificationToken",
        );
    }
    if let Some(refusal) = problems.refusal(shared) {
        return refusal;
    }
    if let Some(url) = &fields.endpoint_url {
        if let Some(refusal) = endpoint_refusal(shared, url, state.allow_http) {
            return refusal;
        }
    }
    let mut guard = shared.lock();
    let Some(target) = guard.webhook_mut(&uid) else {
        drop(guard);
        return not_found(shared);
    };
    apply(target, fields);
    tracing::info!(uid = %target.uid, active = target.active, "simulated webhook updated");
    let data = describe(target);
    drop(guard);
    success(shared, StatusCode::OK, "Webhook updated", data)
}

fn apply(w: &mut SimWebhook, fields: Fields) {
    if let Some(name) = fields.name {
        w.name = name;
    }
    if let Some(url) = fields.endpoint_url {
        w.endpoint_url = url;
    }
    if let Some(events) = fields.events {
        w.events = events;
    }
    if let Some(active) = fields.active {
        w.active = active;
    }
    if let Some(ms) = fields.timeout_ms {
        w.timeout_ms = ms;
    }
    if let Some(retry) = fields.retry_enabled {
        w.retry_enabled = retry;
    }
    if let Some(n) = fields.retry_max_attempts {
        w.retry_max_attempts = n;
    }
    if let Some(key) = fields.verification_header_key {
        w.verification_header_key = Some(key);
    }
    if let Some(token) = fields.verification_token {
        w.verification_token = Some(Secret::new(token));
        if w.verification_header_key.is_none() {
            w.verification_header_key = Some(DEFAULT_HEADER_KEY.to_owned());
        }
    }
    if fields.clear_verification_token {
        w.verification_token = None;
    }
    w.updated_at = format_millis(now_millis());
}

#[derive(Debug, Deserialize)]
struct InjectBody {
    code: String,
    times: Option<u32>,
    on: Option<String>,
    status: Option<u16>,
    message: Option<String>,
}

const OPERATIONS: [&str; 6] = ["any", "events", "create", "list", "get", "update"];

async fn inject(State(state): State<ApiState>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<InjectBody>(&body) else {
        let message = "expected {\"code\": \"…\", \"times\"?, \"on\"?, \"status\"?, \"message\"?}";
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response();
    };
    let on = body.on.as_deref().unwrap_or("any");
    let valid_status = body.status.is_none_or(|s| (400..=599).contains(&s));
    if !OPERATIONS.contains(&on) || body.code.is_empty() || !valid_status {
        let message = format!(
            "`on` is one of {}, `code` is not empty and `status` is 400 to 599",
            OPERATIONS.join(", ")
        );
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response();
    }
    let times = body.times.unwrap_or(1);
    let injection = injection(&body.code, body.status, body.message, on, times);
    let mut guard = state.shared.lock();
    guard.injections.push_back(injection);
    let pending = guard.injections.len();
    Json(json!({ "queued": true, "pending": pending })).into_response()
}

async fn clear(State(state): State<ApiState>) -> Response {
    state.shared.lock().injections.clear();
    Json(json!({ "pending": 0 })).into_response()
}

async fn overview(State(state): State<ApiState>) -> Response {
    let webhooks: Vec<Value> = state
        .shared
        .lock()
        .webhooks
        .iter()
        .map(|w| {
            let mut shown = describe(w);
            shown["delivered"] = json!(w.delivered);
            shown["failed"] = json!(w.failed);
            shown
        })
        .collect();
    Json(json!({ "webhooks": webhooks })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_are_allowed_on_loopback_hosts_only() {
        assert!(check_endpoint("https://ops.example.com/webhooks/whats91/a", false).is_ok());
        assert!(check_endpoint("http://127.0.0.1:3000/webhooks/whats91", false).is_ok());
        assert!(check_endpoint("http://localhost:3000/x", false).is_ok());
        assert!(check_endpoint("http://[::1]:3000/x", false).is_ok());
        assert_eq!(
            check_endpoint("http://ops.example.com/x", false),
            Err("WEBHOOK_ENDPOINT_REQUIRES_HTTPS")
        );
        assert!(check_endpoint("http://192.168.1.10/x", true).is_ok());
        for bad in ["not a url", "ftp://example.com/x", "/relative"] {
            assert_eq!(check_endpoint(bad, false), Err("WEBHOOK_ENDPOINT_INVALID"));
        }
    }

    #[test]
    fn requests_are_told_apart_by_method_and_path() {
        assert_eq!(operation(&Method::GET, "/api/v2/webhooks/events"), "events");
        assert_eq!(operation(&Method::GET, "/api/v2/webhooks"), "list");
        assert_eq!(operation(&Method::POST, "/api/v2/webhooks"), "create");
        assert_eq!(operation(&Method::GET, "/api/v2/webhooks/wh_1"), "get");
        assert_eq!(operation(&Method::POST, "/api/v2/webhooks/wh_1"), "update");
    }

    #[test]
    fn fields_are_checked_and_every_problem_is_listed() {
        let webhook = json!({"name": "", "events": ["nope"], "status": "ON", "timeoutMs": 5});
        let mut problems = Problems::default();
        read_fields(webhook.as_object().unwrap(), &mut problems);
        let fields: Vec<&str> = problems
            .0
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "webhook.name",
                "webhook.events",
                "webhook.status",
                "webhook.timeoutMs"
            ]
        );
    }
}
