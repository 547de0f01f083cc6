//! Staff accounts.

use sqlx::SqlitePool;

use super::password::{self, PasswordError};
use crate::{model::Role, store::now_millis};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

impl User {
    pub fn role(&self) -> Role {
        // The schema only admits the three role names.
        Role::parse(&self.role).unwrap_or(Role::Viewer)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user names are 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidName,
    #[error("a user named {0:?} already exists")]
    Taken(String),
    #[error("no user is named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub async fn count(pool: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await
}

pub async fn create(
    pool: &SqlitePool,
    username: &str,
    password: String,
    role: Role,
) -> Result<User, UserError> {
    if !valid_name(username) {
        return Err(UserError::InvalidName);
    }
    let hash = password::hash(password).await?;
    let user: Option<User> = sqlx::query_as(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (username) DO NOTHING RETURNING *",
    )
    .bind(username)
    .bind(hash)
    .bind(role.as_str())
    .bind(now_millis())
    .fetch_optional(pool)
    .await?;
    user.ok_or_else(|| UserError::Taken(username.to_owned()))
}

pub async fn set_password(
    pool: &SqlitePool,
    username: &str,
    password: String,
) -> Result<(), UserError> {
    let hash = password::hash(password).await?;
    let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE username = ?")
        .bind(hash)
        .bind(username)
        .execute(pool)
        .await?;
    if changed.rows_affected() == 0 {
        return Err(UserError::NotFound(username.to_owned()));
    }
    Ok(())
}

/// Disables an account; its sessions stop working on their next request.
pub async fn disable(pool: &SqlitePool, username: &str) -> Result<(), UserError> {
    let changed = sqlx::query("UPDATE users SET disabled = 1 WHERE username = ?")
        .bind(username)
        .execute(pool)
        .await?;
    if changed.rows_affected() == 0 {
        return Err(UserError::NotFound(username.to_owned()));
    }
    Ok(())
}

pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<User>> {
    sqlx::query_as("SELECT * FROM users ORDER BY username")
        .fetch_all(pool)
        .await
}

pub async fn find(pool: &SqlitePool, username: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT * FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(pool)
        .await
}

pub async fn find_by_id(pool: &SqlitePool, id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query_as("SELECT * FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The user whose credentials these are, if they are right and the account
/// is enabled. Takes as long for an unknown name as for a known one.
pub async fn authenticate(
    pool: &SqlitePool,
    username: &str,
    password: String,
) -> sqlx::Result<Option<User>> {
    let user = find(pool, username).await?;
    let hash = match &user {
        Some(user) => user.password_hash.clone(),
        None => password::decoy_hash().await,
    };
    let matches = password::verify(password, hash).await;
    Ok(user.filter(|u| matches && !u.disabled))
}

pub async fn record_login(pool: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET last_login_at = ? WHERE id = ?")
        .bind(now_millis())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
