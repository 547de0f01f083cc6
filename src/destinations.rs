//! Managing destinations: the one implementation behind the Destinations
//! page, the JSON API and `whats91-ops destination`.
//!
//! Each operation checks what it can locally first, calls Whats91 when the
//! destination is (or becomes) linked to a webhook there, then changes the
//! database, forgets the receiver's cached copy and writes one audit entry.
//! Audit details name slugs, webhook uids, events and statuses, never a
//! secret. Errors are [`DestinationError`]s: every variant but `Database`
//! is safe to show to staff as it is ([`DestinationError::is_unexpected`]).
//!
//! ## Creating through Whats91: the order of steps
//!
//! The signing secret is in the create answer only, so the steps are
//! arranged to make a failure after it unlikely and visible:
//!
//! 1. everything local is checked first (slug free and well-formed, header
//!    name, at least one event), and the events against Whats91's catalog;
//! 2. Whats91 creates the webhook;
//! 3. the destination is inserted at once with the secret, the webhook uid
//!    and the sender.
//!
//! Inserting a placeholder before step 2 would not make step 3 safer (the
//! database can fail there just the same) and would leave half-made rows to
//! clean up. If step 3 fails anyway, the webhook is switched INACTIVE at
//! Whats91 (there is no delete) so it cannot deliver into a 404 or another
//! destination, and [`DestinationError::CreatedButNotStored`] names its uid.

use std::collections::HashMap;

use sqlx::SqlitePool;

use crate::{
    auth::audit,
    config::PublicUrl,
    store::destinations::{
        self, Destination, DestinationCache, DestinationError, DestinationStatus, NewDestination,
        Secret, DEFAULT_HEADER_KEY,
    },
    whats91::{NewWebhook, Webhook, WebhookUpdate, Whats91Client},
};

/// Seconds of silence after which a new destination is reported quiet.
pub const DEFAULT_QUIET_PERIOD_SECS: i64 = 3600;

/// Who asks, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The staff member's name, or [`audit::COMMAND_LINE`].
    pub name: &'a str,
    /// The remote address, when the request came over HTTP.
    pub from: Option<&'a str>,
}

impl Actor<'static> {
    /// Whoever runs `whats91-ops` in a terminal.
    pub fn command_line() -> Self {
        Self {
            name: audit::COMMAND_LINE,
            from: None,
        }
    }
}

/// What the operations work with. Build it with
/// `AppState::manage_destinations()` inside the server.
#[derive(Debug, Clone, Copy)]
pub struct Manager<'a> {
    pub pool: &'a SqlitePool,
    /// `None` when no API token is configured.
    pub whats91: Option<&'a Whats91Client>,
    /// This server's public base URL, for receiver URLs.
    pub public_url: &'a PublicUrl,
    /// The receiver's cache, inside `serve`.
    pub cache: Option<&'a DestinationCache>,
}

/// A webhook to create at Whats91 and the destination that receives it.
#[derive(Debug, Clone)]
pub struct CreateThroughWhats91 {
    pub name: String,
    pub slug: String,
    /// At least one key of the event catalog.
    pub events: Vec<String>,
    /// The header Whats91 carries the verification token in.
    pub verification_header_key: String,
    /// Optional: the signing secret alone authenticates deliveries.
    pub verification_token: Option<Secret>,
    /// Create it INACTIVE, to be switched on once everything is ready (as
    /// Whats91 advises).
    pub start_inactive: bool,
    /// Which Whats91 sender (phone number) it belongs to; the account's
    /// default when `None`.
    pub sender_id: Option<String>,
}

/// A created destination and the URL Whats91 delivers it to.
#[derive(Debug, Clone)]
pub struct Created {
    pub destination: Destination,
    pub receiver_url: String,
}

/// One of the account's webhooks at Whats91, as an import lists it.
#[derive(Debug, Clone)]
pub struct RemoteWebhook {
    pub webhook: Webhook,
    /// The local destination already linked to it.
    pub linked_slug: Option<String>,
    /// The slug its endpoint URL names, when it points at this server's
    /// receiver: a good default for linking.
    pub suggested_slug: Option<String>,
}

