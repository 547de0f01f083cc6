//! `X-Whats91-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed
//! with the signing secret string exactly as Whats91 issued it (`whsec_…`
//! included, never decoded).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header Whats91 signs deliveries with.
pub const SIGNATURE_HEADER: &str = "x-whats91-signature";

const DIGEST_LEN: usize = 32;

/// A parsed signature header: exactly 32 bytes of digest.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader([u8; DIGEST_LEN]);

/// Why a signature header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFormatError {
    #[error("the signature is not 64 hexadecimal characters")]
    Length,
    #[error("the signature contains characters that are not hexadecimal")]
    NotHex,
}

impl SignatureHeader {
    /// Reads the header value. Tolerates surrounding spaces, a `sha256=`
    /// prefix and upper-case hex, as other webhook senders produce them.
    pub fn parse(raw: &str) -> Result<Self, SignatureFormatError> {
        let raw = raw.trim();
        let hex_part = match raw.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &raw[7..],
            _ => raw,
        };
        if hex_part.len() != DIGEST_LEN * 2 {
            return Err(SignatureFormatError::Length);
        }
        let mut digest = [0u8; DIGEST_LEN];
        hex::decode_to_slice(hex_part, &mut digest).map_err(|_| SignatureFormatError::NotHex)?;
        Ok(Self(digest))
    }

    /// Whether this is the signature of `body` under `secret`, compared in
    /// constant time.
    pub fn matches(&self, secret: &str, body: &[u8]) -> bool {
        digest(secret, body).ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureHeader(..)")
    }
}

/// The signature Whats91 would send for `body`: lowercase hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    hex::encode(digest(secret, body))
}

fn digest(secret: &str, body: &[u8]) -> [u8; DIGEST_LEN] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        payload: String,
        secret: String,
        body: String,
        signature: String,
    }

    /// Signature vectors computed independently with Node's `crypto`.
    fn vectors() -> Vec<Vector> {
        let raw = include_str!("../../tests/fixtures/signatures.json");
        let parsed: Vectors = serde_json::from_str(raw).expect("signature fixtures");
        assert!(!parsed.vectors.is_empty());
        parsed.vectors
    }

    fn flip_first_byte(bytes: &mut [u8]) {
        bytes[0] ^= 0x01;
    }

    #[test]
    fn every_fixture_vector_verifies_and_signs_identically() {
        for v in vectors() {
            let header = SignatureHeader::parse(&v.signature).unwrap();
            assert!(
                header.matches(&v.secret, v.body.as_bytes()),
                "{}",
                v.payload
            );
            assert_eq!(
                sign(&v.secret, v.body.as_bytes()),
                v.signature,
                "{}",
                v.payload
            );
        }
    }

    #[test]
    fn every_fixture_vector_fails_with_one_byte_of_body_changed() {
        for v in vectors() {
            let header = SignatureHeader::parse(&v.signature).unwrap();
            let mut body = v.body.clone().into_bytes();
            flip_first_byte(&mut body);
            assert!(!header.matches(&v.secret, &body), "{}", v.payload);
            let mut body = v.body.clone().into_bytes();
            let last = body.len() - 1;
            body[last] ^= 0x01;
            assert!(!header.matches(&v.secret, &body), "{}", v.payload);
        }
    }

    #[test]
    fn every_fixture_vector_fails_with_one_byte_of_secret_changed() {
        for v in vectors() {
            let header = SignatureHeader::parse(&v.signature).unwrap();
            let mut secret = v.secret.clone().into_bytes();
            flip_first_byte(&mut secret);
            let secret = String::from_utf8(secret).unwrap();
            assert!(!header.matches(&secret, v.body.as_bytes()), "{}", v.payload);
        }
    }

    #[test]
    fn every_fixture_vector_fails_with_one_byte_of_signature_changed() {
        for v in vectors() {
            let mut signature = v.signature.clone().into_bytes();
            // Swap one hex digit for another, keeping the header well-formed.
            signature[10] = if signature[10] == b'0' { b'1' } else { b'0' };
            let header = SignatureHeader::parse(std::str::from_utf8(&signature).unwrap()).unwrap();
            assert!(
                !header.matches(&v.secret, v.body.as_bytes()),
                "{}",
                v.payload
            );
        }
    }

    #[test]
    fn upper_case_hex_and_a_sha256_prefix_verify() {
        for v in vectors() {
            let body = v.body.as_bytes();
            let upper = v.signature.to_uppercase();
            for raw in [
                upper.clone(),
                format!("sha256={}", v.signature),
                format!("SHA256={upper}"),
                format!("  {}  ", v.signature),
            ] {
                let header = SignatureHeader::parse(&raw).unwrap();
                assert!(header.matches(&v.secret, body), "{raw}");
            }
        }
    }

    #[test]
    fn wrong_length_and_non_hex_signatures_are_refused_without_panicking() {
        let good = "94be460373c743018f83c58e9a2a603c1e312e3eaebb291829d0d6919c43c3b9";
        assert_eq!(
            SignatureHeader::parse(""),
            Err(SignatureFormatError::Length)
        );
        assert_eq!(
            SignatureHeader::parse("sha256="),
            Err(SignatureFormatError::Length)
        );
        assert_eq!(
            SignatureHeader::parse(&good[..63]),
            Err(SignatureFormatError::Length)
        );
        assert_eq!(
            SignatureHeader::parse(&format!("{good}0")),
            Err(SignatureFormatError::Length)
        );
        let non_hex = format!("{}zz", &good[..62]);
        assert_eq!(
            SignatureHeader::parse(&non_hex),
            Err(SignatureFormatError::NotHex)
        );
        // Multi-byte characters must not split a slice and panic.
        let multibyte = "é".repeat(32);
        assert!(SignatureHeader::parse(&multibyte).is_err());
        assert!(SignatureHeader::parse("sha256é").is_err());
        assert!(SignatureHeader::parse(&format!("sha25{}", "é".repeat(31))).is_err());
    }
}
