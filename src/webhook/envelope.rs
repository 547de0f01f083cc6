//! The Whats91 delivery envelope `{event, webhookUid, senderId, data}`.
//!
//! Only the three routing fields are read here; `data` and any field
//! Whats91 adds later stay in the raw body, untouched.

use serde::Deserialize;
use serde_json::Value;

/// An event key such as `message.inbound.text`; any non-empty key without
/// control characters is accepted, so new Whats91 events are kept too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKey(String);

impl EventKey {
    const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Option<Self> {
        let fits = !raw.is_empty() && raw.len() <= Self::MAX_LEN;
        (fits && !raw.chars().any(char::is_control)).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The routing fields of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub event: EventKey,
    pub webhook_uid: Option<String>,
    pub sender_id: Option<String>,
}

#[derive(Deserialize)]
struct RawEnvelope {
    event: Option<Value>,
    #[serde(rename = "webhookUid")]
    webhook_uid: Option<Value>,
    #[serde(rename = "senderId")]
    sender_id: Option<Value>,
}

impl Envelope {
    /// Reads the envelope, or `None` when the body is not a JSON object
    /// with a usable `event` (the delivery is then stored as `malformed`).
    pub fn parse(body: &[u8]) -> Option<Self> {
        let raw: RawEnvelope = serde_json::from_slice(body).ok()?;
        let event = EventKey::parse(raw.event.as_ref()?.as_str()?)?;
        Some(Self {
            event,
            webhook_uid: raw.webhook_uid.as_ref().and_then(text),
            sender_id: raw.sender_id.as_ref().and_then(text),
        })
    }
}

/// Identifiers sometimes arrive as numbers; both forms are kept as text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_payload_parses_with_its_event_key() {
        let cases = [
            (
                include_str!("../../tests/fixtures/payloads/inbound_text.json"),
                "message.inbound.text",
            ),
            (
                include_str!("../../tests/fixtures/payloads/inbound_text_unicode.json"),
                "message.inbound.text",
            ),
            (
                include_str!("../../tests/fixtures/payloads/status_failed_numeric_code.json"),
                "message.status.failed",
            ),
            (
                include_str!("../../tests/fixtures/payloads/template_rejected.json"),
                "template.status_update",
            ),
            (
                include_str!("../../tests/fixtures/payloads/unknown_event.json"),
                "message.inbound.image",
            ),
        ];
        for (body, key) in cases {
            let envelope = Envelope::parse(body.as_bytes()).expect(key);
            assert_eq!(envelope.event.as_str(), key);
            assert_eq!(envelope.webhook_uid.as_deref(), Some("wh_abc"));
            assert_eq!(envelope.sender_id.as_deref(), Some("916268662275"));
        }
    }

    #[test]
    fn bodies_without_a_usable_event_are_malformed() {
        for body in [
            &b"not json"[..],
            b"",
            b"[1,2]",
            b"\"text\"",
            br#"{"data":{}}"#,
            br#"{"event":""}"#,
            br#"{"event":42}"#,
            br#"{"event":null}"#,
            br#"{"event":"a\u0000b"}"#,
        ] {
            assert_eq!(
                Envelope::parse(body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn numeric_sender_ids_are_kept_as_text() {
        let envelope = Envelope::parse(br#"{"event":"x","senderId":916268662275}"#).unwrap();
        assert_eq!(envelope.sender_id.as_deref(), Some("916268662275"));
        assert_eq!(envelope.webhook_uid, None);
    }
}
