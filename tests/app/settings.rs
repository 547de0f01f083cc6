//! Settings parsing. Tests that touch the process environment hold
//! `ENV_LOCK`, since the environment is shared by every test thread.

use std::sync::Mutex;

use clap::Parser;
use whats91_ops::config::{Cli, Command, LogFormat, Settings};

static ENV_LOCK: Mutex<()> = Mutex::new(());

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("whats91-ops").chain(args.iter().copied()))
}

fn resolve(cli: &Cli) -> Settings {
    let serve = match &cli.command {
        Some(Command::Serve(args)) => args,
        _ => &cli.serve,
    };
    Settings::resolve(serve, &cli.global).expect("valid settings")
}

#[test]
fn defaults_listen_on_loopback_port_3000_with_the_data_folder_database() {
    let _env = ENV_LOCK.lock().unwrap();
    let cli = parse(&[]).unwrap();
    assert!(cli.command.is_none(), "serve is the default");
    let settings = resolve(&cli);
    assert_eq!(settings.addr.to_string(), "127.0.0.1:3000");
    assert_eq!(settings.database.to_str(), Some("data/whats91-ops.db"));
    assert_eq!(settings.public_url.as_str(), "http://127.0.0.1:3000");
    assert_eq!(settings.body_limit, 1024 * 1024);
    assert_eq!(cli.global.log_format, LogFormat::Text);
}

#[test]
fn flags_override_the_defaults_before_and_after_the_serve_subcommand() {
    let _env = ENV_LOCK.lock().unwrap();
    let top = parse(&["--addr", "0.0.0.0:8080", "--database", "/tmp/x.db"]).unwrap();
    let settings = resolve(&top);
    assert_eq!(settings.addr.to_string(), "0.0.0.0:8080");
    assert_eq!(settings.database.to_str(), Some("/tmp/x.db"));
    assert_eq!(settings.public_url.as_str(), "http://0.0.0.0:8080");

    let sub = parse(&[
        "serve",
        "--addr",
        "127.0.0.1:9000",
        "--public-url",
        "https://ops.example.com/",
        "--log-format",
        "json",
    ])
    .unwrap();
    let settings = resolve(&sub);
    assert_eq!(settings.addr.to_string(), "127.0.0.1:9000");
    assert_eq!(settings.public_url.as_str(), "https://ops.example.com");
    assert!(settings.public_url.is_https());
    assert_eq!(sub.global.log_format, LogFormat::Json);
}

#[test]
fn environment_variables_override_the_defaults_and_flags_override_them() {
    let _env = ENV_LOCK.lock().unwrap();
    std::env::set_var("WHATS91_OPS_ADDR", "127.0.0.1:4100");
    std::env::set_var("WHATS91_OPS_DATABASE", "/var/lib/w91/ops.db");
    let from_env = parse(&[]);
    let from_flag = parse(&["--addr", "127.0.0.1:4200"]);
    std::env::remove_var("WHATS91_OPS_ADDR");
    std::env::remove_var("WHATS91_OPS_DATABASE");

    let settings = resolve(&from_env.unwrap());
    assert_eq!(settings.addr.to_string(), "127.0.0.1:4100");
    assert_eq!(settings.database.to_str(), Some("/var/lib/w91/ops.db"));
    assert_eq!(
        resolve(&from_flag.unwrap()).addr.to_string(),
        "127.0.0.1:4200"
    );
}

#[test]
fn a_bad_listen_address_is_refused_with_a_message_naming_the_flag() {
    let _env = ENV_LOCK.lock().unwrap();
    let error = parse(&["--addr", "not-an-address"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("--addr"), "{error}");
    assert!(error.contains("not-an-address"), "{error}");
}

#[test]
fn a_bad_public_url_is_refused_with_a_clear_message() {
    let _env = ENV_LOCK.lock().unwrap();
    let cli = parse(&["--public-url", "ops.example.com"]).unwrap();
    let error = Settings::resolve(&cli.serve, &cli.global)
        .unwrap_err()
        .to_string();
    assert!(error.contains("ops.example.com"), "{error}");
    assert!(error.contains("http://"), "{error}");
}

#[test]
fn an_unknown_log_format_is_refused_with_the_value_named() {
    let _env = ENV_LOCK.lock().unwrap();
    let bad_log_format = parse(&["--log-format", "xml"]).unwrap_err().to_string();
    assert!(bad_log_format.contains("xml"), "{bad_log_format}");
}

#[test]
fn the_first_admin_password_never_shows_in_debug_output() {
    let _env = ENV_LOCK.lock().unwrap();
    let cli = parse(&["--admin-password", "correct-horse-battery"]).unwrap();
    let settings = resolve(&cli);
    let password = settings.admin_password.as_ref().expect("password kept");
    assert_eq!(password.expose(), "correct-horse-battery");
    for shown in [format!("{cli:?}"), format!("{settings:?}")] {
        assert!(!shown.contains("correct-horse-battery"), "{shown}");
    }
}
