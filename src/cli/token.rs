//! `whats91-ops token create|list|revoke`: API tokens for scripts.

use clap::Subcommand;

use super::user::parse_role;
use crate::{
    auth::{audit, tokens},
    config::GlobalArgs,
    model::Role,
    store::{format_millis, Database},
};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and cannot be shown again.
    Create {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token at once.
    Revoke { name: String },
}

pub async fn run(command: TokenCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let db = Database::open(&global.database).await?;
    let pool = &db.pool;
    match command {
        TokenCommand::Create { name, role } => {
            let token = tokens::create(pool, &name, role).await?;
            let target = format!("{name} ({})", role.as_str());
            audit::record(
                pool,
                audit::COMMAND_LINE,
                "token.create",
                Some(&target),
                None,
                None,
            )
            .await;
            eprintln!("Token {name} ({}), shown only now:", role.as_str());
            println!("{token}");
        }
        TokenCommand::Revoke { name } => {
            tokens::revoke(pool, &name).await?;
            audit::record(
                pool,
                audit::COMMAND_LINE,
                "token.revoke",
                Some(&name),
                None,
                None,
            )
            .await;
            println!("{name} revoked");
        }
        TokenCommand::List => {
            println!("{:<24} {:<9} {:<26} LAST USED", "NAME", "ROLE", "STATE");
            for token in tokens::list(pool).await? {
                let state = token.revoked_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("revoked {}", format_millis(at)),
                );
                let last = token
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), format_millis);
                println!("{:<24} {:<9} {state:<26} {last}", token.name, token.role);
            }
        }
    }
    Ok(())
}
