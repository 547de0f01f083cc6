//! What the pages and the JSON API show: plain serialisable views of the
//! projections, shared by the server and the browser builds. Times are
//! ISO-8601 UTC strings.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// What a staff member may do. Each role may do everything the ones
/// before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also acknowledges alerts.
    Operator,
    /// Also manages destinations and users.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether this role may do what `required` may.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

/// The person (or API token) behind a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// A page of a list, newest first, and the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last one.
    pub next: Option<String>,
}

/// The verification header Whats91 suggests when none is given.
pub const DEFAULT_HEADER_KEY: &str = "X-CRM-Webhook-Token";

/// Message statuses in the order a delivery advances through them, lowest
/// first; `failed` is terminal and ranks above them all.
pub const MESSAGE_STATUSES: [&str; 7] = [
    "accepted",
    "queued",
    "pending",
    "sent",
    "delivered",
    "read",
    "failed",
];

/// Statuses Meta reports beside the progression; they never move a
/// timeline's current status.
pub const UNRANKED_STATUSES: [&str; 2] = ["deleted", "warning"];

/// The marks a stored delivery can carry, in display order (the event log's
/// column names).
pub const FLAG_NAMES: [&str; 4] = [
    "malformed",
    "not_subscribed",
    "uid_mismatch",
    "while_inactive",
];

/// A conversation, and when searching, the best matching message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub sender_id: String,
    pub phone: String,
    pub last_message: String,
    pub last_at: String,
    pub message_count: i64,
    /// The matching text with matches between `MATCH_START` and
    /// `MATCH_END`.
    pub snippet: Option<String>,
}

/// Marks around a search match in a snippet.
pub const MATCH_START: char = '\u{2}';
pub const MATCH_END: char = '\u{3}';

/// One entry of a conversation thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "direction", rename_all = "lowercase")]
pub enum ThreadItem {
    /// A message from the customer.
    Inbound {
        message_id: String,
        text: String,
        at: String,
    },
    /// A message sent to the customer, known from its delivery statuses.
    Outbound {
        message_id: String,
        status: String,
        error_code: Option<String>,
        at: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationThread {
    pub phone: String,
    pub conversations: Vec<ConversationSummary>,
    /// Oldest first.
    pub items: Vec<ThreadItem>,
}

/// A delivery timeline's headline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineSummary {
    pub message_id: String,
    pub recipient: String,
    pub sender_id: String,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub first_at: String,
    pub updated_at: String,
}

/// One status in a delivery timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineStatus {
    pub status: String,
    pub at: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub out_of_order: bool,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub summary: TimelineSummary,
    /// In time order.
    pub statuses: Vec<TimelineStatus>,
}

/// Filters of the delivery timelines; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineFilter {
    pub recipient: Option<String>,
    pub status: Option<String>,
    pub error: Option<String>,
    /// ISO-8601 or unix milliseconds, inclusive.
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSummary {
    pub id: i64,
    pub sender_id: String,
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateChange {
    pub status: String,
    pub category: Option<String>,
    pub reason: Option<String>,
    pub at: String,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub detail: Option<String>,
    pub template_id: Option<i64>,
    pub destination_id: Option<i64>,
    pub raised_at: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
}

/// One recorded action, as the audit page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub remote_addr: Option<String>,
}

/// What changed in the projections, published to the live pages: by a
/// projection batch, a receiver alert check or an acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The last sequence number applied.
    pub through_seq: i64,
    pub conversations: BTreeSet<i64>,
    pub timelines: BTreeSet<String>,
    pub templates: BTreeSet<i64>,
    /// Alerts raised.
    pub alerts: BTreeSet<i64>,
    /// Alerts acknowledged by someone.
    #[serde(default)]
    pub acknowledged: BTreeSet<i64>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
            && self.timelines.is_empty()
            && self.templates.is_empty()
            && self.alerts.is_empty()
            && self.acknowledged.is_empty()
    }
}