/// An existing Whats91 webhook to link to a new local destination. Its
/// secret cannot be fetched from Whats91: the operator supplies it.
#[derive(Debug, Clone)]
pub struct LinkExisting {
    pub webhook_uid: String,
    pub slug: String,
    /// [default: the webhook's name at Whats91]
    pub name: Option<String>,
    pub signing_secret: Option<Secret>,
    pub verification_token: Option<Secret>,
}

impl<'a> Manager<'a> {
    /// The URL Whats91 must deliver to for `slug`.
    pub fn receiver_url(&self, slug: &str) -> String {
        self.public_url.join(&format!("/webhooks/whats91/{slug}"))
    }

    /// Whether webhooks can be created, imported and switched at Whats91.
    pub fn has_whats91(&self) -> bool {
        self.whats91.is_some()
    }

    /// The event keys a webhook can subscribe to, live from Whats91.
    pub async fn event_catalog(&self) -> Result<Vec<String>, DestinationError> {
        let client = self.client("reading the event catalog")?;
        Ok(client.event_catalog().await?)
    }

    /// Creates the webhook at Whats91 with this server's receiver URL and
    /// stores the destination with the signing secret from the answer
    /// (see the module documentation for the order of steps).
    pub async fn create_through_whats91(
        &self,
        request: CreateThroughWhats91,
        actor: Actor<'_>,
    ) -> Result<Created, DestinationError> {
        let client = self.client("creating a webhook through Whats91")?;
        let mut new = planned_destination(&request)?;
        new.validate()?;
        self.ensure_slug_free(&new.slug).await?;
        check_events(client, &new.events).await?;

        let receiver_url = self.receiver_url(&new.slug);
        let created = client
            .create(&NewWebhook {
                sender_id: request.sender_id,
                name: new.name.clone(),
                endpoint_url: receiver_url.clone(),
                events: new.events.clone(),
                status: Some(new.status),
                verification_header_key: Some(new.verification_header_key.clone()),
                verification_token: new.verification_token.clone(),
                ..NewWebhook::default()
            })
            .await?;
        let webhook = created.webhook;
        new.signing_secret = Some(created.signing_secret);
        adopt_remote(&mut new, &webhook);
        let destination = match destinations::insert(self.pool, &new).await {
            Ok(destination) => destination,
            Err(cause) => return Err(self.created_but_not_stored(client, &webhook, cause).await),
        };
        self.forget(&destination.slug);
        let detail = format!(
            "through Whats91: webhook {}, {}, events {}",
            webhook.uid,
            destination.status.as_str(),
            destination.events.join(",")
        );
        self.audit(actor, "destination.create", &destination.slug, &detail)
            .await;
        tracing::info!(slug = %destination.slug, webhook_uid = %webhook.uid, "destination created");
        Ok(Created {
            destination,
            receiver_url,
        })
    }

    /// Registers a destination by hand, with credentials Whats91 gave
    /// (no API call).
    pub async fn register_by_hand(
        &self,
        new: NewDestination,
        actor: Actor<'_>,
    ) -> Result<Destination, DestinationError> {
        let destination = destinations::insert(self.pool, &new).await?;
        self.forget(&destination.slug);
        let detail = format!("by hand, {}", destination.status.as_str());
        self.audit(actor, "destination.add", &destination.slug, &detail)
            .await;
        Ok(destination)
    }

    /// Switches a destination ACTIVE or INACTIVE. One linked to a Whats91
    /// webhook is switched there first; if Whats91 refuses (or no API token
    /// is configured), nothing changes here and the error says why.
    pub async fn set_status(
        &self,
        slug: &str,
        status: DestinationStatus,
        actor: Actor<'_>,
    ) -> Result<Destination, DestinationError> {
        let current = destinations::find_by_slug(self.pool, slug)
            .await?
            .ok_or_else(|| DestinationError::NotFound(slug.to_owned()))?;
        let mut detail = format!("status {}", status.as_str());
        if let Some(uid) = &current.webhook_uid {
            let client = self.client("switching a destination linked to a Whats91 webhook")?;
            client.update(uid, &WebhookUpdate::status(status)).await?;
            detail.push_str(&format!(", at Whats91 too (webhook {uid})"));
        }
        let destination = destinations::set_status(self.pool, slug, status).await?;
        self.forget(slug);
        self.audit(actor, "destination.set_status", slug, &detail)
            .await;
        Ok(destination)
    }

