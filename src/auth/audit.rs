//! The audit log: who did what, when, from where.

use sqlx::SqlitePool;

use crate::{
    model::AuditEntry,
    store::{format_millis, now_millis},
};

/// Who acted when the command line did.
pub const COMMAND_LINE: &str = "command line";

/// Records an action. A failure is logged, never passed on: the action it
/// describes has already happened.
pub async fn record(
    pool: &SqlitePool,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
    remote_addr: Option<&str>,
) {
    let recorded = sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, detail, remote_addr)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(now_millis())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(remote_addr)
    .execute(pool)
    .await;
    if let Err(error) = recorded {
        tracing::error!(%error, action, "audit entry not recorded");
    }
}

/// Entries newest first, optionally only those whose actor or action
/// contains `filter`.
pub async fn list(pool: &SqlitePool, filter: &str, limit: i64) -> sqlx::Result<Vec<AuditEntry>> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT at, actor, action, target, detail, remote_addr FROM audit_log
         WHERE ?1 = '' OR instr(actor, ?1) > 0 OR instr(action, ?1) > 0
            OR instr(COALESCE(target, ''), ?1) > 0
         ORDER BY at DESC, id DESC LIMIT ?2",
    )
    .bind(filter.trim())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEntry {
            at: format_millis(row.at),
            actor: row.actor,
            action: row.action,
            target: row.target,
            detail: row.detail,
            remote_addr: row.remote_addr,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    at: i64,
    actor: String,
    action: String,
    target: Option<String>,
    detail: Option<String>,
    remote_addr: Option<String>,
}
