//! Tests of the real binary as a separate process: the command line, the
//! NDJSON export, and durability across SIGKILL.

use std::{
    collections::HashSet,
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use whats91_ops::{store::destinations::DEFAULT_HEADER_KEY, webhook::signature::sign};

use crate::helpers::{fixture, new_destination, spawn_app, FIXTURES, SECRET, TOKEN};

const BINARY: &str = env!("CARGO_BIN_EXE_whats91-ops");

fn run(database: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .arg("--database")
        .arg(database)
        .env("WHATS91_OPS_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn destination_add_list_and_set_status_work_and_never_print_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let added = run(
        &db,
        &[
            "destination",
            "add",
            "--slug",
            "crm",
            "--secret",
            "whsec_do_not_print",
            "--token",
            "tok_do_not_print",
            "--events",
            "message.inbound.text,template.status_update",
            "--webhook-uid",
            "wh_abc",
        ],
    );
    assert!(added.status.success(), "{added:?}");
    assert!(stdout(&added).contains("/webhooks/whats91/crm"));

    // Linked to a Whats91 webhook and no API token: refused, with the way
    // out named; `--local-only` switches it here alone.
    let refused = run(&db, &["destination", "set-status", "crm", "INACTIVE"]);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("WHATS91_OPS_WHATS91_API_TOKEN"));
    let inactive = run(
        &db,
        &[
            "destination",
            "set-status",
            "crm",
            "INACTIVE",
            "--local-only",
        ],
    );
    assert!(inactive.status.success(), "{inactive:?}");

    let listed = run(&db, &["destination", "list"]);
    let text = stdout(&listed);
    assert!(listed.status.success());
    assert!(
        text.contains("crm") && text.contains("INACTIVE") && text.contains("wh_abc"),
        "{text}"
    );
    assert!(text.contains("signature+token"), "{text}");
    for output in [&added, &inactive, &listed] {
        let all = format!(
            "{}{}",
            stdout(output),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!all.contains("do_not_print"), "a secret was printed: {all}");
    }
}

