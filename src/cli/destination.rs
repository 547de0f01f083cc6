//! `whats91-ops destination create|add|import|list|set-status`, through the
//! same [`Manager`] as the Destinations page.
//!
//! Secrets come from flags, their `WHATS91_OPS_*` variables or a prompt,
//! and are never printed: `create` says that the signing secret was stored,
//! not what it is.

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::{
    config::{GlobalArgs, PublicUrl, Whats91Args},
    destinations::{Actor, CreateThroughWhats91, LinkExisting, Manager},
    store::{
        destinations::{self, DestinationStatus, NewDestination, Secret, DEFAULT_HEADER_KEY},
        Database,
    },
    whats91::Whats91Client,
};

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Create a webhook at Whats91 pointing at this server and store it,
    /// with the signing secret from Whats91's answer.
    Create(CreateArgs),
    /// Register a destination by hand, with the credentials Whats91 gave.
    Add(AddArgs),
    /// List the account's webhooks at Whats91, or link one (`--link`).
    Import(ImportArgs),
    /// List destinations (secrets are never shown).
    List,
    /// Switch a destination ACTIVE or INACTIVE (at Whats91 first when it is
    /// linked to a webhook there).
    SetStatus {
        slug: String,
        #[arg(value_enum)]
        status: DestinationStatus,
        /// Change only the local status, leaving Whats91 as it is.
        #[arg(long)]
        local_only: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// How to reach Whats91, and where Whats91 reaches this server.
#[derive(Debug, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub whats91: Whats91Args,

    /// This server's public base URL, for receiver URLs.
    #[arg(
        long,
        env = "WHATS91_OPS_PUBLIC_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub public_url: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The last part of the receiver URL: /webhooks/whats91/<slug>.
    #[arg(long)]
    pub slug: String,
    /// A name for people [default: the slug].
    #[arg(long)]
    pub name: Option<String>,
    /// Event keys to subscribe to, comma-separated, from Whats91's catalog
    /// [default: every event in the catalog].
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// The header carrying the verification token.
    #[arg(long, default_value = DEFAULT_HEADER_KEY)]
    pub header_key: String,
    /// A verification token Whats91 should send with every delivery
    /// (optional: the signing secret alone authenticates deliveries).
    #[arg(long, env = "WHATS91_OPS_VERIFICATION_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Create it INACTIVE, to switch it on later with `set-status`.
    #[arg(long)]
    pub inactive: bool,
    /// The Whats91 sender (phone number) [default: the account's].
    #[arg(long)]
    pub sender_id: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Link this Whats91 webhook (its uid) to a new local destination.
    #[arg(long, requires = "slug")]
    pub link: Option<String>,
    /// The slug of the linked destination.
    #[arg(long)]
    pub slug: Option<String>,
    /// A name for people [default: the webhook's name at Whats91].
    #[arg(long)]
    pub name: Option<String>,
    /// The webhook's signing secret, as Whats91 showed it at creation
    /// [default: asked for].
    #[arg(long, env = "WHATS91_OPS_SIGNING_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// The webhook's verification token, if it has one.
    #[arg(long, env = "WHATS91_OPS_VERIFICATION_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
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

/// What a command needs to build its [`Manager`].
struct Tools {
    db: Database,
    client: Option<Whats91Client>,
    public_url: PublicUrl,
}

impl Tools {
    async fn open(global: &GlobalArgs, api: Option<&ApiArgs>) -> anyhow::Result<Self> {
        let db = Database::open(&global.database).await?;
        let (client, public_url) = match api {
            Some(api) => (api.whats91.client()?, PublicUrl::parse(&api.public_url)?),
            None => (None, PublicUrl::parse("http://127.0.0.1:3000")?),
        };
        Ok(Self {
            db,
            client,
            public_url,
        })
    }

    fn manager(&self) -> Manager<'_> {
        Manager {
            pool: &self.db.pool,
            whats91: self.client.as_ref(),
            public_url: &self.public_url,
            cache: None,
        }
    }
}

