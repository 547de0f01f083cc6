//! `whats91-ops reproject`: rebuilds every projection from the event log in
//! one transaction, with a progress bar on a terminal.

use indicatif::{ProgressBar, ProgressStyle};

use crate::{config::GlobalArgs, projection::projector, store::Database};

pub async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    let db = Database::open(&global.database).await?;
    // Drawn only when stderr is a terminal.
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, {eta} left)")
            .expect("a valid progress template"),
    );
    let applied = projector::reproject(&db.pool, |done, newest| {
        bar.set_length(newest as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    println!("projections rebuilt from the log through event {applied}");
    Ok(())
}
