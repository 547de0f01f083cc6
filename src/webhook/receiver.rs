//! `POST /webhooks/whats91/{slug}` (and `/webhooks/whats91` for the slug
//! `default`). The handler only sequences the checks of DESIGN §2, in their
//! order, and answers once the delivery is committed:
//!
//! 1. unknown slug → 404; 2. body over the limit → 413; 3. not JSON → 415;
//! 4. token, then 5. signature → 401, logged as a rejected attempt;
//! 6. stored, with flags; a body without a usable `event` answers 400.
//!
//! Projection and live fan-out happen after the answer, off the log.

use std::net::SocketAddr;

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Path, Request, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    envelope::Envelope,
    verify::{verify, Rejection},
};
use crate::{
    startup::AppState,
    store::{
        destinations::{Destination, DestinationStatus},
        events::{Appended, Flags, NewEvent, RejectedAttempt},
        now_millis,
    },
};

/// The slug served at `/webhooks/whats91`.
pub const DEFAULT_SLUG: &str = "default";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/whats91", post(receive_default))
        .route("/webhooks/whats91/{slug}", post(receive_slug))
}

async fn receive_default(State(state): State<AppState>, request: Request) -> Response {
    receive(state, DEFAULT_SLUG.to_owned(), request).await
}

async fn receive_slug(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    request: Request,
) -> Response {
    receive(state, slug, request).await
}

/// Runs the checks and logs the outcome, once, here.
async fn receive(state: AppState, slug: String, request: Request) -> Response {
    let remote_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let outcome = accept(&state, &slug, request, remote_addr.clone()).await;
    match &outcome {
        Ok(Receipt {
            appended,
            event_key,
            ..
        }) => tracing::info!(
            %slug,
            seq = appended.seq,
            event = event_key.as_deref().unwrap_or("-"),
            duplicate = appended.duplicate,
            "delivery accepted"
        ),
        Err(ReceiveError::Unavailable(cause)) => {
            tracing::error!(%slug, %cause, "delivery not stored")
        }
        Err(refusal) => {
            tracing::debug!(%slug, reason = refusal.reason(), remote = ?remote_addr, "delivery refused");
            state.metrics.count_refused(refusal.reason());
        }
    }
    match outcome {
        Ok(receipt) => {
            state
                .metrics
                .count_accepted(receipt.appended.duplicate, receipt.malformed);
            receipt.into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// A delivery that is in the log.
struct Receipt {
    appended: Appended,
    event_key: Option<String>,
    malformed: bool,
}

async fn accept(
    state: &AppState,
    slug: &str,
    request: Request,
    remote_addr: Option<String>,
) -> Result<Receipt, ReceiveError> {
    let destination = state
        .destinations
        .get(slug)
        .await
        .map_err(|e| ReceiveError::Unavailable(e.to_string()))?
        .ok_or(ReceiveError::UnknownDestination)?;
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body, state.settings.body_limit).await?;
    if !is_json(&parts.headers) {
        return Err(ReceiveError::UnsupportedContentType);
    }
    let checks = verify(&destination, &parts.headers, &body).map_err(|rejection| {
        state.writer.record_rejection(RejectedAttempt {
            at: now_millis(),
            slug: slug.to_owned(),
            destination_id: Some(destination.id),
            reason: rejection.as_str(),
            remote_addr: remote_addr.clone(),
        });
        ReceiveError::Unauthenticated(rejection)
    })?;

    let envelope = Envelope::parse(&body);
    let flags = flags_for(&destination, envelope.as_ref());
    let event_key = envelope.as_ref().map(|e| e.event.as_str().to_owned());
    let event = NewEvent {
        destination_id: destination.id,
        received_at: now_millis(),
        body_sha256: Sha256::digest(&body).into(),
        body,
        event_key: event_key.clone(),
        webhook_uid: envelope.as_ref().and_then(|e| e.webhook_uid.clone()),
        sender_id: envelope.as_ref().and_then(|e| e.sender_id.clone()),
        flags,
        signature_checked: checks.signature,
        token_checked: checks.token,
        content_type: header_text(&parts.headers, header::CONTENT_TYPE),
        remote_addr,
    };
    let appended = state
        .writer
        .append(event)
        .await
        .map_err(|e| ReceiveError::Unavailable(e.to_string()))?;
    Ok(Receipt {
        appended,
        event_key,
        malformed: flags.malformed,
    })
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes
/// (without reading the rest when `Content-Length` already says so).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ReceiveError> {
    let declared = header_text(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ReceiveError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ReceiveError::TooLarge),
        Err(_) => Err(ReceiveError::UnreadableBody),
    }
}

/// `application/json`, with or without parameters, or a `+json` type.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = header_text(headers, header::CONTENT_TYPE) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The flags a verified delivery gets from its destination.
pub fn flags_for(destination: &Destination, envelope: Option<&Envelope>) -> Flags {
    let while_inactive = destination.status == DestinationStatus::Inactive;
    let Some(envelope) = envelope else {
        return Flags {
            malformed: true,
            while_inactive,
            ..Flags::default()
        };
    };
    let uid_mismatch = match &destination.webhook_uid {
        Some(expected) => envelope.webhook_uid.as_deref() != Some(expected.as_str()),
        None => false,
    };
    Flags {
        malformed: false,
        not_subscribed: !destination.subscribes_to(envelope.event.as_str()),
        uid_mismatch,
        while_inactive,
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// Every way a delivery is not acknowledged.
#[derive(Debug)]
enum ReceiveError {
    UnknownDestination,
    TooLarge,
    UnreadableBody,
    UnsupportedContentType,
    Unauthenticated(Rejection),
    /// The database could not be read or the commit failed; the cause is
    /// logged, never sent.
    Unavailable(String),
}

impl ReceiveError {
    fn reason(&self) -> &'static str {
        match self {
            Self::UnknownDestination => "unknown_destination",
            Self::TooLarge => "body_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::UnsupportedContentType => "unsupported_content_type",
            Self::Unauthenticated(rejection) => rejection.as_str(),
            Self::Unavailable(_) => "unavailable",
        }
    }

    fn status_and_message(&self) -> (StatusCode, &'static str) {
        match self {
            Self::UnknownDestination => (StatusCode::NOT_FOUND, "no destination at this address"),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is over the size limit",
            ),
            Self::UnreadableBody => (StatusCode::BAD_REQUEST, "the body could not be read"),
            Self::UnsupportedContentType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "deliveries must be sent as application/json",
            ),
            // One message for every authentication failure: the reason is
            // in the rejected-attempts log, not in the answer.
            Self::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "the delivery is not authenticated",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the delivery could not be stored; send it again",
            ),
        }
    }
}

