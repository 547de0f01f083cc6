//! `whats91-ops export [--since SEQ]`: the event log as NDJSON on stdout,
//! one event per line, oldest first. The raw body is kept exactly: as a
//! string when it is UTF-8, otherwise base64 in `bodyBase64`.

use std::io::Write;

use base64::Engine;
use clap::Args;
use serde_json::Value;

use crate::{
    config::GlobalArgs,
    store::{
        events::{self, StoredEvent},
        Database,
    },
};

/// Events read from the database at a time.
const PAGE: i64 = 1000;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only events with a sequence number above this one.
    #[arg(long, default_value_t = 0)]
    pub since: i64,
}

pub async fn run(args: ExportArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let db = Database::open(&global.database).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut after = args.since;
    loop {
        let page = events::list_after(&db.pool, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.summary.seq;
        for event in &page {
            serde_json::to_writer(&mut out, &export_line(event))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One exported event.
pub fn export_line(stored: &StoredEvent) -> Value {
    let mut line = stored.summary.to_json();
    match std::str::from_utf8(&stored.body) {
        Ok(text) => line["body"] = Value::from(text),
        Err(_) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&stored.body);
            line["bodyBase64"] = Value::from(encoded);
        }
    }
    line
}
