//! Authentication of a delivery: a pure function of the destination's
//! credentials, the request headers and the raw body bytes.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::signature::{SignatureHeader, SIGNATURE_HEADER};
use crate::store::destinations::Destination;

/// Why a delivery was refused as unauthenticated (answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TokenMissing,
    TokenMismatch,
    SignatureMissing,
    SignatureMalformed,
    SignatureMismatch,
}

impl Rejection {
    pub const ALL: [Rejection; 5] = [
        Self::TokenMissing,
        Self::TokenMismatch,
        Self::SignatureMissing,
        Self::SignatureMalformed,
        Self::SignatureMismatch,
    ];

    /// Stable name, used in the rejected-attempts log and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenMissing => "token_missing",
            Self::TokenMismatch => "token_mismatch",
            Self::SignatureMissing => "signature_missing",
            Self::SignatureMalformed => "signature_malformed",
            Self::SignatureMismatch => "signature_mismatch",
        }
    }
}

/// Which checks an accepted delivery passed. A check is `false` when the
/// destination has no credential of that kind configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    pub token: bool,
    pub signature: bool,
}

/// Checks the verification token, then the signature, as DESIGN orders
/// them. Every comparison of secret material is constant-time.
pub fn verify(
    destination: &Destination,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Checks, Rejection> {
    let token = match &destination.verification_token {
        Some(expected) => {
            let given = headers
                .get(destination.verification_header_key.as_str())
                .ok_or(Rejection::TokenMissing)?;
            if !same_secret(given.as_bytes(), expected.expose().as_bytes()) {
                return Err(Rejection::TokenMismatch);
            }
            true
        }
        None => false,
    };
    let signature = match &destination.signing_secret {
        Some(secret) => {
            let raw = headers
                .get(SIGNATURE_HEADER)
                .ok_or(Rejection::SignatureMissing)?;
            let header = raw
                .to_str()
                .ok()
                .and_then(|raw| SignatureHeader::parse(raw).ok())
                .ok_or(Rejection::SignatureMalformed)?;
            if !header.matches(secret.expose(), body) {
                return Err(Rejection::SignatureMismatch);
            }
            true
        }
        None => false,
    };
    Ok(Checks { token, signature })
}

/// Compares digests rather than the values themselves so that neither the
/// content nor the length of the secret shows in the timing.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given)
        .ct_eq(&Sha256::digest(expected))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        store::destinations::{DestinationStatus, Secret, DEFAULT_HEADER_KEY},
        webhook::signature::sign,
    };

    const BODY: &[u8] = br#"{"event":"message.inbound.text","data":{}}"#;

    fn destination(secret: Option<&str>, token: Option<&str>) -> Destination {
        Destination {
            id: 1,
            slug: "default".into(),
            name: "default".into(),
            webhook_uid: None,
            sender_id: None,
            signing_secret: secret.map(Secret::new),
            verification_header_key: DEFAULT_HEADER_KEY.into(),
            verification_token: token.map(Secret::new),
            events: vec![],
            status: DestinationStatus::Active,
            quiet_period_secs: 3600,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_correct_token_and_signature_pass_both_checks() {
        let d = destination(Some("whsec_a"), Some("tok"));
        let signature = sign("whsec_a", BODY);
        let h = headers(&[
            ("x-crm-webhook-token", "tok"),
            (SIGNATURE_HEADER, &signature),
        ]);
        assert_eq!(
            verify(&d, &h, BODY),
            Ok(Checks {
                token: true,
                signature: true
            })
        );
    }

    #[test]
    fn the_token_is_checked_before_the_signature() {
        let d = destination(Some("whsec_a"), Some("tok"));
        assert_eq!(
            verify(&d, &headers(&[]), BODY),
            Err(Rejection::TokenMissing)
        );
        let wrong = headers(&[("X-CRM-Webhook-Token", "tok2"), (SIGNATURE_HEADER, "zz")]);
        assert_eq!(verify(&d, &wrong, BODY), Err(Rejection::TokenMismatch));
    }

    #[test]
    fn signature_failures_are_told_apart() {
        let d = destination(Some("whsec_a"), None);
        assert_eq!(
            verify(&d, &headers(&[]), BODY),
            Err(Rejection::SignatureMissing)
        );
        let malformed = headers(&[(SIGNATURE_HEADER, "abc")]);
        assert_eq!(
            verify(&d, &malformed, BODY),
            Err(Rejection::SignatureMalformed)
        );
        let other = headers(&[(SIGNATURE_HEADER, &sign("whsec_b", BODY))]);
        assert_eq!(verify(&d, &other, BODY), Err(Rejection::SignatureMismatch));
    }

    #[test]
    fn a_destination_with_only_a_token_needs_no_signature() {
        let d = destination(None, Some("tok"));
        let h = headers(&[("x-crm-webhook-token", "tok")]);
        assert_eq!(
            verify(&d, &h, BODY),
            Ok(Checks {
                token: true,
                signature: false
            })
        );
    }

    #[test]
    fn the_custom_header_key_is_the_one_read() {
        let mut d = destination(None, Some("tok"));
        d.verification_header_key = "X-Other-Token".into();
        let default_header = headers(&[("x-crm-webhook-token", "tok")]);
        assert_eq!(
            verify(&d, &default_header, BODY),
            Err(Rejection::TokenMissing)
        );
        let custom = headers(&[("x-other-token", "tok")]);
        assert!(verify(&d, &custom, BODY).is_ok());
    }
}