#[test]
fn destination_add_refuses_a_destination_without_credentials_or_a_taken_slug() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let bare = run(&db, &["destination", "add", "--slug", "crm"]);
    assert!(!bare.status.success());
    let message = String::from_utf8_lossy(&bare.stderr);
    assert!(
        message.contains("signing secret, a verification token, or both"),
        "{message}"
    );

    assert!(run(
        &db,
        &["destination", "add", "--slug", "crm", "--token", "t"]
    )
    .status
    .success());
    let again = run(
        &db,
        &["destination", "add", "--slug", "crm", "--token", "t"],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[tokio::test]
async fn export_returns_every_stored_body_exactly_as_received() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let mut sent = Vec::new();
    for name in FIXTURES {
        let body = fixture(name);
        assert_eq!(app.deliver("crm", &body).await.status(), 200, "{name}");
        sent.push(body);
    }
    // Not UTF-8: kept as a malformed event and exported in base64.
    let binary = vec![0xff, 0xfe, b'{', 0x00, 0x80];
    assert_eq!(app.deliver("crm", &binary).await.status(), 400);
    sent.push(binary.clone());

    let output = run(&app.database, &["export"]);
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), sent.len());
    for (line, body) in lines.iter().zip(&sent) {
        let exported = match line.get("body") {
            Some(text) => text.as_str().unwrap().as_bytes().to_vec(),
            None => base64::engine::general_purpose::STANDARD
                .decode(line["bodyBase64"].as_str().unwrap())
                .unwrap(),
        };
        assert_eq!(&exported, body);
        assert_eq!(line["destination"], "crm");
    }
    assert_eq!(
        lines.last().unwrap()["flags"],
        serde_json::json!(["malformed"])
    );
    assert_eq!(lines[0]["event"], "message.inbound.text");

    let since = run(&app.database, &["export", "--since", "9"]);
    assert_eq!(stdout(&since).lines().count(), sent.len() - 9);
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_server(dir: &Path, database: &Path) -> (Server, String) {
    let port = free_port();
    let child = Command::new(BINARY)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--database")
        .arg(database)
        .arg("--site-root")
        .arg(dir.join("site"))
        .env("WHATS91_OPS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{base}/healthz")).await {
            if response.status() == 200 {
                return (server, base);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not answer /healthz in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_delivery_survives_a_sigkill_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("durable.db");
    let destination = new_destination("crm");
    let added = run(
        &database,
        &[
            "destination",
            "add",
            "--slug",
            &destination.slug,
            "--secret",
            SECRET,
            "--token",
            TOKEN,
        ],
    );
    assert!(added.status.success(), "{added:?}");

    let (mut server, base) = start_server(dir.path(), &database).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let client = reqwest::Client::new();
    let mut senders = tokio::task::JoinSet::new();
    for worker in 0..32 {
        let (client, acknowledged) = (client.clone(), acknowledged.clone());
        let url = format!("{base}/webhooks/whats91/crm");
        senders.spawn(async move {
            for n in 0.. {
                let body = format!(
                    r#"{{"event":"message.status.delivered","data":{{"messageId":"wamid.{worker}.{n}","recipient":"91{worker:010}","status":"delivered"}}}}"#
                )
                .into_bytes();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-whats91-signature", sign(SECRET, &body))
                    .header(DEFAULT_HEADER_KEY, TOKEN)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        acknowledged.lock().unwrap().push(body)
                    }
                    Ok(response) => panic!("unexpected status {}", response.status()),
                    // The server was killed: this worker is done.
                    Err(_) => return,
                }
            }
        });
    }

    // Let a good number of deliveries through, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 400 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.0.kill().expect("SIGKILL");
    server.0.wait().unwrap();
    while let Some(joined) = senders.join_next().await {
        joined.expect("sender task");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 400,
        "only {} acknowledged",
        acknowledged.len()
    );

    // Restart on the same file: every acknowledged body is in the log.
    let (_server, base) = start_server(dir.path(), &database).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    let stored: HashSet<Vec<u8>> = sqlx::query_scalar("SELECT body_sha256 FROM events")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let missing = acknowledged
        .iter()
        .filter(|body| !stored.contains(Sha256::digest(body).as_slice()))
        .count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged deliveries lost",
        acknowledged.len()
    );

    // And the restarted server knows them: a redelivery is a duplicate.
    let body = &acknowledged[0];
    let answer: Value = client
        .post(format!("{base}/webhooks/whats91/crm"))
        .header("content-type", "application/json")
        .header("x-whats91-signature", sign(SECRET, body))
        .header(DEFAULT_HEADER_KEY, TOKEN)
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["duplicate"], true);
}

#[tokio::test]
async fn reproject_rebuilds_the_projections_from_the_command_line() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in FIXTURES {
        app.deliver("crm", &fixture(name)).await;
    }
    app.projected().await;
    let before = crate::helpers::snapshot(&app.state.db.pool).await;
    let output = run(&app.database, &["reproject"]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("through event 10"),
        "{}",
        stdout(&output)
    );
    assert_eq!(crate::helpers::snapshot(&app.state.db.pool).await, before);
}

#[tokio::test]
async fn the_first_start_creates_an_admin_and_tells_how_to_log_in_once() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("first.db");
    let port = free_port();
    let mut child = Command::new(BINARY)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--database")
        .arg(&database)
        .env_remove("WHATS91_OPS_ADMIN_PASSWORD")
        .env("WHATS91_OPS_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap());
    let mut printed = Vec::new();
    let mut password = None;
    for line in lines.lines() {
        let line = line.unwrap();
        if let Some(value) = line.trim().strip_prefix("password:") {
            password = Some(value.trim().to_owned());
        }
        let ready = line.contains("is ready");
        printed.push(line);
        if ready {
            break;
        }
    }
    let mut server = Server(child);
    let password = password.unwrap_or_else(|| panic!("no password printed: {printed:?}"));
    let text = printed.join("\n");
    assert!(text.contains("user passwd admin"), "{text}");

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(format!("http://127.0.0.1:{port}/api/login"))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert!(login.headers().contains_key("set-cookie"), "{login:?}");

    // The log file (stderr) never carries the password.
    server.0.kill().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().unwrap(), &mut log).unwrap();
    assert!(!log.contains(&password), "the password reached the log");

    // A second start finds the admin and prints no password.
    let second = run(&database, &["user", "list"]);
    assert!(stdout(&second).contains("admin"), "{second:?}");
}
