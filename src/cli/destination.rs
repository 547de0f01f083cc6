//! `whats91-ops destination add|list|set-status`.

use clap::{Args, Subcommand};

use crate::{
    auth::audit,
    config::GlobalArgs,
    store::{
        destinations::{self, DestinationStatus, NewDestination, Secret, DEFAULT_HEADER_KEY},
        Database,
    },
};

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Register a destination by hand, with the credentials Whats91 gave.
    Add(AddArgs),
    /// List destinations (secrets are never shown).
    List,
    /// Switch a destination ACTIVE or INACTIVE.
    SetStatus {
        slug: String,
        #[arg(value_enum)]
        status: DestinationStatus,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The last part of the receiver URL: /webhooks/whats91/<slug>.
    #[arg(long)]
    pub slug: String,
    /// A name for people [default: the slug].
    #[arg(long)]
    pub name: Option<String>,
    /// The signing secret (`whsec_…`) Whats91 returned when the webhook was
    /// created.
    #[arg(long)]
    pub secret: Option<String>,
    /// The verification token Whats91 sends in the verification header.
    #[arg(long)]
    pub token: Option<String>,
    /// The header carrying the verification token.
    #[arg(long, default_value = DEFAULT_HEADER_KEY)]
    pub header_key: String,
    /// Subscribed event keys, comma-separated [default: every event].
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// The Whats91 webhook this destination stands for.
    #[arg(long)]
    pub webhook_uid: Option<String>,
    /// The Whats91 sender (phone number) id.
    #[arg(long)]
    pub sender_id: Option<String>,
    #[arg(long, value_enum, default_value = "ACTIVE")]
    pub status: DestinationStatus,
    /// Seconds of silence after which the destination is reported quiet.
    #[arg(long, default_value_t = 3600)]
    pub quiet_period: i64,
}

pub async fn run(command: DestinationCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let db = Database::open(&global.database).await?;
    match command {
        DestinationCommand::Add(args) => add(&db, args).await,
        DestinationCommand::List => list(&db).await,
        DestinationCommand::SetStatus { slug, status } => {
            let destination = destinations::set_status(&db.pool, &slug, status).await?;
            let detail = format!("status {}", status.as_str());
            audit::record(
                &db.pool,
                audit::COMMAND_LINE,
                "destination.set_status",
                Some(&slug),
                Some(&detail),
                None,
            )
            .await;
            println!(
                "{} is now {}",
                destination.slug,
                destination.status.as_str()
            );
            Ok(())
        }
    }
}

async fn add(db: &Database, args: AddArgs) -> anyhow::Result<()> {
    let new = NewDestination {
        name: args.name.unwrap_or_else(|| args.slug.clone()),
        slug: args.slug,
        webhook_uid: args.webhook_uid,
        sender_id: args.sender_id,
        signing_secret: args.secret.map(Secret::new),
        verification_header_key: args.header_key,
        verification_token: args.token.map(Secret::new),
        events: args.events.into_iter().filter(|e| !e.is_empty()).collect(),
        status: args.status,
        quiet_period_secs: args.quiet_period,
    };
    let destination = destinations::insert(&db.pool, &new).await?;
    audit::record(
        &db.pool,
        audit::COMMAND_LINE,
        "destination.add",
        Some(&destination.slug),
        None,
        None,
    )
    .await;
    println!(
        "registered {} ({}); Whats91 delivers to <public URL>{}",
        destination.slug,
        destination.status.as_str(),
        destination.receiver_path()
    );
    Ok(())
}

async fn list(db: &Database) -> anyhow::Result<()> {
    let all = destinations::list(&db.pool).await?;
    if all.is_empty() {
        println!("no destinations registered");
        return Ok(());
    }
    println!(
        "{:<20} {:<9} {:<18} {:<14} {:<32} EVENTS",
        "SLUG", "STATUS", "AUTH", "WEBHOOK UID", "RECEIVER PATH"
    );
    for d in all {
        let auth = match (d.signing_secret.is_some(), d.verification_token.is_some()) {
            (true, true) => "signature+token",
            (true, false) => "signature",
            _ => "token",
        };
        let events = if d.events.is_empty() {
            "(all)".to_owned()
        } else {
            d.events.join(",")
        };
        println!(
            "{:<20} {:<9} {:<18} {:<14} {:<32} {}",
            d.slug,
            d.status.as_str(),
            auth,
            d.webhook_uid.as_deref().unwrap_or("-"),
            d.receiver_path(),
            events
        );
    }
    Ok(())
}
