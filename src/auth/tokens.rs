//! API tokens for scripts: `Authorization: Bearer <token>`. The token is
//! shown once at creation; only its SHA-256 digest is stored, so a copy of
//! the database does not hand out access.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use crate::{model::Role, store::now_millis};

const PREFIX: &str = "w91ops_";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named {0:?} already exists")]
    Taken(String),
    #[error("no active token is named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token and returns it: the only time it is ever seen.
pub async fn create(pool: &SqlitePool, name: &str, role: Role) -> Result<String, TokenError> {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let token = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let created = sqlx::query(
        "INSERT INTO api_tokens (name, token_sha256, role, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(digest(&token))
    .bind(role.as_str())
    .bind(now_millis())
    .execute(pool)
    .await?;
    if created.rows_affected() == 0 {
        return Err(TokenError::Taken(name.to_owned()));
    }
    Ok(token)
}

pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<ApiToken>> {
    sqlx::query_as(
        "SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY name",
    )
    .fetch_all(pool)
    .await
}

pub async fn revoke(pool: &SqlitePool, name: &str) -> Result<(), TokenError> {
    let revoked =
        sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
            .bind(now_millis())
            .bind(name)
            .execute(pool)
            .await?;
    if revoked.rows_affected() == 0 {
        return Err(TokenError::NotFound(name.to_owned()));
    }
    Ok(())
}

/// The name and role of a valid, unrevoked token, noting its use. The
/// lookup is by digest, so timing says nothing about the token itself.
pub async fn authenticate(pool: &SqlitePool, token: &str) -> sqlx::Result<Option<(String, Role)>> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    let found: Option<(String, String)> = sqlx::query_as(
        "UPDATE api_tokens SET last_used_at = ?
         WHERE token_sha256 = ? AND revoked_at IS NULL
         RETURNING name, role",
    )
    .bind(now_millis())
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    Ok(found.and_then(|(name, role)| Role::parse(&role).map(|role| (name, role))))
}
