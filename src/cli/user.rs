//! `whats91-ops user add|passwd|list|disable`. Passwords are read from a
//! prompt, or from standard input when it is not a terminal; never from an
//! argument, where they would end up in shell history and process lists.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::Subcommand;

use crate::{
    auth::{audit, users},
    config::GlobalArgs,
    model::Role,
    store::{format_millis, Database},
};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Set a new password.
    Passwd { name: String },
    /// List accounts.
    List,
    /// Disable an account; its sessions end at their next request.
    Disable { name: String },
}

pub fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| format!("{raw:?} is not a role: viewer, operator or admin"))
}

pub async fn run(command: UserCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let db = Database::open(&global.database).await?;
    let pool = &db.pool;
    let log = |action: &'static str, target: String| async move {
        audit::record(pool, audit::COMMAND_LINE, action, Some(&target), None, None).await;
    };
    match command {
        UserCommand::Add { name, role } => {
            let password = read_password(&format!("Password for {name}: "))?;
            users::create(pool, &name, password, role).await?;
            log("user.add", format!("{name} ({})", role.as_str())).await;
            println!("created {name} ({})", role.as_str());
        }
        UserCommand::Passwd { name } => {
            let password = read_password(&format!("New password for {name}: "))?;
            users::set_password(pool, &name, password).await?;
            log("user.passwd", name.clone()).await;
            println!("password of {name} changed");
        }
        UserCommand::Disable { name } => {
            users::disable(pool, &name).await?;
            log("user.disable", name.clone()).await;
            println!("{name} disabled");
        }
        UserCommand::List => {
            println!("{:<24} {:<9} {:<9} LAST LOGIN", "NAME", "ROLE", "STATE");
            for user in users::list(pool).await? {
                let state = if user.disabled { "disabled" } else { "active" };
                let last = user
                    .last_login_at
                    .map_or_else(|| "never".to_owned(), format_millis);
                println!("{:<24} {:<9} {:<9} {last}", user.username, user.role, state);
            }
        }
    }
    Ok(())
}

fn read_password(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        let second = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
