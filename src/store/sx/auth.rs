//! SX credentials and request signing (sx-protocol.md §2, §3).

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ring::hmac;

use crate::encoding::{hex, unhex};

/// SHA-1 of an empty body, which every bodiless request signs.
pub const EMPTY_SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

/// Why a token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the SX key is not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    #[error("the SX key decodes to {0} bytes instead of 42 (a key is 56 base64 characters)")]
    WrongLength(usize),
    #[error("the user record has no valid userID/userKey")]
    BadUserRecord,
}

/// A decoded SX auth token: `uid[20] ‖ key[20] ‖ flags[2]`. Debug never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    bin: [u8; 42],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(uid {}, <redacted>)", hex(self.uid()))
    }
}

impl Token {
    /// Parses the 56-character base64 form; padding is tolerated.
    pub fn parse(ascii: &str) -> Result<Token, TokenError> {
        let trimmed = ascii.trim().trim_end_matches('=');
        let bytes = STANDARD_NO_PAD.decode(trimmed)?;
        let bin: [u8; 42] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| TokenError::WrongLength(bytes.len()))?;
        Ok(Token { bin })
    }

    /// The token of a user as `GET /.users/<name>` describes it (hex uid and key).
    pub fn from_parts(user_id_hex: &str, user_key_hex: &str) -> Result<Token, TokenError> {
        let uid = unhex(user_id_hex).filter(|v| v.len() == 20);
        let key = unhex(user_key_hex).filter(|v| v.len() == 20);
        match (uid, key) {
            (Some(uid), Some(key)) => {
                let mut bin = [0u8; 42];
                bin[..20].copy_from_slice(&uid);
                bin[20..40].copy_from_slice(&key);
                Ok(Token { bin })
            }
            _ => Err(TokenError::BadUserRecord),
        }
    }

    /// A token whose uid is SHA1(name), as SX gives ordinary users and admin.
    pub fn for_user(name: &str, key: [u8; 20]) -> Token {
        let mut bin = [0u8; 42];
        bin[..20].copy_from_slice(&<sha1::Sha1 as sha1::Digest>::digest(name.as_bytes()));
        bin[20..40].copy_from_slice(&key);
        Token { bin }
    }

    pub fn uid(&self) -> &[u8] {
        &self.bin[..20]
    }
    pub fn key(&self) -> &[u8] {
        &self.bin[20..40]
    }
    pub fn flags(&self) -> &[u8] {
        &self.bin[40..]
    }

    /// The 56-character base64 form (no padding).
    pub fn to_ascii(&self) -> String {
        STANDARD_NO_PAD.encode(self.bin)
    }

    /// The `Authorization` header value for a request.
    pub fn authorization(&self, method: &str, uri: &str, date: &str, body_sha1: &str) -> String {
        let sig = signature(self.key(), method, uri, date, body_sha1);
        let mut out = Vec::with_capacity(42);
        out.extend_from_slice(self.uid());
        out.extend_from_slice(&sig);
        out.extend_from_slice(self.flags());
        format!("SKY {}", STANDARD_NO_PAD.encode(out))
    }
}

/// The string an SX request signs: four lines, each ending in `\n`. `uri` is the request-URI as
/// sent, with or without its leading slash.
pub fn string_to_sign(method: &str, uri: &str, date: &str, body_sha1: &str) -> String {
    let uri = uri.strip_prefix('/').unwrap_or(uri);
    format!("{method}\n{uri}\n{date}\n{body_sha1}\n")
}

/// HMAC-SHA1 of the string to sign with the 20-byte key half of a token.
pub fn signature(key: &[u8], method: &str, uri: &str, date: &str, body_sha1: &str) -> [u8; 20] {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(
        &key,
        string_to_sign(method, uri, date, body_sha1).as_bytes(),
    );
    let mut out = [0u8; 20];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The parts of a `SKY` Authorization header: uid, signature and flags.
pub fn parse_authorization(value: &str) -> Option<([u8; 20], [u8; 20], [u8; 2])> {
    let b64 = value.strip_prefix("SKY ")?;
    let bytes = STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(b64))
        .ok()?;
    if bytes.len() != 42 {
        return None;
    }
    let mut uid = [0u8; 20];
    let mut sig = [0u8; 20];
    let mut flags = [0u8; 2];
    uid.copy_from_slice(&bytes[..20]);
    sig.copy_from_slice(&bytes[20..40]);
    flags.copy_from_slice(&bytes[40..]);
    Some((uid, sig, flags))
}

/// The hex SHA-1 of a body sent in `parts` (SX signs the digest of all its bytes).
pub fn sha1_hex<B: AsRef<[u8]>>(parts: &[B]) -> String {
    use sha1::Digest;
    let mut ctx = sha1::Sha1::new();
    for part in parts {
        ctx.update(part.as_ref());
    }
    hex(&ctx.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";
    const DATE: &str = "Sun, 22 Nov 2026 02:14:34 GMT";

    #[test]
    fn token_parts() {
        let t = Token::parse(ADMIN).unwrap();
        assert_eq!(hex(t.uid()), "d033e22ae348aeb5660fc2140aec35850c4da997");
        assert_eq!(hex(t.key()), "2871e5f5aff42cb956faa644c9f85dbe0f5724a2");
        assert_eq!(t.flags(), &[0, 0]);
        assert_eq!(t.to_ascii(), ADMIN);
        let again = Token::from_parts(
            "d033e22ae348aeb5660fc2140aec35850c4da997",
            "2871e5f5aff42cb956faa644c9f85dbe0f5724a2",
        )
        .unwrap();
        assert_eq!(again, t);
        let mut key = [0u8; 20];
        key.copy_from_slice(t.key());
        assert_eq!(Token::for_user("admin", key), t);
        assert!(ADMIN.starts_with("0DPiKuNIrrVmD8IUCuw1hQxNqZ"));
        assert!(Token::parse("short").is_err());
        assert!(!format!("{t:?}").contains("2871e5"));
    }

    #[test]
    fn authorization_vectors() {
        let t = Token::parse(ADMIN).unwrap();
        assert_eq!(
            t.authorization("GET", "/?volumeList", DATE, EMPTY_SHA1),
            "SKY 0DPiKuNIrrVmD8IUCuw1hQxNqZeJTka7vttDuDWmI2arZO8qBDXWEwAA"
        );
        let body = br#"{"fileSize":3,"fileData":["x"]}"#;
        let sha = sha1_hex(&[body]);
        assert_eq!(sha1_hex(&[&body[..5], &body[5..]]), sha);
        assert!(
            sha.starts_with("b77af943") && sha.ends_with("a5c0a5a3"),
            "{sha}"
        );
        assert_eq!(
            t.authorization("PUT", "/vol1/dir/a%20b.txt", DATE, &sha),
            "SKY 0DPiKuNIrrVmD8IUCuw1hQxNqZceDNBPD/g1wsJ3L5InLQkH7jy/SQAA"
        );
        assert_eq!(sha1_hex::<&[u8]>(&[]), EMPTY_SHA1);
    }

    #[test]
    fn authorization_round_trip() {
        let t = Token::parse(ADMIN).unwrap();
        let header = t.authorization("GET", "/?volumeList", DATE, EMPTY_SHA1);
        let (uid, sig, flags) = parse_authorization(&header).unwrap();
        assert_eq!(&uid, t.uid());
        assert_eq!(flags, [0, 0]);
        assert_eq!(
            sig,
            signature(t.key(), "GET", "?volumeList", DATE, EMPTY_SHA1)
        );
    }
}
