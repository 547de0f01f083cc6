//! The shapes of Whats91's webhook management API: what the client sends
//! and the typed values it gives back. Reading is lenient (unknown fields
//! ignored, missing optional ones tolerated); sending is exactly DESIGN §1.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{unexpected, Whats91Error};
use crate::store::destinations::{DestinationStatus, Secret};

/// A webhook as Whats91 describes it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// `webhookUid` (or `uid`).
    pub uid: String,
    pub name: String,
    pub endpoint_url: String,
    /// The sender's phone number; deliveries carry it as `senderId`.
    pub phone_number: Option<String>,
    pub phone_number_id: Option<String>,
    /// Subscribed event keys.
    pub events: Vec<String>,
    /// `ACTIVE`, `INACTIVE`, or whatever else Whats91 says.
    pub status: String,
    pub timeout_ms: Option<u64>,
    pub retry_enabled: Option<bool>,
    pub retry_max_attempts: Option<u64>,
    pub verification_header_key: Option<String>,
    pub has_verification_token: bool,
}

impl Webhook {
    /// The local status matching Whats91's: anything but `ACTIVE` is
    /// treated as switched off.
    pub fn local_status(&self) -> DestinationStatus {
        if self.status.eq_ignore_ascii_case("ACTIVE") {
            DestinationStatus::Active
        } else {
            DestinationStatus::Inactive
        }
    }
}

/// What a create returns: the webhook and its signing secret, shown by
/// Whats91 only in this answer.
#[derive(Debug, Clone)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub signing_secret: Secret,
}

/// One page of the list.
#[derive(Debug, Clone)]
pub struct WebhookPage {
    pub webhooks: Vec<Webhook>,
    pub page: u32,
    /// When Whats91 says how many pages there are.
    pub total_pages: Option<u32>,
    pub total: Option<u64>,
}

/// The body of a create (`POST /webhooks`).
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub sender_id: Option<String>,
    pub name: String,
    pub endpoint_url: String,
    pub events: Vec<String>,
    pub status: Option<DestinationStatus>,
    pub timeout_ms: Option<u64>,
    pub retry_enabled: Option<bool>,
    pub retry_max_attempts: Option<u64>,
    pub verification_header_key: Option<String>,
    pub verification_token: Option<Secret>,
}

impl NewWebhook {
    pub(super) fn to_json(&self) -> Value {
        let mut webhook = Map::new();
        webhook.insert("name".into(), json!(self.name));
        webhook.insert("endpointUrl".into(), json!(self.endpoint_url));
        webhook.insert("events".into(), json!(self.events));
        let optional = [
            ("status", self.status.map(|s| json!(s.as_str()))),
            ("timeoutMs", self.timeout_ms.map(|v| json!(v))),
            ("retryEnabled", self.retry_enabled.map(|v| json!(v))),
            (
                "retryMaxAttempts",
                self.retry_max_attempts.map(|v| json!(v)),
            ),
            (
                "verificationHeaderKey",
                self.verification_header_key.as_ref().map(|v| json!(v)),
            ),
            (
                "verificationToken",
                self.verification_token.as_ref().map(|v| json!(v.expose())),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                webhook.insert(key.into(), value);
            }
        }
        let mut body = json!({ "webhook": webhook });
        if let Some(sender) = &self.sender_id {
            body["senderId"] = json!(sender);
        }
        body
    }
}

/// The body of a partial update (`POST /webhooks/:uid`): `None` leaves a
/// setting as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub status: Option<DestinationStatus>,
    pub retry_enabled: Option<bool>,
    pub verification_token: Option<Secret>,
    pub clear_verification_token: bool,
}

impl WebhookUpdate {
    /// An update that only switches the webhook on or off.
    pub fn status(status: DestinationStatus) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let mut webhook = Map::new();
        if let Some(status) = self.status {
            webhook.insert("status".into(), json!(status.as_str()));
        }
        if let Some(retry) = self.retry_enabled {
            webhook.insert("retryEnabled".into(), json!(retry));
        }
        if let Some(token) = &self.verification_token {
            webhook.insert("verificationToken".into(), json!(token.expose()));
        }
        if self.clear_verification_token {
            webhook.insert("clearVerificationToken".into(), json!(true));
        }
        json!({ "webhook": webhook })
    }
}

/// Every answer: `{success, message, data, signingSecret?, error_code?,
/// details?, metadata}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope {
    pub success: Option<bool>,
    pub message: Option<String>,
    pub data: Option<Value>,
    pub signing_secret: Option<String>,
    #[serde(rename = "error_code", alias = "errorCode")]
    pub error_code: Option<String>,
    pub details: Option<Value>,
}

