//! Password hashing: argon2id with the crate's recommended parameters, run
//! off the async threads (it is deliberately slow).

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password could not be hashed")]
    Hashing,
}

/// A PHC string (`$argon2id$v=19$…`) for `password`.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| PasswordError::Hashing)
    })
    .await
    .map_err(|_| PasswordError::Hashing)?
}

/// Whether `password` matches the stored `hash` (constant-time inside).
pub async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password nobody knows, verified against when a
/// username does not exist so that the answer takes as long as for a real
/// user. Computed once, on first use.
pub async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            let mut random = [0u8; 24];
            argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut random);
            hash(hex::encode(random)).await.unwrap_or_default()
        })
        .await
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify("correct horse battery".into(), hash.clone()).await);
        assert!(!verify("correct horse batterY".into(), hash.clone()).await);
        assert!(!verify("anything".into(), "not a hash".into()).await);
        let decoy = decoy_hash().await;
        assert!(decoy.starts_with("$argon2id$"));
        assert!(!verify("anything at all".into(), decoy).await);
    }

    #[tokio::test]
    async fn short_passwords_are_refused() {
        assert!(matches!(
            hash("short".into()).await,
            Err(PasswordError::TooShort)
        ));
    }
}
