//! The simulator's deliveries: at each tick the [`Story`] moves one step
//! and its event goes to every ACTIVE webhook subscribed to it, signed as
//! DESIGN §1 says (lowercase hex HMAC-SHA256 of the raw body, keyed with the
//! whole `whsec_…` string) with the verification header when one is set.
//!
//! `rate` is deliveries per second to each webhook (fewer for a webhook
//! subscribed to only some events). A failed delivery of a webhook with
//! `retryEnabled` is tried again, up to `retryMaxAttempts` in all, half a
//! second apart and more. The status is read before every attempt, so a
//! webhook switched INACTIVE gets nothing more except what was already on
//! the wire.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tokio::{
    sync::{watch, Semaphore},
    task::JoinHandle,
};

use super::{story::Story, Shared};
use crate::webhook::signature::{sign, SIGNATURE_HEADER};

/// Deliveries on the wire at once, all webhooks together; past it a slow
/// receiver makes the simulator skip ticks rather than pile up tasks.
const IN_FLIGHT: usize = 64;

/// Starts the traffic task. With a rate of 0 it only waits to be stopped.
pub fn start(
    shared: Shared,
    rate: f64,
    seed: u64,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if !(rate > 0.0 && rate.is_finite()) {
            let _ = stopped.wait_for(|stop| *stop).await;
            return;
        }
        let http = match reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent("Whats91-Webhooks/2 (simulated)")
            .build()
        {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "simulator cannot build its HTTP client");
                return;
            }
        };
        let mut story = Story::new(seed);
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.min(10_000.0)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            let event = story.next_event();
            let targets: Vec<String> = shared
                .lock()
                .webhooks
                .iter()
                .filter(|w| w.wants(&event.event))
                .map(|w| w.uid.clone())
                .collect();
            for uid in targets {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::debug!("simulator deliveries backed up; skipping");
                    break;
                };
                let (http, shared) = (http.clone(), shared.clone());
                let event = event.clone();
                tokio::spawn(async move {
                    deliver(&http, &shared, &uid, &event.event, &event.data).await;
                    drop(permit);
                });
            }
        }
    })
}

/// What one attempt needs, read fresh before each attempt.
struct Target {
    url: String,
    body: Vec<u8>,
    signature: String,
    header: Option<(String, String)>,
    timeout: Duration,
    attempts: u64,
}

fn target(shared: &Shared, uid: &str, event: &str, data: &serde_json::Value) -> Option<Target> {
    let state = shared.lock();
    let webhook = state.webhooks.iter().find(|w| w.uid == uid)?;
    if !webhook.wants(event) {
        return None;
    }
    let envelope = json!({
        "event": event,
        "webhookUid": webhook.uid,
        "senderId": webhook.sender_id,
        "data": data,
    });
    let body = serde_json::to_vec(&envelope).expect("JSON values serialise");
    let header = match (
        &webhook.verification_header_key,
        &webhook.verification_token,
    ) {
        (Some(key), Some(token)) => Some((key.clone(), token.expose().to_owned())),
        _ => None,
    };
    Some(Target {
        url: webhook.endpoint_url.clone(),
        signature: sign(webhook.signing_secret.expose(), &body),
        body,
        header,
        timeout: Duration::from_millis(webhook.timeout_ms),
        attempts: if webhook.retry_enabled {
            webhook.retry_max_attempts.max(1)
        } else {
            1
        },
    })
}

/// Sends one event to one webhook, with the webhook's retries.
async fn deliver(
    http: &reqwest::Client,
    shared: &Shared,
    uid: &str,
    event: &str,
    data: &serde_json::Value,
) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // Re-read: the webhook may have been switched off or changed.
        let Some(target) = target(shared, uid, event, data) else {
            return;
        };
        let mut request = http
            .post(&target.url)
            .timeout(target.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &target.signature)
            .body(target.body);
        if let Some((key, value)) = &target.header {
            request = request.header(key.as_str(), value.as_str());
        }
        let outcome = request.send().await;
        let ok = matches!(&outcome, Ok(response) if response.status().is_success());
        record(shared, uid, ok);
        match outcome {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                tracing::debug!(
                    uid,
                    event,
                    status = response.status().as_u16(),
                    "delivery refused"
                )
            }
            Err(error) => tracing::debug!(uid, event, %error, "delivery failed"),
        }
        if attempt >= target.attempts {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
    }
}

fn record(shared: &Shared, uid: &str, ok: bool) {
    if let Some(webhook) = shared.lock().webhook_mut(uid) {
        if ok {
            webhook.delivered += 1;
        } else {
            webhook.failed += 1;
        }
    }
}
