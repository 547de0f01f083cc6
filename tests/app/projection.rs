//! Projections: the live path against a rebuild, crash safety, order
//! independence of delivery statuses, search, and the query functions.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use whats91_ops::{
    model::TimelineFilter,
    projection::{
        alerts::{self, Thresholds},
        apply::{apply_all, LogEvent},
        projector::{clear, reproject, Projector},
        queries,
    },
    store::events::Flags,
};

use crate::helpers::{fixture, new_destination, new_event, snapshot, spawn_app, TestApp, FIXTURES};

/// A small deterministic generator, so a failing log can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const WORDS: [&str; 8] = [
    "order",
    "refund",
    "help",
    "delivery",
    "नमस्ते",
    "ऑर्डर",
    "invoice",
    "thanks",
];
const STATUSES: [&str; 9] = [
    "accepted",
    "queued",
    "pending",
    "sent",
    "delivered",
    "read",
    "failed",
    "deleted",
    "warning",
];
const TEMPLATE_STATUSES: [&str; 6] = [
    "APPROVED", "REJECTED", "PAUSED", "PENDING", "DISABLED", "FLAGGED",
];

/// A mixed log: inbound messages (some repeating a messageId), statuses
/// out of order and repeated, failures with string and numeric codes,
/// template updates, unknown events, and flagged deliveries.
fn generated_log(count: usize, seed: u64) -> Vec<(Vec<u8>, Flags)> {
    let mut rng = Rng(seed);
    let mut log = Vec::with_capacity(count);
    for n in 0..count {
        let sender = ["916268662275", "916200000001"][rng.below(2)];
        let phone = format!("9190000{:05}", rng.below(60));
        let (data, event, flags) = match rng.below(10) {
            0..=3 => {
                let id = if rng.below(20) == 0 {
                    rng.below(n + 1)
                } else {
                    n
                };
                let text = format!("{} {} {n}", WORDS[rng.below(8)], WORDS[rng.below(8)]);
                let data = json!({"from": phone, "messageId": format!("wamid.IN{id}"),
                                  "text": text, "timestamp": 1_780_000_000 + n});
                (data, "message.inbound.text".to_owned(), Flags::default())
            }
            4..=7 => {
                let status = STATUSES[rng.below(STATUSES.len())];
                let message = rng.below(1500);
                let mut data = json!({"messageId": format!("wamid.OUT{message}"),
                                      "recipient": format!("9190000{:05}", message % 60),
                                      "status": status});
                if rng.below(4) != 0 {
                    data["timestamp"] = json!(format!(
                        "2026-06-05T10:{:02}:{:02}.000Z",
                        rng.below(60),
                        rng.below(60)
                    ));
                }
                if status == "failed" {
                    let code = if rng.below(2) == 0 {
                        json!("131026")
                    } else {
                        json!(131049)
                    };
                    data["error"] = json!({"code": code, "message": "Message undeliverable"});
                }
                (data, format!("message.status.{status}"), Flags::default())
            }
            8 => {
                let language = ["en", "hi"][rng.below(2)];
                let reason = if rng.below(2) == 0 {
                    json!("INVALID_FORMAT")
                } else {
                    Value::Null
                };
                let data = json!({"templateName": format!("template_{}", rng.below(6)),
                                  "category": "MARKETING", "language": language,
                                  "status": TEMPLATE_STATUSES[rng.below(6)], "reason": reason});
                (data, "template.status_update".to_owned(), Flags::default())
            }
            _ => match rng.below(3) {
                0 => (
                    json!({"caption": "photo"}),
                    "message.inbound.image".to_owned(),
                    Flags::default(),
                ),
                1 => {
                    let data = json!({"templateName": "unsubscribed", "language": "en", "status": "REJECTED"});
                    let flags = Flags {
                        not_subscribed: true,
                        ..Flags::default()
                    };
                    (data, "template.status_update".to_owned(), flags)
                }
                _ => {
                    log.push((format!("not json {n}").into_bytes(), Flags::default()));
                    continue;
                }
            },
        };
        let body = json!({"event": event, "webhookUid": "wh_abc", "senderId": sender,
                          "data": data, "n": n});
        log.push((body.to_string().into_bytes(), flags));
    }
    log
}

