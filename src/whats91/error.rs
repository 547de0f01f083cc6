//! What can go wrong when talking to Whats91: one variant per documented
//! `error_code`, and the ways a call can fail before Whats91 answers.
//!
//! Every message is written for the operator who reads it on the
//! Destinations page or the terminal: it says what to change. None carries
//! the API token, a signing secret, a header or a URL with credentials.

use serde_json::Value;

/// Why a call to the Whats91 API failed.
#[derive(Debug, thiserror::Error)]
pub enum Whats91Error {
    #[error(
        "Whats91 received no API token; set WHATS91_OPS_WHATS91_API_TOKEN to the \
         account's token (w91_live_…)"
    )]
    MissingAuthToken,
    #[error(
        "the Whats91 API token was rejected; check WHATS91_OPS_WHATS91_API_TOKEN \
         (it may have been revoked or belong to another environment)"
    )]
    InvalidAuthToken,
    #[error(
        "this Whats91 subscription does not include Webhooks v2; upgrade the plan \
         or register destinations by hand"
    )]
    FeatureNotAvailable,
    #[error(
        "the WhatsApp setup of this Whats91 account is incomplete; finish it in the \
         Whats91 dashboard, then try again"
    )]
    WhatsappSetupIncomplete,
    #[error("Whats91 refused the webhook settings: {}", summary(.message, .details))]
    ValidationFailed {
        /// Whats91's own message.
        message: String,
        /// One line per refused field, as Whats91 listed them.
        details: Vec<String>,
    },
    #[error(
        "Whats91 cannot use the receiver URL as a webhook endpoint; check \
         WHATS91_OPS_PUBLIC_URL (it must be an address Whats91 can reach)"
    )]
    WebhookEndpointInvalid,
    #[error(
        "Whats91 only delivers to https:// receiver URLs; set WHATS91_OPS_PUBLIC_URL \
         to this server's https address"
    )]
    WebhookEndpointRequiresHttps,
    #[error(
        "Whats91 has no such webhook; it may have been created with another account's \
         token (run an import to see the account's webhooks)"
    )]
    WebhookNotFound,
    #[error("Whats91 refused the request's content type; this is a bug in whats91-ops")]
    UnsupportedContentType,
    #[error("Whats91 refused the request ({code}, HTTP {status}): {message}")]
    UnknownCode {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Whats91 had a problem of its own (HTTP {status}); try again in a moment")]
    ServerError { status: u16 },
    #[error(
        "the Whats91 API could not be reached; check WHATS91_OPS_WHATS91_API_URL and \
         the network"
    )]
    Transport(#[source] reqwest::Error),
    #[error("the Whats91 API did not answer in time; try again in a moment")]
    Timeout,
    #[error("the Whats91 API answered with something unexpected (HTTP {status}): {what}")]
    UnexpectedResponse { status: u16, what: String },
    #[error("the Whats91 API URL {0:?} is not an absolute http:// or https:// URL")]
    InvalidBaseUrl(String),
}

impl Whats91Error {
    /// The documented `error_code` this error stands for, when Whats91 gave
    /// one.
    pub fn code(&self) -> Option<&str> {
        Some(match self {
            Self::MissingAuthToken => "MISSING_AUTH_TOKEN",
            Self::InvalidAuthToken => "INVALID_AUTH_TOKEN",
            Self::FeatureNotAvailable => "FEATURE_NOT_AVAILABLE",
            Self::WhatsappSetupIncomplete => "WHATSAPP_SETUP_INCOMPLETE",
            Self::ValidationFailed { .. } => "VALIDATION_FAILED",
            Self::WebhookEndpointInvalid => "WEBHOOK_ENDPOINT_INVALID",
            Self::WebhookEndpointRequiresHttps => "WEBHOOK_ENDPOINT_REQUIRES_HTTPS",
            Self::WebhookNotFound => "WEBHOOK_NOT_FOUND",
            Self::UnsupportedContentType => "UNSUPPORTED_CONTENT_TYPE",
            Self::UnknownCode { code, .. } => code,
            _ => return None,
        })
    }

