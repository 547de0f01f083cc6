//! The subcommands of the `whats91-ops` binary, one module each; `serve`
//! lives in `startup`.

pub mod destination;
pub mod export;
pub mod reproject;
pub mod simulate;
pub mod token;
pub mod user;

use crate::{
    config::{Cli, Command, Settings},
    startup, telemetry,
};

/// Runs the subcommand given on the command line (`serve` when none is).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.global.log_format, &cli.global.log)?;
    match cli.command {
        None => startup::serve(Settings::resolve(&cli.serve, &cli.global)?).await,
        Some(Command::Serve(args)) => startup::serve(Settings::resolve(&args, &cli.global)?).await,
        Some(Command::Destination(command)) => destination::run(command, &cli.global).await,
        Some(Command::Export(args)) => export::run(args, &cli.global).await,
        Some(Command::Reproject) => reproject::run(&cli.global).await,
        Some(Command::User(command)) => user::run(command, &cli.global).await,
        Some(Command::Token(command)) => token::run(command, &cli.global).await,
        Some(Command::Simulate(args)) => simulate::run(args).await,
    }
}
