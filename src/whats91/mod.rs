//! The Whats91 API v2 client: webhook management with a bearer token.
//!
//! Only what DESIGN §1 lists: the event catalog, create, list (every page),
//! get and a partial update. Reads (`GET`) are tried once more after a
//! transport failure, a timeout or a 5xx; writes never are, since a second
//! create would make a second webhook with a second secret.
//!
//! The token lives in a [`Secret`] and goes only into the `Authorization`
//! header: `Debug` shows the base URL alone, errors name the setting to
//! check rather than echoing values, and the debug log line of each call
//! holds the method, path and status.
//!
//! ## Pagination
//!
//! DESIGN §1 gives the list's query (`page`, `limit`) but not the shape of
//! its answer. The client reads
//! `data: {webhooks: [...], pagination: {page, limit, total, totalPages}}`
//! (the shape `simulate` serves) and also accepts `data` as a bare array.
//! It asks for pages 1, 2, … of [`PAGE_LIMIT`] and stops at `totalPages`
//! when the answer gives it, otherwise at the first page that brings no
//! webhook it has not seen (empty, or page 1 again from an API that ignores
//! `page`); never after more than [`MAX_PAGES`]. A short page is not taken
//! as the last, since an API may cap `limit` below what was asked.

mod error;
mod types;

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::Whats91Error;
pub use types::{CreatedWebhook, NewWebhook, Webhook, WebhookPage, WebhookUpdate};

use crate::store::destinations::Secret;
use types::{Envelope, RawWebhook};

/// Where the public API lives.
pub const DEFAULT_API_URL: &str = "https://graph.whats91.com/api/v2";

/// Webhooks asked for per list page.
pub const PAGE_LIMIT: u32 = 50;

/// Pages read at most by [`Whats91Client::list_all`]: 5 000 webhooks.
pub const MAX_PAGES: u32 = 100;

/// How long the client waits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To open the connection (TCP and TLS).
    pub connect: Duration,
    /// For the whole call, answer included.
    pub total: Duration,
    /// Pause before the one retry of a read.
    pub retry_after: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(20),
            retry_after: Duration::from_millis(300),
        }
    }
}

/// A client for one Whats91 account. Cheap to clone.
#[derive(Clone)]
pub struct Whats91Client {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    retry_after: Duration,
}

impl std::fmt::Debug for Whats91Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whats91Client")
            .field("base", &self.base.as_str())
            .field("token", &"***")
            .finish()
    }
}

impl Whats91Client {
    /// A client for the API at `base_url` (for example
    /// [`DEFAULT_API_URL`]) with the account's bearer token.
    pub fn new(base_url: &str, token: Secret) -> Result<Self, Whats91Error> {
        Self::with_timeouts(base_url, token, Timeouts::default())
    }