    /// Switches only the local status, leaving Whats91 as it is: for a
    /// webhook already switched in the Whats91 dashboard, or when Whats91
    /// cannot be reached and deliveries must be flagged `while_inactive`
    /// meanwhile. Audited as such.
    pub async fn set_local_status(
        &self,
        slug: &str,
        status: DestinationStatus,
        actor: Actor<'_>,
    ) -> Result<Destination, DestinationError> {
        let destination = destinations::set_status(self.pool, slug, status).await?;
        self.forget(slug);
        let mut detail = format!("status {}", status.as_str());
        if destination.webhook_uid.is_some() {
            detail.push_str(", here only (Whats91 left as it was)");
        }
        self.audit(actor, "destination.set_status", slug, &detail)
            .await;
        Ok(destination)
    }

    /// The account's webhooks at Whats91, each marked with the local
    /// destination linked to it, if any. Changes nothing.
    pub async fn import(&self) -> Result<Vec<RemoteWebhook>, DestinationError> {
        let client = self.client("listing the account's Whats91 webhooks")?;
        let remote = client.list_all().await?;
        let linked: HashMap<String, String> = destinations::list(self.pool)
            .await?
            .into_iter()
            .filter_map(|d| d.webhook_uid.map(|uid| (uid, d.slug)))
            .collect();
        let prefix = self.receiver_url("");
        Ok(remote
            .into_iter()
            .map(|webhook| RemoteWebhook {
                linked_slug: linked.get(&webhook.uid).cloned(),
                suggested_slug: webhook
                    .endpoint_url
                    .strip_prefix(&prefix)
                    .filter(|slug| !slug.is_empty() && !slug.contains('/'))
                    .map(str::to_owned),
                webhook,
            })
            .collect())
    }

    /// Creates a local destination for a webhook that already exists at
    /// Whats91: its name, events, status, sender and header come from
    /// Whats91; its secret and token from the operator.
    pub async fn link_existing(
        &self,
        link: LinkExisting,
        actor: Actor<'_>,
    ) -> Result<Destination, DestinationError> {
        let client = self.client("linking a Whats91 webhook")?;
        let uid = link.webhook_uid.trim();
        if let Some(existing) = destinations::find_by_webhook_uid(self.pool, uid).await? {
            return Err(DestinationError::AlreadyLinked {
                webhook_uid: uid.to_owned(),
                slug: existing.slug,
            });
        }
        let webhook = client.get(uid).await?;
        let name = link.name.unwrap_or_else(|| webhook.name.clone());
        let new = NewDestination {
            name: display_name(&name, &link.slug),
            slug: link.slug.trim().to_owned(),
            webhook_uid: Some(webhook.uid.clone()),
            sender_id: webhook.phone_number.clone(),
            signing_secret: link.signing_secret.filter(|s| !s.expose().is_empty()),
            verification_header_key: webhook
                .verification_header_key
                .clone()
                .filter(|key| !key.is_empty())
                .unwrap_or_else(|| DEFAULT_HEADER_KEY.to_owned()),
            verification_token: link.verification_token.filter(|t| !t.expose().is_empty()),
            events: webhook.events.clone(),
            status: webhook.local_status(),
            quiet_period_secs: DEFAULT_QUIET_PERIOD_SECS,
        };
        let destination = destinations::insert(self.pool, &new).await?;
        self.forget(&destination.slug);
        let detail = format!(
            "linked to webhook {}, {}",
            webhook.uid,
            destination.status.as_str()
        );
        self.audit(actor, "destination.link", &destination.slug, &detail)
            .await;
        Ok(destination)
    }