    /// Whether trying the same idempotent call again may succeed: the
    /// call did not reach Whats91 or Whats91 failed on its side (5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::ServerError { .. } | Self::Transport(_) | Self::Timeout => true,
            Self::UnknownCode { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The error for a refusal Whats91 explained with `error_code`.
    pub(crate) fn from_code(
        status: u16,
        code: &str,
        message: String,
        details: Option<&Value>,
    ) -> Self {
        match code {
            "MISSING_AUTH_TOKEN" => Self::MissingAuthToken,
            "INVALID_AUTH_TOKEN" => Self::InvalidAuthToken,
            "FEATURE_NOT_AVAILABLE" => Self::FeatureNotAvailable,
            "WHATSAPP_SETUP_INCOMPLETE" => Self::WhatsappSetupIncomplete,
            "VALIDATION_FAILED" => Self::ValidationFailed {
                message,
                details: details.map(detail_lines).unwrap_or_default(),
            },
            "WEBHOOK_ENDPOINT_INVALID" => Self::WebhookEndpointInvalid,
            "WEBHOOK_ENDPOINT_REQUIRES_HTTPS" => Self::WebhookEndpointRequiresHttps,
            "WEBHOOK_NOT_FOUND" => Self::WebhookNotFound,
            "UNSUPPORTED_CONTENT_TYPE" => Self::UnsupportedContentType,
            _ => Self::UnknownCode {
                status,
                code: code.to_owned(),
                message,
            },
        }
    }

    /// The error for a transport failure, telling timeouts apart.
    pub(crate) fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else {
            // The URL carries no secret, but it is not needed either: the
            // message names the setting to check.
            Self::Transport(error.without_url())
        }
    }
}

/// `details` in the shapes an API commonly uses: a list of
/// `{field, message}` objects, an object of field to message(s), a list of
/// strings, or anything else shown as compact JSON.
fn detail_lines(details: &Value) -> Vec<String> {
    match details {
        Value::Array(items) => items.iter().map(detail_item).collect(),
        Value::Object(fields) => fields
            .iter()
            .map(|(field, message)| format!("{field}: {}", plain(message)))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![plain(other)],
    }
}

fn detail_item(item: &Value) -> String {
    let field = item.get("field").and_then(Value::as_str);
    let message = item.get("message").and_then(Value::as_str);
    match (field, message) {
        (Some(field), Some(message)) => format!("{field}: {message}"),
        (None, Some(message)) => message.to_owned(),
        _ => plain(item),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

fn summary(message: &str, details: &[String]) -> String {
    if details.is_empty() {
        message.to_owned()
    } else {
        details.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_documented_code_has_its_own_variant_and_gives_it_back() {
        let codes = [
            "MISSING_AUTH_TOKEN",
            "INVALID_AUTH_TOKEN",
            "FEATURE_NOT_AVAILABLE",
            "WHATSAPP_SETUP_INCOMPLETE",
            "VALIDATION_FAILED",
            "WEBHOOK_ENDPOINT_INVALID",
            "WEBHOOK_ENDPOINT_REQUIRES_HTTPS",
            "WEBHOOK_NOT_FOUND",
            "UNSUPPORTED_CONTENT_TYPE",
        ];
        for code in codes {
            let error = Whats91Error::from_code(400, code, "m".into(), None);
            assert!(!matches!(error, Whats91Error::UnknownCode { .. }), "{code}");
            assert_eq!(error.code(), Some(code));
        }
    }

    #[test]
    fn an_unknown_code_keeps_the_code_and_message() {
        let error = Whats91Error::from_code(429, "RATE_LIMITED", "slow down".into(), None);
        assert_eq!(error.code(), Some("RATE_LIMITED"));
        assert_eq!(
            error.to_string(),
            "Whats91 refused the request (RATE_LIMITED, HTTP 429): slow down"
        );
    }

    #[test]
    fn validation_details_are_read_in_common_shapes() {
        let list = json!([{"field": "webhook.name", "message": "is required"}]);
        let map = json!({"webhook.events": ["must not be empty", "unknown key"]});
        let error = Whats91Error::from_code(400, "VALIDATION_FAILED", "bad".into(), Some(&list));
        assert_eq!(
            error.to_string(),
            "Whats91 refused the webhook settings: webhook.name: is required"
        );
        assert_eq!(
            detail_lines(&map),
            ["webhook.events: must not be empty; unknown key"]
        );
        let bare = Whats91Error::from_code(400, "VALIDATION_FAILED", "bad input".into(), None);
        assert_eq!(
            bare.to_string(),
            "Whats91 refused the webhook settings: bad input"
        );
    }
}