/// A webhook as it arrives, before the uid is settled.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawWebhook {
    webhook_uid: Option<String>,
    uid: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    endpoint_url: String,
    phone_number: Option<Value>,
    phone_number_id: Option<Value>,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    status: String,
    timeout_ms: Option<u64>,
    retry_enabled: Option<bool>,
    retry_max_attempts: Option<u64>,
    verification_header_key: Option<String>,
    #[serde(default)]
    has_verification_token: bool,
}

impl RawWebhook {
    pub(super) fn into_webhook(self, status: StatusCode) -> Result<Webhook, Whats91Error> {
        let uid = self
            .webhook_uid
            .or(self.uid)
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| unexpected(status, "a webhook without webhookUid"))?;
        Ok(Webhook {
            uid,
            name: self.name,
            endpoint_url: self.endpoint_url,
            phone_number: self.phone_number.as_ref().and_then(text),
            phone_number_id: self.phone_number_id.as_ref().and_then(text),
            events: self.events,
            status: self.status,
            timeout_ms: self.timeout_ms,
            retry_enabled: self.retry_enabled,
            retry_max_attempts: self.retry_max_attempts,
            verification_header_key: self.verification_header_key,
            has_verification_token: self.has_verification_token,
        })
    }
}

/// Ids and phone numbers arrive as strings or as numbers.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl WebhookPage {
    pub(super) fn from_data(
        status: StatusCode,
        data: Option<Value>,
        page: u32,
    ) -> Result<Self, Whats91Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Paged {
            #[serde(default)]
            webhooks: Vec<RawWebhook>,
            pagination: Option<Pagination>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Pagination {
            total: Option<u64>,
            total_pages: Option<u32>,
        }
        let data = data.ok_or_else(|| unexpected(status, "the list holds no data"))?;
        let (raw, pagination) = if data.is_array() {
            let raw: Vec<RawWebhook> = serde_json::from_value(data)
                .map_err(|e| unexpected(status, &format!("list not as documented: {e}")))?;
            (raw, None)
        } else {
            let paged: Paged = serde_json::from_value(data)
                .map_err(|e| unexpected(status, &format!("list not as documented: {e}")))?;
            (paged.webhooks, paged.pagination)
        };
        let webhooks = raw
            .into_iter()
            .map(|raw| raw.into_webhook(status))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            webhooks,
            page,
            total_pages: pagination.as_ref().and_then(|p| p.total_pages),
            total: pagination.and_then(|p| p.total),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_body_has_the_documented_shape_and_leaves_out_what_is_unset() {
        let new = NewWebhook {
            sender_id: Some("916268662275".into()),
            name: "CRM".into(),
            endpoint_url: "https://ops.example.com/webhooks/whats91/crm".into(),
            events: vec!["message.inbound.text".into()],
            status: Some(DestinationStatus::Inactive),
            verification_header_key: Some("X-CRM-Webhook-Token".into()),
            verification_token: Some(Secret::new("tok")),
            ..NewWebhook::default()
        };
        assert_eq!(
            new.to_json(),
            json!({
                "senderId": "916268662275",
                "webhook": {
                    "name": "CRM",
                    "endpointUrl": "https://ops.example.com/webhooks/whats91/crm",
                    "events": ["message.inbound.text"],
                    "status": "INACTIVE",
                    "verificationHeaderKey": "X-CRM-Webhook-Token",
                    "verificationToken": "tok",
                }
            })
        );
    }

    #[test]
    fn a_status_update_sends_only_the_status() {
        let update = WebhookUpdate::status(DestinationStatus::Active);
        assert_eq!(update.to_json(), json!({"webhook": {"status": "ACTIVE"}}));
    }

    #[test]
    fn a_list_page_is_read_with_or_without_pagination() {
        let hook = json!({"webhookUid": "wh_1", "name": "a", "status": "ACTIVE",
            "phoneNumberId": 1234, "events": []});
        let paged = json!({"webhooks": [hook], "pagination": {"page": 1, "limit": 50,
            "total": 1, "totalPages": 1}});
        let page = WebhookPage::from_data(StatusCode::OK, Some(paged), 1).unwrap();
        assert_eq!(page.webhooks[0].uid, "wh_1");
        assert_eq!(page.webhooks[0].phone_number_id.as_deref(), Some("1234"));
        assert_eq!(page.total_pages, Some(1));
        let bare = WebhookPage::from_data(StatusCode::OK, Some(json!([hook])), 1).unwrap();
        assert_eq!(bare.webhooks.len(), 1);
        assert_eq!(bare.total_pages, None);
    }
}
