//! One test per row of the receiver table (DESIGN §2), through the real
//! router on a temporary database.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use whats91_ops::{
    store::destinations::{DestinationStatus, Secret, DEFAULT_HEADER_KEY},
    webhook::signature::sign,
};

use crate::helpers::{
    fixture, new_destination, spawn_app, spawn_app_with, FIXTURES, SECRET, TOKEN,
};

#[tokio::test]
async fn an_unknown_slug_answers_404_and_stores_nothing() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let response = app.deliver("nobody", &fixture("inbound_text")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(app.event_count().await, 0);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM rejected_attempts").await,
        0
    );
}

#[tokio::test]
async fn a_body_over_the_limit_answers_413_and_stores_nothing() {
    let app = spawn_app_with(|s| s.body_limit = 512).await;
    app.register(new_destination("crm")).await;
    let big = format!(
        r#"{{"event":"message.inbound.text","pad":"{}"}}"#,
        "x".repeat(600)
    );
    let response = app.deliver("crm", big.as_bytes()).await;
    assert_eq!(response.status(), 413);
    let small = app.deliver("crm", &fixture("status_sent")).await;
    assert_eq!(small.status(), 200, "a body within the limit still passes");
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_answers_413_without_a_content_length() {
    let app = spawn_app_with(|s| s.body_limit = 512).await;
    app.register(new_destination("crm")).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let chunk = "x".repeat(400);
    let request = format!(
        "POST /webhooks/whats91/crm HTTP/1.1\r\nhost: localhost\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_content_type_other_than_json_answers_415_and_stores_nothing() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("inbound_text");
    let response = app
        .client
        .post(app.url("/webhooks/whats91/crm"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .header("x-whats91-signature", sign(SECRET, &body))
        .header(DEFAULT_HEADER_KEY, TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_missing_or_wrong_token_answers_401_and_is_logged_as_rejected() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("inbound_text");
    let signature = sign(SECRET, &body);

    let missing = app
        .post("crm", &body)
        .header("x-whats91-signature", &signature);
    assert_eq!(missing.send().await.unwrap().status(), 401);
    let wrong = app
        .post("crm", &body)
        .header("x-whats91-signature", &signature)
        .header(DEFAULT_HEADER_KEY, "crm-verification-tokeN");
    assert_eq!(wrong.send().await.unwrap().status(), 401);

    assert_eq!(
        app.rejected_reasons(2).await,
        ["token_missing", "token_mismatch"]
    );
    assert_eq!(app.event_count().await, 0);
    let slug: String = sqlx::query_scalar("SELECT slug FROM rejected_attempts LIMIT 1")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(slug, "crm");
}

#[tokio::test]
async fn a_missing_malformed_or_wrong_signature_answers_401_and_is_logged_as_rejected() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("inbound_text");
    let with_signature = |signature: Option<String>| {
        let request = app.post("crm", &body).header(DEFAULT_HEADER_KEY, TOKEN);
        match signature {
            Some(signature) => request.header("x-whats91-signature", signature),
            None => request,
        }
    };
    let cases = [
        None,
        Some("not-hex".to_owned()),
        Some(sign(SECRET, &body)[..40].to_owned()),
        Some(sign("whsec_other", &body)),
        Some(sign(SECRET, b"another body")),
    ];
    for signature in cases {
        let response = with_signature(signature.clone()).send().await.unwrap();
        assert_eq!(response.status(), 401, "{signature:?}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], "unauthenticated");
    }
    assert_eq!(
        app.rejected_reasons(5).await,
        [
            "signature_missing",
            "signature_malformed",
            "signature_malformed",
            "signature_mismatch",
            "signature_mismatch"
        ]
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn upper_case_and_prefixed_signatures_are_accepted() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for (i, form) in ["upper", "prefixed"].into_iter().enumerate() {
        let body = format!(r#"{{"event":"message.inbound.text","n":{i}}}"#).into_bytes();
        let signature = match form {
            "upper" => sign(SECRET, &body).to_uppercase(),
            _ => format!("sha256={}", sign(SECRET, &body)),
        };
        let response = app
            .post("crm", &body)
            .header("x-whats91-signature", signature)
            .header(DEFAULT_HEADER_KEY, TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{form}");
    }
}

#[tokio::test]
async fn a_valid_body_that_is_not_json_or_has_no_event_answers_400_and_is_stored_malformed() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for body in [
        &b"this is not json"[..],
        br#"{"data":{"text":"no event key"}}"#,
    ] {
        let response = app.deliver("crm", body).await;
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], "malformed");
        let seq = answer["seq"].as_i64().expect("the stored sequence number");
        let (stored, malformed, key): (Vec<u8>, bool, Option<String>) =
            sqlx::query_as("SELECT body, malformed, event_key FROM events WHERE seq = ?")
                .bind(seq)
                .fetch_one(&app.state.db.pool)
                .await
                .unwrap();
        assert_eq!(stored, body);
        assert!(malformed);
        assert_eq!(key, None);
    }
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn a_redelivery_of_the_same_body_answers_200_adds_no_row_and_counts_the_delivery() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("status_delivered");
    let first: Value = app.deliver("crm", &body).await.json().await.unwrap();
    let second = app.deliver("crm", &body).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    let third: Value = app.deliver("crm", &body).await.json().await.unwrap();
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    assert_eq!(second["seq"], first["seq"]);
    assert_eq!(third["seq"], first["seq"]);
    assert_eq!(app.event_count().await, 1);
    assert_eq!(app.scalar("SELECT count FROM event_redeliveries").await, 2);
}

#[tokio::test]
async fn the_same_body_for_another_destination_is_a_new_event() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    app.register(new_destination("backup")).await;
    let body = fixture("status_delivered");
    assert_eq!(app.deliver("crm", &body).await.status(), 200);
    assert_eq!(app.deliver("backup", &body).await.status(), 200);
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn a_valid_delivery_answers_200_once_stored_with_its_routing_fields() {
    let app = spawn_app().await;
    let destination = app.register(new_destination("crm")).await;
    let mut notices = app.state.notices.subscribe();
    let body = fixture("inbound_text");
    let response = app.deliver("crm", &body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["received"], true);
    let seq = answer["seq"].as_i64().unwrap();

    let row: (i64, Vec<u8>, String, String, String, bool, bool, bool) = sqlx::query_as(
        "SELECT destination_id, body, event_key, webhook_uid, sender_id,
                signature_checked, token_checked,
                malformed OR not_subscribed OR uid_mismatch OR while_inactive
         FROM events WHERE seq = ?",
    )
    .bind(seq)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(row.0, destination.id);
    assert_eq!(row.1, body);
    assert_eq!(
        (row.2.as_str(), row.3.as_str(), row.4.as_str()),
        ("message.inbound.text", "wh_abc", "916268662275")
    );
    assert!(row.5 && row.6, "both checks recorded as passed");
    assert!(!row.7, "no flags");

    let notice = notices
        .try_recv()
        .expect("a notice is published after the commit");
    assert_eq!(notice.seq, seq);
    assert_eq!(notice.event_key.as_deref(), Some("message.inbound.text"));
}

#[tokio::test]
async fn the_bare_receiver_path_serves_the_default_destination() {
    let app = spawn_app().await;
    app.register(new_destination("default")).await;
    let body = fixture("template_rejected");
    let response = app
        .client
        .post(app.url("/webhooks/whats91"))
        .header("content-type", "application/json")
        .header("x-whats91-signature", sign(SECRET, &body))
        .header(DEFAULT_HEADER_KEY, TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn the_bare_receiver_path_answers_404_without_a_default_destination() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let response = app
        .client
        .post(app.url("/webhooks/whats91"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn flags_are_stored_and_never_drop_the_delivery() {
    let app = spawn_app().await;
    let mut subscribed = new_destination("crm");
    subscribed.events = vec!["message.inbound.text".into()];
    app.register(subscribed).await;

    let not_subscribed = fixture("template_approved");
    assert_eq!(app.deliver("crm", &not_subscribed).await.status(), 200);
    let other_uid = br#"{"event":"message.inbound.text","webhookUid":"wh_other","data":{}}"#;
    assert_eq!(app.deliver("crm", other_uid).await.status(), 200);
    whats91_ops::store::destinations::set_status(
        &app.state.db.pool,
        "crm",
        DestinationStatus::Inactive,
    )
    .await
    .unwrap();
    app.state.destinations.invalidate("crm");
    assert_eq!(
        app.deliver("crm", &fixture("inbound_text")).await.status(),
        200
    );

    let flags: Vec<(String, bool, bool, bool)> = sqlx::query_as(
        "SELECT event_key, not_subscribed, uid_mismatch, while_inactive FROM events ORDER BY seq",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(
        flags,
        [
            ("template.status_update".into(), true, false, false),
            ("message.inbound.text".into(), false, true, false),
            ("message.inbound.text".into(), false, false, true),
        ]
    );
}

#[tokio::test]
async fn a_destination_with_only_a_token_accepts_unsigned_deliveries_with_the_token() {
    let app = spawn_app().await;
    let mut token_only = new_destination("crm");
    token_only.signing_secret = None;
    app.register(token_only).await;
    let body = fixture("status_read");
    let response = app
        .post("crm", &body)
        .header(DEFAULT_HEADER_KEY, TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let unsigned_without_token = app.post("crm", &body).send().await.unwrap();
    assert_eq!(unsigned_without_token.status(), 401);
}

#[tokio::test]
async fn every_fixture_payload_is_accepted_and_stored_byte_for_byte() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in FIXTURES {
        let body = fixture(name);
        let response = app.deliver("crm", &body).await;
        assert_eq!(response.status(), 200, "{name}");
        let seq = response.json::<Value>().await.unwrap()["seq"]
            .as_i64()
            .unwrap();
        let stored: Vec<u8> = sqlx::query_scalar("SELECT body FROM events WHERE seq = ?")
            .bind(seq)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        assert_eq!(stored, body, "{name} stored exactly");
    }
    assert_eq!(app.event_count().await, FIXTURES.len() as i64);
}

#[tokio::test]
async fn a_delivery_signed_by_the_independent_vectors_is_accepted() {
    #[derive(serde::Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }
    #[derive(serde::Deserialize)]
    struct Vector {
        secret: String,
        body: String,
        signature: String,
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signatures.json"
    );
    let vectors: Vectors = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let app = spawn_app().await;
    for (i, vector) in vectors.vectors.iter().enumerate() {
        let slug = format!("v{i}");
        let mut destination = new_destination(&slug);
        destination.signing_secret = Some(Secret::new(vector.secret.clone()));
        destination.verification_token = None;
        app.register(destination).await;
        let response = app
            .post(&slug, vector.body.as_bytes())
            .header("x-whats91-signature", &vector.signature)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "vector {i}");
    }
}

#[tokio::test]
async fn one_body_sent_many_times_at_once_is_stored_once_and_counted_every_time() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("inbound_text");
    // Sent together, the copies share commits: some are repeats of a row
    // in their own batch, some of a row committed before.
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let request = app.signed("crm", &body);
        sends.spawn(async move {
            let answer: Value = request.send().await.unwrap().json().await.unwrap();
            (answer["seq"].as_i64().unwrap(), answer["duplicate"] == true)
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = sends.join_next().await {
        answers.push(answer.unwrap());
    }
    let seqs: std::collections::HashSet<i64> = answers.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs.len(), 1, "{answers:?}");
    assert_eq!(
        answers.iter().filter(|(_, duplicate)| !duplicate).count(),
        1
    );
    assert_eq!(app.event_count().await, 1);
    assert_eq!(app.scalar("SELECT count FROM event_redeliveries").await, 63);
}

#[tokio::test]
async fn a_second_server_on_the_same_database_is_refused() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(&dir);
    settings.database = app.database.clone();
    let refused = whats91_ops::startup::AppState::new(settings)
        .await
        .expect_err("two writers on one log");
    let message = format!("{refused:#}");
    assert!(
        message.contains("already writing to this database"),
        "{message}"
    );
}

#[tokio::test]
async fn five_hundred_concurrent_deliveries_are_each_stored_once() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let bodies: Vec<Vec<u8>> = (0..500)
        .map(|i| {
            format!(
                r#"{{"event":"message.inbound.text","webhookUid":"wh_abc","senderId":"1","data":{{"from":"91{i:010}","messageId":"wamid.{i}","text":"hello {i}"}}}}"#
            )
            .into_bytes()
        })
        .collect();

    for round in 0..2 {
        // Everything is in flight at once: that is the point of the test.
        let mut sends = tokio::task::JoinSet::new();
        for body in &bodies {
            let request = app.signed("crm", body);
            sends.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let mut statuses = Vec::new();
        while let Some(status) = sends.join_next().await {
            statuses.push(status.unwrap());
        }
        assert_eq!(statuses.len(), 500);
        assert!(
            statuses.iter().all(|s| *s == 200),
            "round {round}: {statuses:?}"
        );
        assert_eq!(app.event_count().await, 500, "round {round}");
    }
    assert_eq!(
        app.scalar("SELECT SUM(count) FROM event_redeliveries")
            .await,
        500
    );
}

/// The WAL header's first salt, which SQLite raises by one each time it
/// writes the WAL again from its beginning, whichever connection does it.
fn wal_salt(database: &std::path::Path) -> u32 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    let header = std::fs::read(&wal).unwrap_or_default();
    header
        .get(16..20)
        .map_or(0, |n| u32::from_be_bytes(n.try_into().unwrap()))
}

#[tokio::test]
async fn the_writer_finishes_a_checkpoint_round_that_commits_outran() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let deliver = |numbers: std::ops::Range<usize>| {
        let app = &app;
        async move {
            for n in numbers {
                let body = format!(
                    r#"{{"event":"message.inbound.text","webhookUid":"wh_abc","senderId":"1","data":{{"from":"919800000000","messageId":"wamid.{n}","text":"hello {n}"}}}}"#
                );
                assert_eq!(app.deliver("crm", body.as_bytes()).await.status(), 200);
            }
        }
    };
    deliver(0..5).await;
    // A reader still on this snapshot keeps the next background round from
    // copying the commits that follow, as commits made during a round do.
    let mut reader = app.state.db.pool.begin().await.unwrap();
    sqlx::query("SELECT COUNT(*) FROM events")
        .execute(&mut *reader)
        .await
        .unwrap();
    deliver(5..10).await;
    let rounds = app.state.metrics.checkpoint_rounds();
    for _ in 0..500 {
        if app.state.metrics.checkpoint_rounds() > rounds {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(app.state.metrics.checkpoint_rounds() > rounds);
    reader.rollback().await.unwrap();

    // The round left frames behind, and the next one is a tenth of a
    // second away: the writer copies them after its next commit, and the
    // commit after that writes the WAL from its start again.
    let salt = wal_salt(&app.database);
    deliver(10..12).await;
    assert_ne!(
        wal_salt(&app.database),
        salt,
        "the WAL was not started over"
    );
}

#[tokio::test]
async fn metrics_count_accepted_duplicate_and_refused_deliveries() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("status_sent");
    app.deliver("crm", &body).await;
    app.deliver("crm", &body).await;
    app.deliver("nobody", &body).await;
    app.post("crm", &body)
        .header(DEFAULT_HEADER_KEY, TOKEN)
        .send()
        .await
        .unwrap();
    let text = app.metrics().await;
    assert!(
        text.contains("whats91_deliveries_accepted_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("whats91_deliveries_duplicate_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("reason=\"unknown_destination\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("reason=\"signature_missing\"} 1\n"), "{text}");
    assert!(text.contains("whats91_commit_batch_size_count"), "{text}");
}

#[tokio::test]
async fn the_rejected_attempts_log_keeps_only_the_newest_entries() {
    let app = spawn_app_with(|s| s.rejected_log_limit = 3).await;
    app.register(new_destination("crm")).await;
    for i in 0..6 {
        let body = format!(r#"{{"event":"x","n":{i}}}"#);
        let response = app.post("crm", body.as_bytes()).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
    // Every attempt is counted in the metrics, the log keeps the last three.
    let text = app.metrics().await;
    assert!(text.contains("reason=\"token_missing\"} 6\n"), "{text}");
    for _ in 0..100 {
        let max_id = app
            .scalar("SELECT COALESCE(MAX(id), 0) FROM rejected_attempts")
            .await;
        if max_id == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM rejected_attempts").await,
        3
    );
    assert_eq!(app.scalar("SELECT MIN(id) FROM rejected_attempts").await, 4);
}

#[tokio::test]
async fn the_receiver_keeps_clear_of_sessions_and_still_sends_the_security_headers() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let body = fixture("inbound_text");
    // A browser's stray cookie and a foreign Origin change nothing here:
    // no same-origin refusal, no session read or created.
    let response = app
        .signed("crm", &body)
        .header("cookie", "whats91_ops_session=forged")
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        !response.headers().contains_key("set-cookie"),
        "{response:?}"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(app.event_count().await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM tower_sessions").await, 0);
}