    fn client(&self, what: &'static str) -> Result<&'a Whats91Client, DestinationError> {
        self.whats91.ok_or(DestinationError::NoApiToken(what))
    }

    async fn ensure_slug_free(&self, slug: &str) -> Result<(), DestinationError> {
        match destinations::find_by_slug(self.pool, slug).await? {
            Some(_) => Err(DestinationError::SlugTaken(slug.to_owned())),
            None => Ok(()),
        }
    }

    /// After a failed insert: switch the orphan off at Whats91 and say so.
    async fn created_but_not_stored(
        &self,
        client: &Whats91Client,
        webhook: &Webhook,
        cause: DestinationError,
    ) -> DestinationError {
        tracing::error!(webhook_uid = %webhook.uid, error = %cause,
            "webhook created at Whats91 but not stored");
        let off = WebhookUpdate::status(DestinationStatus::Inactive);
        let switched_off = match client.update(&webhook.uid, &off).await {
            Ok(_) => true,
            Err(error) => {
                tracing::error!(webhook_uid = %webhook.uid, %error,
                    "cannot switch the unstored webhook off");
                false
            }
        };
        DestinationError::CreatedButNotStored {
            webhook_uid: webhook.uid.clone(),
            switched_off,
            cause: Box::new(cause),
        }
    }

    fn forget(&self, slug: &str) {
        if let Some(cache) = self.cache {
            cache.invalidate(slug);
        }
    }

    async fn audit(&self, actor: Actor<'_>, action: &str, slug: &str, detail: &str) {
        audit::record(
            self.pool,
            actor.name,
            action,
            Some(slug),
            Some(detail),
            actor.from,
        )
        .await;
    }
}

/// The destination a create will store, before Whats91 issues its secret:
/// a placeholder stands in for it so that every local rule can be checked
/// while nothing exists remotely yet.
fn planned_destination(request: &CreateThroughWhats91) -> Result<NewDestination, DestinationError> {
    let events = tidy_events(&request.events);
    if events.is_empty() {
        return Err(DestinationError::NoEvents);
    }
    let status = if request.start_inactive {
        DestinationStatus::Inactive
    } else {
        DestinationStatus::Active
    };
    Ok(NewDestination {
        slug: request.slug.trim().to_owned(),
        name: display_name(&request.name, &request.slug),
        webhook_uid: None,
        sender_id: request.sender_id.clone(),
        signing_secret: Some(Secret::new("whsec_pending")),
        verification_header_key: request.verification_header_key.trim().to_owned(),
        verification_token: request
            .verification_token
            .clone()
            .filter(|t| !t.expose().is_empty()),
        events,
        status,
        quiet_period_secs: DEFAULT_QUIET_PERIOD_SECS,
    })
}

/// Refuses events the Whats91 catalog does not offer.
async fn check_events(client: &Whats91Client, events: &[String]) -> Result<(), DestinationError> {
    let catalog = client.event_catalog().await?;
    let unknown: Vec<String> = events
        .iter()
        .filter(|e| !catalog.contains(e))
        .cloned()
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(DestinationError::UnknownEvents(unknown))
    }
}

/// What Whats91 settled for the created webhook wins over what was asked.
fn adopt_remote(new: &mut NewDestination, webhook: &Webhook) {
    new.webhook_uid = Some(webhook.uid.clone());
    if new.sender_id.is_none() {
        new.sender_id = webhook.phone_number.clone();
    }
    new.status = webhook.local_status();
    if !webhook.events.is_empty() {
        new.events = webhook.events.clone();
    }
}

/// Event keys trimmed, without blanks or repeats, in the order given.
fn tidy_events(events: &[String]) -> Vec<String> {
    let mut tidy: Vec<String> = Vec::new();
    for event in events.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        if !tidy.iter().any(|seen| seen == event) {
            tidy.push(event.to_owned());
        }
    }
    tidy
}

fn display_name(name: &str, slug: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        slug.trim().to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_trimmed_and_deduplicated_in_order() {
        let given = [" b ", "a", "", "b"].map(String::from);
        assert_eq!(tidy_events(&given), ["b", "a"]);
    }

    #[test]
    fn a_blank_name_falls_back_to_the_slug() {
        assert_eq!(display_name("  ", "crm"), "crm");
        assert_eq!(display_name(" CRM ", "crm"), "CRM");
    }
}