impl IntoResponse for ReceiveError {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        let code = match &self {
            Self::Unauthenticated(_) => "unauthenticated",
            other => other.reason(),
        };
        (status, Json(json!({ "error": code, "message": message }))).into_response()
    }
}

impl IntoResponse for Receipt {
    fn into_response(self) -> Response {
        let Appended { seq, duplicate } = self.appended;
        if self.malformed {
            let body = json!({
                "error": "malformed",
                "message": "the body is not a JSON object with an \"event\"; it was kept for review",
                "seq": seq,
            });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
        Json(json!({ "received": true, "seq": seq, "duplicate": duplicate })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::destinations::{Secret, DEFAULT_HEADER_KEY};

    fn destination() -> Destination {
        Destination {
            id: 1,
            slug: "default".into(),
            name: "default".into(),
            webhook_uid: Some("wh_abc".into()),
            sender_id: None,
            signing_secret: Some(Secret::new("whsec_x")),
            verification_header_key: DEFAULT_HEADER_KEY.into(),
            verification_token: None,
            events: vec!["message.inbound.text".into()],
            status: DestinationStatus::Active,
            quiet_period_secs: 3600,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn envelope(event: &str, uid: Option<&str>) -> Envelope {
        let body = json!({ "event": event, "webhookUid": uid, "data": {} });
        Envelope::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_matching_subscribed_delivery_has_no_flags() {
        let flags = flags_for(
            &destination(),
            Some(&envelope("message.inbound.text", Some("wh_abc"))),
        );
        assert_eq!(flags, Flags::default());
    }

    #[test]
    fn each_flag_is_raised_by_its_own_condition() {
        let mut d = destination();
        let other_event = flags_for(
            &d,
            Some(&envelope("template.status_update", Some("wh_abc"))),
        );
        assert!(other_event.not_subscribed && !other_event.uid_mismatch);
        let other_uid = flags_for(&d, Some(&envelope("message.inbound.text", Some("wh_zzz"))));
        assert!(other_uid.uid_mismatch && !other_uid.not_subscribed);
        let no_uid = flags_for(&d, Some(&envelope("message.inbound.text", None)));
        assert!(no_uid.uid_mismatch);
        d.status = DestinationStatus::Inactive;
        let inactive = flags_for(&d, None);
        assert!(inactive.malformed && inactive.while_inactive);
    }

    #[test]
    fn a_destination_without_a_webhook_uid_accepts_any_uid() {
        let mut d = destination();
        d.webhook_uid = None;
        let flags = flags_for(&d, Some(&envelope("message.inbound.text", Some("wh_zzz"))));
        assert!(!flags.uid_mismatch);
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/vnd.whats91+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