pub async fn run(command: DestinationCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    match command {
        DestinationCommand::Create(args) => {
            let context = Tools::open(global, Some(&args.api)).await?;
            create(context.manager(), args).await
        }
        DestinationCommand::Add(args) => {
            let context = Tools::open(global, None).await?;
            add(context.manager(), args).await
        }
        DestinationCommand::Import(args) => {
            let context = Tools::open(global, Some(&args.api)).await?;
            import(context.manager(), args).await
        }
        DestinationCommand::List => list(&Database::open(&global.database).await?).await,
        DestinationCommand::SetStatus {
            slug,
            status,
            local_only,
            api,
        } => {
            let context = Tools::open(global, Some(&api)).await?;
            let manager = context.manager();
            let actor = Actor::command_line();
            let destination = if local_only {
                manager.set_local_status(&slug, status, actor).await?
            } else {
                manager.set_status(&slug, status, actor).await?
            };
            let whats91 = match (&destination.webhook_uid, local_only) {
                (Some(uid), false) => format!(" (here and at Whats91, webhook {uid})"),
                (Some(_), true) => " (here only; Whats91 left as it was)".to_owned(),
                (None, _) => String::new(),
            };
            println!(
                "{} is now {}{whats91}",
                destination.slug,
                destination.status.as_str()
            );
            Ok(())
        }
    }
}

async fn create(manager: Manager<'_>, args: CreateArgs) -> anyhow::Result<()> {
    let mut events: Vec<String> = args.events.into_iter().filter(|e| !e.is_empty()).collect();
    if events.is_empty() {
        events = manager.event_catalog().await?;
    }
    let request = CreateThroughWhats91 {
        name: args.name.unwrap_or_default(),
        slug: args.slug,
        events,
        verification_header_key: args.header_key,
        verification_token: args.token.map(Secret::new),
        start_inactive: args.inactive,
        sender_id: args.sender_id,
    };
    let created = manager
        .create_through_whats91(request, Actor::command_line())
        .await?;
    let d = &created.destination;
    println!(
        "created {} ({}), linked to Whats91 webhook {}",
        d.slug,
        d.status.as_str(),
        d.webhook_uid.as_deref().unwrap_or("-")
    );
    println!("Whats91 delivers to {}", created.receiver_url);
    println!("The signing secret from Whats91 was stored; it is never shown.");
    if d.status == DestinationStatus::Inactive {
        println!(
            "Switch it on when ready: whats91-ops destination set-status {} ACTIVE",
            d.slug
        );
    }
    Ok(())
}

async fn add(manager: Manager<'_>, args: AddArgs) -> anyhow::Result<()> {
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
    let destination = manager.register_by_hand(new, Actor::command_line()).await?;
    println!(
        "registered {} ({}); Whats91 delivers to <public URL>{}",
        destination.slug,
        destination.status.as_str(),
        destination.receiver_path()
    );
    Ok(())
}

async fn import(manager: Manager<'_>, args: ImportArgs) -> anyhow::Result<()> {
    let Some(webhook_uid) = args.link else {
        return list_remote(manager).await;
    };
    let (secret, token) = match (args.secret, args.token) {
        (None, None) => (Some(ask_secret()?), None),
        given => given,
    };
    let link = LinkExisting {
        webhook_uid,
        slug: args.slug.unwrap_or_default(),
        name: args.name,
        signing_secret: secret.map(Secret::new),
        verification_token: token.map(Secret::new),
    };
    let destination = manager.link_existing(link, Actor::command_line()).await?;
    println!(
        "linked {} ({}) to Whats91 webhook {}; it receives at {}",
        destination.slug,
        destination.status.as_str(),
        destination.webhook_uid.as_deref().unwrap_or("-"),
        manager.receiver_url(&destination.slug)
    );
    Ok(())
}

async fn list_remote(manager: Manager<'_>) -> anyhow::Result<()> {
    let remote = manager.import().await?;
    if remote.is_empty() {
        println!("the Whats91 account has no webhooks");
        return Ok(());
    }
    println!(
        "{:<28} {:<9} {:<16} {:<24} ENDPOINT",
        "WEBHOOK UID", "STATUS", "LINKED TO", "NAME"
    );
    for r in &remote {
        let linked = r.linked_slug.as_deref().unwrap_or("-");
        println!(
            "{:<28} {:<9} {:<16} {:<24} {}",
            r.webhook.uid, r.webhook.status, linked, r.webhook.name, r.webhook.endpoint_url
        );
    }
    let unlinked = remote.iter().filter(|r| r.linked_slug.is_none()).count();
    if unlinked > 0 {
        println!(
            "\nLink one with: whats91-ops destination import --link <uid> --slug <slug> \
             (the signing secret is asked for)"
        );
    }
    Ok(())
}

/// The signing secret of a webhook being linked, from the terminal.
fn ask_secret() -> anyhow::Result<String> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "give the webhook's signing secret with --secret or WHATS91_OPS_SIGNING_SECRET \
         (or its verification token with --token)"
    );
    let secret = rpassword::prompt_password("Signing secret (whsec_…): ")
        .context("cannot read the signing secret")?;
    Ok(secret.trim().to_owned())
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