    pub fn with_timeouts(
        base_url: &str,
        token: Secret,
        timeouts: Timeouts,
    ) -> Result<Self, Whats91Error> {
        let base = parse_base(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .user_agent(concat!("whats91-ops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Whats91Error::from_transport)?;
        Ok(Self {
            http,
            base,
            token,
            retry_after: timeouts.retry_after,
        })
    }

    /// The API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The event keys a webhook can subscribe to (`data.eventKeys`).
    pub async fn event_catalog(&self) -> Result<Vec<String>, Whats91Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Catalog {
            event_keys: Vec<String>,
        }
        let url = self.url(&["webhooks", "events"]);
        let catalog: Catalog = self.read(url).await?;
        Ok(catalog.event_keys)
    }

    /// Creates a webhook. The answer holds its signing secret, which
    /// Whats91 shows this once: store it before doing anything else.
    pub async fn create(&self, new: &NewWebhook) -> Result<CreatedWebhook, Whats91Error> {
        let url = self.url(&["webhooks"]);
        let (status, envelope) = self.send(Method::POST, url, Some(new.to_json())).await?;
        let raw: RawWebhook = data(status, envelope.data)?;
        let secret = envelope
            .signing_secret
            .ok_or_else(|| unexpected(status, "the create answer holds no signingSecret"))?;
        Ok(CreatedWebhook {
            webhook: raw.into_webhook(status)?,
            signing_secret: Secret::new(secret),
        })
    }

    /// One page of the account's webhooks (pages count from 1).
    pub async fn list_page(&self, page: u32, limit: u32) -> Result<WebhookPage, Whats91Error> {
        let mut url = self.url(&["webhooks"]);
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("limit", &limit.to_string());
        let (status, envelope) = self.send_with_retry(url).await?;
        WebhookPage::from_data(status, envelope.data, page)
    }

    /// Every webhook of the account, page after page (see the module
    /// documentation for when it stops).
    pub async fn list_all(&self) -> Result<Vec<Webhook>, Whats91Error> {
        let mut all: Vec<Webhook> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page in 1..=MAX_PAGES {
            let current = self.list_page(page, PAGE_LIMIT).await?;
            let fresh: Vec<Webhook> = current
                .webhooks
                .into_iter()
                .filter(|w| seen.insert(w.uid.clone()))
                .collect();
            let done = match current.total_pages {
                Some(total) => page >= total,
                // Without pagination fields, a page that brings nothing new
                // is the end (an API that ignores `page` repeats page 1).
                None => fresh.is_empty(),
            };
            let exhausted = fresh.is_empty();
            all.extend(fresh);
            if done || exhausted {
                break;
            }
        }
        Ok(all)
    }

    /// One webhook by its uid.
    pub async fn get(&self, webhook_uid: &str) -> Result<Webhook, Whats91Error> {
        let url = self.url(&["webhooks", webhook_uid]);
        let (status, envelope) = self.send_with_retry(url).await?;
        data::<RawWebhook>(status, envelope.data)?.into_webhook(status)
    }

    /// Changes some settings of a webhook; what `update` leaves `None`
    /// stays as it is. The secret is never rotated by this call.
    pub async fn update(
        &self,
        webhook_uid: &str,
        update: &WebhookUpdate,
    ) -> Result<Webhook, Whats91Error> {
        let url = self.url(&["webhooks", webhook_uid]);
        let (status, envelope) = self.send(Method::POST, url, Some(update.to_json())).await?;
        data::<RawWebhook>(status, envelope.data)?.into_webhook(status)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    async fn read<T: DeserializeOwned>(&self, url: Url) -> Result<T, Whats91Error> {
        let (status, envelope) = self.send_with_retry(url).await?;
        data(status, envelope.data)
    }

    /// A `GET`, tried a second time when the first failure may pass.
    async fn send_with_retry(&self, url: Url) -> Result<(StatusCode, Envelope), Whats91Error> {
        match self.send(Method::GET, url.clone(), None).await {
            Err(error) if error.is_transient() => {
                tracing::debug!(path = url.path(), %error, "retrying a Whats91 read");
                tokio::time::sleep(self.retry_after).await;
                self.send(Method::GET, url, None).await
            }
            other => other,
        }
    }

    /// One call: the answer's envelope when Whats91 says it succeeded,
    /// the typed error otherwise.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<(StatusCode, Envelope), Whats91Error> {
        let path = url.path().to_owned();
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(Whats91Error::from_transport)?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(Whats91Error::from_transport)?;
        tracing::debug!(%method, path, status = status.as_u16(), "whats91 call");
        parse_answer(status, &bytes)
    }
}

fn parse_base(raw: &str) -> Result<Url, Whats91Error> {
    let invalid = || Whats91Error::InvalidBaseUrl(raw.to_owned());
    let url = Url::parse(raw.trim()).map_err(|_| invalid())?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if usable {
        Ok(url)
    } else {
        Err(invalid())
    }
}

/// Reads an answer: success, a documented refusal, or something else.
fn parse_answer(status: StatusCode, bytes: &[u8]) -> Result<(StatusCode, Envelope), Whats91Error> {
    let envelope: Option<Envelope> = serde_json::from_slice(bytes).ok();
    let refused =
        !status.is_success() || envelope.as_ref().is_some_and(|e| e.success == Some(false));
    match envelope {
        Some(envelope) if !refused => Ok((status, envelope)),
        Some(Envelope {
            error_code: Some(code),
            message,
            details,
            ..
        }) => Err(Whats91Error::from_code(
            status.as_u16(),
            &code,
            message.unwrap_or_default(),
            details.as_ref(),
        )),
        _ if status.is_server_error() => Err(Whats91Error::ServerError {
            status: status.as_u16(),
        }),
        Some(_) => Err(unexpected(status, "a refusal without error_code")),
        None => Err(unexpected(status, "the answer is not JSON")),
    }
}

fn data<T: DeserializeOwned>(status: StatusCode, data: Option<Value>) -> Result<T, Whats91Error> {
    let data = data.ok_or_else(|| unexpected(status, "the answer holds no data"))?;
    serde_json::from_value(data)
        .map_err(|error| unexpected(status, &format!("data not as documented: {error}")))
}

fn unexpected(status: StatusCode, what: &str) -> Whats91Error {
    Whats91Error::UnexpectedResponse {
        status: status.as_u16(),
        what: what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Whats91Client {
        Whats91Client::new(
            "https://graph.whats91.com/api/v2/",
            Secret::new("w91_live_never_shown"),
        )
        .unwrap()
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let shown = format!("{:?}", client());
        assert!(!shown.contains("never_shown"), "{shown}");
        assert!(shown.contains("graph.whats91.com"), "{shown}");
    }

    #[test]
    fn paths_are_joined_below_the_base_and_uids_are_escaped() {
        let client = client();
        assert_eq!(
            client.url(&["webhooks", "events"]).as_str(),
            "https://graph.whats91.com/api/v2/webhooks/events"
        );
        assert_eq!(
            client.url(&["webhooks", "wh/1?x"]).as_str(),
            "https://graph.whats91.com/api/v2/webhooks/wh%2F1%3Fx"
        );
        assert_eq!(client.base_url(), "https://graph.whats91.com/api/v2");
    }

    #[test]
    fn base_urls_with_credentials_or_other_schemes_are_refused() {
        for raw in [
            "ftp://graph.whats91.com",
            "graph.whats91.com/api/v2",
            "https://user:pass@graph.whats91.com/api/v2",
            "https://graph.whats91.com/api/v2?token=x",
        ] {
            assert!(parse_base(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn answers_are_told_apart_by_status_and_error_code() {
        let ok = br#"{"success":true,"data":{"eventKeys":["a"]}}"#;
        assert!(parse_answer(StatusCode::OK, ok).is_ok());
        let refused = br#"{"success":false,"message":"no","error_code":"WEBHOOK_NOT_FOUND"}"#;
        assert!(matches!(
            parse_answer(StatusCode::NOT_FOUND, refused),
            Err(Whats91Error::WebhookNotFound)
        ));
        assert!(matches!(
            parse_answer(StatusCode::BAD_GATEWAY, b"<html>"),
            Err(Whats91Error::ServerError { status: 502 })
        ));
        assert!(matches!(
            parse_answer(StatusCode::OK, b"<html>"),
            Err(Whats91Error::UnexpectedResponse { status: 200, .. })
        ));
        let false_with_200 = br#"{"success":false,"error_code":"INVALID_AUTH_TOKEN"}"#;
        assert!(matches!(
            parse_answer(StatusCode::OK, false_with_200),
            Err(Whats91Error::InvalidAuthToken)
        ));
    }
}
