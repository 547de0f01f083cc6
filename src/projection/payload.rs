//! The `data` of the events the projections understand, parsed into types.
//! Unknown event keys are not an error: they stay in the log, unprojected.

use serde::Deserialize;
use serde_json::Value;

use super::status::MessageStatus;

pub const INBOUND_TEXT: &str = "message.inbound.text";
pub const STATUS_PREFIX: &str = "message.status.";
pub const TEMPLATE_STATUS: &str = "template.status_update";

/// Template statuses that raise an alert when a template moves to them.
pub const ALERTING_TEMPLATE_STATUSES: [&str; 4] = ["REJECTED", "PAUSED", "DISABLED", "FLAGGED"];

#[derive(Debug, Clone, PartialEq)]
pub enum Projected {
    InboundText(InboundText),
    Status(StatusUpdate),
    Template(TemplateUpdate),
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundText {
    pub phone: String,
    pub message_id: String,
    pub text: String,
    pub at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub message_id: String,
    pub recipient: String,
    pub status: MessageStatus,
    pub at: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUpdate {
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    pub status: String,
    pub reason: Option<String>,
}

/// Why a known event could not be projected (it stays in the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} event lacks a usable {field}")]
pub struct Unprojectable {
    pub event: String,
    pub field: &'static str,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    data: Value,
}

/// Reads the event; `Ok(None)` for event keys the projections ignore.
pub fn parse(event_key: &str, body: &[u8]) -> Result<Option<Projected>, Unprojectable> {
    let kind = if event_key == INBOUND_TEXT {
        Kind::Inbound
    } else if event_key.starts_with(STATUS_PREFIX) {
        Kind::Status
    } else if event_key == TEMPLATE_STATUS {
        Kind::Template
    } else {
        return Ok(None);
    };
    let missing = |field| Unprojectable {
        event: event_key.to_owned(),
        field,
    };
    let data = serde_json::from_slice::<Body>(body)
        .map_err(|_| missing("body"))?
        .data;
    let text = |field: &'static str| text_field(&data, field).ok_or_else(|| missing(field));
    let projected = match kind {
        Kind::Inbound => Projected::InboundText(InboundText {
            phone: normalize_phone(&text("from")?),
            message_id: text("messageId")?,
            text: text("text")?,
            at: data.get("timestamp").and_then(parse_time),
        }),
        Kind::Status => {
            // The status in `data` wins; the key's suffix is the fallback.
            let raw = text_field(&data, "status")
                .unwrap_or_else(|| event_key[STATUS_PREFIX.len()..].to_owned());
            let error = data.get("error");
            Projected::Status(StatusUpdate {
                message_id: text("messageId")?,
                recipient: normalize_phone(&text("recipient")?),
                status: MessageStatus::parse(&raw).ok_or_else(|| missing("status"))?,
                at: data.get("timestamp").and_then(parse_time),
                error_code: error.and_then(|e| text_field(e, "code")),
                error_message: error.and_then(|e| text_field(e, "message")),
            })
        }
        Kind::Template => Projected::Template(TemplateUpdate {
            name: text("templateName")?,
            language: text_field(&data, "language").unwrap_or_default(),
            category: text_field(&data, "category"),
            status: text("status")?.to_ascii_uppercase(),
            reason: text_field(&data, "reason"),
        }),
    };
    Ok(Some(projected))
}

enum Kind {
    Inbound,
    Status,
    Template,
}

/// A string field, or a number kept as text (error codes arrive as both).
fn text_field(value: &Value, field: &str) -> Option<String> {
    match value.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Phone numbers are compared as digits: `+91 98888-88888` is
/// `919888888888`.
pub fn normalize_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        raw.trim().to_owned()
    } else {
        digits
    }
}

/// An ISO-8601 timestamp, or unix seconds / milliseconds as a number or a
/// string of digits, as unix milliseconds.
pub fn parse_time(value: &Value) -> Option<i64> {
    let from_number = |n: i64| if n < 100_000_000_000 { n * 1000 } else { n };
    match value {
        Value::Number(n) => n.as_i64().map(from_number),
        Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() => {
            s.parse().ok().map(from_number)
        }
        Value::String(s) => {
            let parsed =
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339);
            parsed
                .ok()
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/payloads/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }

    fn parsed(name: &str) -> Option<Projected> {
        let body = fixture(name);
        let key = serde_json::from_slice::<Value>(&body).unwrap()["event"]
            .as_str()
            .unwrap()
            .to_owned();
        parse(&key, &body).unwrap()
    }

    #[test]
    fn inbound_text_fixtures_parse_with_their_unicode_text_intact() {
        let Some(Projected::InboundText(message)) = parsed("inbound_text_unicode") else {
            panic!("not an inbound message");
        };
        assert_eq!(message.phone, "919777777777");
        assert_eq!(
            message.text,
            "नमस्ते, मेरा ऑर्डर कहाँ है? 📦 \"quoted\" \\ back\\slash"
        );
        assert_eq!(message.at, Some(1_780_655_712_250));
    }

    #[test]
    fn status_fixtures_parse_error_codes_as_text_whether_string_or_number() {
        let Some(Projected::Status(failed)) = parsed("status_failed") else {
            panic!()
        };
        assert_eq!(failed.status.as_str(), "failed");
        assert_eq!(failed.error_code.as_deref(), Some("131026"));
        assert_eq!(failed.at, None, "no timestamp in this payload");
        let Some(Projected::Status(numeric)) = parsed("status_failed_numeric_code") else {
            panic!()
        };
        assert_eq!(numeric.error_code.as_deref(), Some("131049"));
        assert!(numeric
            .error_message
            .unwrap()
            .starts_with("This message was not delivered"));
        let Some(Projected::Status(read)) = parsed("status_read") else {
            panic!()
        };
        assert_eq!(
            (read.message_id.as_str(), read.recipient.as_str()),
            ("wamid.OUT0001", "919888888888")
        );
    }

    #[test]
    fn template_fixtures_parse_with_reason() {
        let Some(Projected::Template(rejected)) = parsed("template_rejected") else {
            panic!()
        };
        assert_eq!(rejected.name, "festival_offer_v1");
        assert_eq!(rejected.status, "REJECTED");
        assert_eq!(rejected.reason.as_deref(), Some("INVALID_FORMAT"));
        assert_eq!(rejected.category.as_deref(), Some("MARKETING"));
    }

    #[test]
    fn unknown_events_are_skipped_and_incomplete_known_ones_are_reported() {
        assert_eq!(parsed("unknown_event"), None);
        let incomplete = parse(INBOUND_TEXT, br#"{"data":{"from":"1","text":"hi"}}"#);
        assert_eq!(incomplete.unwrap_err().field, "messageId");
        let status_from_key = parse(
            "message.status.sent",
            br#"{"data":{"messageId":"m","recipient":"+91 98"}}"#,
        )
        .unwrap();
        let Some(Projected::Status(sent)) = status_from_key else {
            panic!()
        };
        assert_eq!(
            (sent.status.as_str(), sent.recipient.as_str()),
            ("sent", "9198")
        );
    }

    #[test]
    fn times_are_read_from_iso_strings_and_unix_numbers() {
        assert_eq!(parse_time(&Value::from("1970-01-01T00:00:01Z")), Some(1000));
        assert_eq!(
            parse_time(&Value::from(1_700_000_000)),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_time(&Value::from("1700000000123")),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_time(&Value::from("yesterday")), None);
    }
}
