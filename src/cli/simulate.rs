//! `whats91-ops simulate`: runs the stand-in Whats91 of [`crate::simulate`]
//! until Ctrl-C, SIGTERM or the end of `--duration`.

use std::{net::SocketAddr, time::Duration};

use clap::Args;

use crate::{
    simulate::{self, SimulateConfig},
    store::destinations::Secret,
};

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Address the simulated API listens on.
    #[arg(
        long,
        env = "WHATS91_OPS_SIMULATE_ADDR",
        default_value = "127.0.0.1:3900"
    )]
    pub addr: SocketAddr,

    /// Deliveries per second to each ACTIVE webhook (0: API only).
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,

    /// Stop after this many seconds [default: run until interrupted].
    #[arg(long)]
    pub duration: Option<u64>,

    /// Bearer token the API accepts [default: generated and printed].
    #[arg(long, env = "WHATS91_OPS_SIMULATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Accept http:// endpoint URLs on any host, not only on loopback.
    #[arg(long)]
    pub allow_http: bool,

    /// Seed of the generated conversations, statuses and templates.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate >= 0.0 && args.rate.is_finite(),
        "--rate must be a number of deliveries per second, 0 or more"
    );
    let generated = args.token.is_none();
    let token = args
        .token
        .filter(|t| !t.trim().is_empty())
        .map(Secret::new)
        .unwrap_or_else(simulate::generate_token);
    let config = SimulateConfig {
        addr: args.addr,
        rate: args.rate,
        duration: args.duration.map(Duration::from_secs),
        token: token.clone(),
        allow_http: args.allow_http,
        seed: args.seed,
    };
    let simulator = simulate::spawn(config).await?;
    // A generated token is printed to the terminal for the operator to hand
    // to the app; it never reaches the log. A given one is not repeated.
    let shown = if generated {
        token.expose()
    } else {
        "<the --token value>"
    };
    println!("Simulated Whats91 API at {}", simulator.api_url());
    if generated {
        println!("Bearer token: {shown}");
    }
    println!(
        "Point whats91-ops at it:\n  WHATS91_OPS_WHATS91_API_URL={} \
         WHATS91_OPS_WHATS91_API_TOKEN={shown} whats91-ops serve",
        simulator.api_url()
    );
    simulator.run_until(interrupted()).await;
    println!("simulator stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