/// Sends the log through the event writer from several tasks at once, as
/// concurrent deliveries would arrive.
async fn append_all(app: &TestApp, destination_id: i64, log: Vec<(Vec<u8>, Flags)>) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in log.chunks(log.len().div_ceil(8)) {
        let (writer, chunk) = (app.state.writer.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for (body, flags) in chunk {
                writer
                    .append(new_event(destination_id, &body, flags))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

fn assert_same(left: &[(String, Vec<String>)], right: &[(String, Vec<String>)]) {
    for ((table, a), (_, b)) in left.iter().zip(right) {
        assert_eq!(a.len(), b.len(), "{table}: row counts differ");
        for (row_a, row_b) in a.iter().zip(b) {
            assert_eq!(row_a, row_b, "{table}: rows differ");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_path_and_a_rebuild_give_identical_projections_over_ten_thousand_events() {
    let app = spawn_app().await;
    let destination = app.register(new_destination("crm")).await;
    append_all(&app, destination.id, generated_log(10_500, 0x5eed)).await;
    assert_eq!(app.event_count().await, 10_500);
    app.projected().await;

    let live = snapshot(&app.state.db.pool).await;
    let count = |table: &str| live.iter().find(|(t, _)| t == table).unwrap().1.len();
    assert!(
        count("conversations") > 50 && count("messages") > 3000,
        "{live:?}"
    );
    assert!(count("timelines") > 1000 && count("timeline_statuses") > 3000);
    assert!(count("templates") > 12 && count("alerts") > 10, "{live:?}");
    let late = app
        .scalar("SELECT COUNT(*) FROM timeline_statuses WHERE out_of_order")
        .await;
    assert!(
        late > 100,
        "statuses arrived out of order and were marked: {late}"
    );
    // A timeline spans its statuses, whatever order they arrived in.
    let wrong_span = app
        .scalar(
            "SELECT COUNT(*) FROM timelines AS t
             WHERE first_at != (SELECT MIN(at) FROM timeline_statuses WHERE timeline_id = t.id)
                OR updated_at != (SELECT MAX(at) FROM timeline_statuses WHERE timeline_id = t.id)",
        )
        .await;
    assert_eq!(wrong_span, 0, "timelines whose times miss their statuses");
    // The current status carries the error reported with it.
    let wrong_error = app
        .scalar(
            "SELECT COUNT(*) FROM timelines AS t JOIN timeline_statuses AS s
                 ON s.timeline_id = t.id AND s.status = t.status
             WHERE t.error_code IS NOT s.error_code OR t.error_message IS NOT s.error_message",
        )
        .await;
    assert_eq!(
        wrong_error, 0,
        "timelines whose error is not their status's"
    );
    let failed = app
        .scalar("SELECT COUNT(*) FROM timelines WHERE status = 'failed' AND error_code IS NOT NULL")
        .await;
    assert!(failed > 50, "failures carry their codes: {failed}");

    let applied = reproject(&app.state.db.pool, |_, _| {}).await.unwrap();
    assert_eq!(applied, 10_500);
    assert_same(&live, &snapshot(&app.state.db.pool).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_interrupted_mid_run_applies_every_event_exactly_once_after_restart() {
    let app = spawn_app().await;
    let destination = app.register(new_destination("crm")).await;
    // Let the live projector finish, then rewind: the rest of the test
    // drives projectors by hand on an empty projection.
    append_all(&app, destination.id, generated_log(3_000, 7)).await;
    app.projected().await;
    let expected = snapshot(&app.state.db.pool).await;
    let pool = app.state.db.pool.clone();
    clear(&mut pool.acquire().await.unwrap()).await.unwrap();

    let (changes, _) = broadcast::channel(16);
    let first = Projector::new(pool.clone(), changes.clone(), 100);
    for _ in 0..7 {
        first.step().await.unwrap().expect("a batch");
    }
    // Dropped in the middle of whatever it was doing.
    let _ = tokio::time::timeout(Duration::from_millis(3), first.catch_up()).await;
    drop(first);

    let second = Projector::new(pool.clone(), changes, 100);
    second.catch_up().await.unwrap();
    assert_eq!(
        app.scalar("SELECT seq FROM projector_checkpoints").await,
        3_000
    );
    assert_same(&expected, &snapshot(&pool).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_per_step_and_large_steps_give_identical_projections() {
    let app = spawn_app().await;
    let destination = app.register(new_destination("crm")).await;
    // Repeated message ids fall within a step and across steps.
    append_all(&app, destination.id, generated_log(2_000, 0xba7c4)).await;
    app.projected().await;
    let pool = app.state.db.pool.clone();
    clear(&mut pool.acquire().await.unwrap()).await.unwrap();
    let (changes, _) = broadcast::channel(16);
    Projector::new(pool.clone(), changes.clone(), 500)
        .catch_up()
        .await
        .unwrap();
    let large = snapshot(&pool).await;
    let repeats = app
        .scalar(
            "SELECT COUNT(*) FROM events
             WHERE event_key = 'message.inbound.text'
               AND seq NOT IN (SELECT seq FROM messages)",
        )
        .await;
    assert!(repeats > 10, "the log repeats message ids: {repeats}");

    clear(&mut pool.acquire().await.unwrap()).await.unwrap();
    Projector::new(pool.clone(), changes, 1)
        .catch_up()
        .await
        .unwrap();
    assert_same(&large, &snapshot(&pool).await);
}

#[tokio::test]
async fn every_fixture_event_appears_where_staff_expect_it() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in FIXTURES {
        assert_eq!(
            app.deliver("crm", &fixture(name)).await.status(),
            200,
            "{name}"
        );
    }
    app.projected().await;
    let pool = &app.state.db.pool;

    let thread = queries::conversation_thread(pool, "919888888888")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        thread.conversations[0].last_message,
        "I need help with my order"
    );
    assert_eq!(
        thread.items.len(),
        2,
        "the inbound message and the outbound one: {thread:?}"
    );

    let timeline = queries::timeline(pool, "wamid.OUT0001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(timeline.summary.status, "read");
    let statuses: Vec<_> = timeline
        .statuses
        .iter()
        .map(|s| s.status.as_str())
        .collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);

    let failed = queries::timeline(pool, "wamid.OUT0003")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.summary.error_code.as_deref(), Some("131049"));
    let untimed = queries::timeline(pool, "wamid.OUT0002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untimed.summary.error_code.as_deref(), Some("131026"));
    assert!(
        untimed.statuses[0].at.starts_with("20"),
        "receive time stands in for a missing timestamp"
    );

    let board = queries::template_board(pool).await.unwrap();
    assert_eq!(board.len(), 2);
    let rejected = board
        .iter()
        .find(|t| t.name == "festival_offer_v1")
        .unwrap();
    assert_eq!(
        (rejected.status.as_str(), rejected.reason.as_deref()),
        ("REJECTED", Some("INVALID_FORMAT"))
    );
    let open = queries::alerts(pool, true, 10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(open[0].title.contains("festival_offer_v1") && open[0].title.contains("REJECTED"));
    assert_eq!(open[0].detail.as_deref(), Some("INVALID_FORMAT"));
}

#[tokio::test]
async fn an_acknowledgement_survives_a_rebuild_and_a_repeated_status_raises_no_new_alert() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    app.deliver("crm", &fixture("template_rejected")).await;
    let again = String::from_utf8(fixture("template_rejected"))
        .unwrap()
        .replace("}\n}", "},\"n\":2}");
    app.deliver("crm", again.as_bytes()).await;
    app.projected().await;
    let pool = &app.state.db.pool;
    let open = queries::alerts(pool, true, 10).await.unwrap();
    assert_eq!(open.len(), 1, "REJECTED twice is one move to REJECTED");

    assert!(alerts::acknowledge(pool, open[0].id, "operator1")
        .await
        .unwrap());
    assert!(!alerts::acknowledge(pool, open[0].id, "operator2")
        .await
        .unwrap());
    assert!(matches!(
        alerts::acknowledge(pool, 999, "x").await,
        Err(alerts::AckError::NotFound(999))
    ));
    reproject(pool, |_, _| {}).await.unwrap();
    assert!(queries::alerts(pool, true, 10).await.unwrap().is_empty());
    let all = queries::alerts(pool, false, 10).await.unwrap();
    assert_eq!(all[0].acknowledged_by.as_deref(), Some("operator1"));
}

#[tokio::test]
async fn search_finds_words_phrases_unicode_text_and_phone_prefixes() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in ["inbound_text", "inbound_text_unicode"] {
        app.deliver("crm", &fixture(name)).await;
    }
    app.projected().await;
    let pool = &app.state.db.pool;
    let phones = |query: &'static str| async move {
        let page = queries::search_conversations(pool, query, None, 10)
            .await
            .unwrap();
        page.items.into_iter().map(|c| c.phone).collect::<Vec<_>>()
    };
    assert_eq!(phones("order").await, ["919888888888"]);
    assert_eq!(
        phones("ord").await,
        ["919888888888"],
        "a word prefix matches as you type"
    );
    assert_eq!(phones("\"need help\"").await, ["919888888888"]);
    assert!(
        phones("\"help need\"").await.is_empty(),
        "a phrase keeps its order"
    );
    assert_eq!(phones("नमस्ते").await, ["919777777777"]);
    assert_eq!(phones("ऑर्डर").await, ["919777777777"]);
    assert_eq!(phones("+91 977").await, ["919777777777"]);
    assert_eq!(phones("9198").await, ["919888888888"]);
    assert_eq!(
        phones("").await.len(),
        2,
        "no query lists every conversation"
    );

    let hit = queries::search_conversations(pool, "help", None, 10)
        .await
        .unwrap();
    let snippet = hit.items[0].snippet.clone().unwrap();
    assert!(snippet.contains("\u{2}help\u{3}"), "{snippet:?}");
}

#[tokio::test]
async fn timelines_filter_by_recipient_status_error_and_time_and_page_by_cursor() {
    let app = spawn_app().await;
    let destination = app.register(new_destination("crm")).await;
    for i in 0..25 {
        let recipient = if i % 5 == 0 {
            "919111111111"
        } else {
            "919222222222"
        };
        let (status, error) = if i % 3 == 0 {
            (
                "failed",
                json!({"code": 131026, "message": "undeliverable"}),
            )
        } else {
            ("delivered", Value::Null)
        };
        let body = json!({"event": format!("message.status.{status}"), "senderId": "1",
                          "data": {"messageId": format!("wamid.T{i}"), "recipient": recipient,
                                   "status": status, "error": error,
                                   "timestamp": format!("2026-06-05T10:{i:02}:00.000Z")}});
        app.state
            .writer
            .append(new_event(
                destination.id,
                body.to_string().as_bytes(),
                Flags::default(),
            ))
            .await
            .unwrap();
    }
    app.projected().await;
    let pool = &app.state.db.pool;
    let list = |filter: TimelineFilter| async move {
        let page = queries::list_timelines(pool, &filter, None, 100)
            .await
            .unwrap();
        page.items
            .into_iter()
            .map(|t| t.message_id)
            .collect::<Vec<_>>()
    };
    let one = TimelineFilter {
        recipient: Some("+91 91111 11111".into()),
        ..Default::default()
    };
    assert_eq!(
        list(one).await,
        [
            "wamid.T20",
            "wamid.T15",
            "wamid.T10",
            "wamid.T5",
            "wamid.T0"
        ]
    );
    let failed = TimelineFilter {
        status: Some("FAILED".into()),
        ..Default::default()
    };
    assert_eq!(list(failed.clone()).await.len(), 9);
    let by_code = TimelineFilter {
        error: Some("131026".into()),
        ..Default::default()
    };
    assert_eq!(list(by_code).await, list(failed).await);
    let window = TimelineFilter {
        since: Some("2026-06-05T10:10:00Z".into()),
        until: Some("2026-06-05T10:12:00Z".into()),
        ..Default::default()
    };
    assert_eq!(list(window).await, ["wamid.T12", "wamid.T11", "wamid.T10"]);

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = queries::list_timelines(pool, &TimelineFilter::default(), after.as_deref(), 7)
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|t| t.message_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "wamid.T24");
    let bad = queries::list_timelines(pool, &TimelineFilter::default(), Some("nonsense"), 7).await;
    assert!(matches!(bad, Err(queries::QueryError::BadInput(_))));
}

#[tokio::test]
async fn quiet_destinations_and_bursts_of_rejections_raise_one_alert_each() {
    let app = spawn_app().await;
    let mut quiet = new_destination("quiet");
    quiet.quiet_period_secs = 60;
    app.register(quiet).await;
    for _ in 0..3 {
        app.post("quiet", b"{}").send().await.unwrap();
    }
    app.rejected_reasons(3).await;
    let pool = &app.state.db.pool;
    let thresholds = Thresholds {
        rejection_burst: 3,
        rejection_window: Duration::from_secs(60),
        ..Thresholds::default()
    };
    let now = whats91_ops::store::now_millis();

    let first = alerts::check_receiver(pool, &thresholds, now)
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "a burst, and not yet quiet");
    let later = alerts::check_receiver(pool, &thresholds, now + 120_000)
        .await
        .unwrap();
    assert_eq!(later.len(), 1, "quiet now; the burst is outside the window");
    assert!(alerts::check_receiver(pool, &thresholds, now + 121_000)
        .await
        .unwrap()
        .is_empty());
    let kinds: Vec<String> = queries::alerts(pool, true, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["destination_quiet", "rejection_burst"]);
}

/// One status event of the order-independence property.
fn status_event(seq: i64, message: usize, status: &str, timed: bool) -> LogEvent {
    let mut data =
        json!({"messageId": format!("m{message}"), "recipient": "9190", "status": status});
    if timed {
        data["timestamp"] = json!(1_780_000_000 + seq);
    }
    if status == "failed" {
        data["error"] = json!({"code": seq, "message": "failed"});
    }
    let body = json!({"event": format!("message.status.{status}"), "data": data});
    LogEvent {
        seq,
        received_at: 1_780_000_000_000 + seq * 7,
        event_key: Some(format!("message.status.{status}")),
        sender_id: Some("1".into()),
        malformed: false,
        not_subscribed: false,
        body: body.to_string().into_bytes(),
    }
}

/// Applies events in the given order to a fresh database and reads back
/// each message's current status and its set of timeline rows.
async fn project_in_order(events: &[LogEvent]) -> (Vec<(String, String)>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let db = whats91_ops::store::Database::open(&dir.path().join("p.db"))
        .await
        .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let mut changes = Default::default();
    apply_all(&mut conn, events, &mut changes).await.unwrap();
    let current = sqlx::query_as("SELECT message_id, status FROM timelines ORDER BY message_id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let rows = sqlx::query_scalar(
        "SELECT t.message_id || '|' || s.status || '|' || s.at || '|' || COALESCE(s.error_code, '')
         FROM timeline_statuses s JOIN timelines t ON t.id = s.timeline_id ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    (current, rows)
}

fn status_sets() -> impl Strategy<Value = Vec<(usize, &'static str, bool)>> {
    let message = proptest::sample::subsequence(STATUSES.to_vec(), 1..=STATUSES.len());
    proptest::collection::vec((message, any::<bool>()), 1..4).prop_map(|messages| {
        messages
            .into_iter()
            .enumerate()
            .flat_map(|(m, (statuses, timed))| statuses.into_iter().map(move |s| (m, s, timed)))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_of_a_set_of_statuses_gives_the_same_timelines(
        (sorted, shuffled) in status_sets().prop_flat_map(|set| {
            (Just(set.clone()), Just(set).prop_shuffle())
        })
    ) {
        // Sequence numbers follow arrival; each event keeps its own times.
        let events = |order: &[(usize, &str, bool)], all: &[(usize, &str, bool)]| -> Vec<LogEvent> {
            order.iter().enumerate().map(|(arrival, item)| {
                let identity = all.iter().position(|x| x == item).unwrap() as i64;
                let mut event = status_event(identity + 1, item.0, item.1, item.2);
                event.seq = arrival as i64 + 1;
                event
            }).collect()
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let in_order = runtime.block_on(project_in_order(&events(&sorted, &sorted)));
        let shuffled = runtime.block_on(project_in_order(&events(&shuffled, &sorted)));
        prop_assert_eq!(in_order, shuffled);
    }
}
