//! Access keys and secrets: the secret's type, generation, and the rules names and keys follow.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

/// A secret access key; its Debug output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: String) -> Self {
        SecretKey(secret)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a key cannot be made, or a name or key is refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the system random number generator failed")]
    Random,
    #[error("user name {0:?}: use 1 to 64 letters, digits, '-', '_', '.' or '@'")]
    UserName(String),
    #[error("access key {0:?}: use 3 to 128 letters, digits, '-', '_' or '.'")]
    AccessKey(String),
    #[error("secret key: use 8 to 128 printable ASCII characters, no spaces")]
    Secret,
}

/// For the callers that still report errors as text.
impl From<CredentialsError> for String {
    fn from(e: CredentialsError) -> String {
        e.to_string()
    }
}

const ACCESS_KEY_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters drawn uniformly from an alphabet of 32 or 64 symbols.
fn random_string(alphabet: &[u8], len: usize) -> Result<String, CredentialsError> {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 256);
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CredentialsError::Random)?;
    let mask = alphabet.len() - 1;
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize & mask] as char)
        .collect())
}

/// 20 characters, like AWS access key ids.
pub fn generate_access_key() -> Result<String, CredentialsError> {
    Ok(format!("LS3{}", random_string(ACCESS_KEY_ALPHABET, 17)?))
}

/// 40 characters (240 random bits), like AWS secret keys.
pub fn generate_secret_key() -> Result<SecretKey, CredentialsError> {
    Ok(SecretKey::new(random_string(SECRET_ALPHABET, 40)?))
}

/// Names and keys travel in headers and in the SigV4 `Credential=` field: keep them to
/// characters that survive both.
pub fn check_user(
    name: &str,
    access_key: &str,
    secret: &SecretKey,
) -> Result<(), CredentialsError> {
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    };
    if name.is_empty() || name.len() > 64 || !plain(name) {
        return Err(CredentialsError::UserName(name.to_string()));
    }
    if !(3..=128).contains(&access_key.len()) || !plain(access_key) || access_key.contains('@') {
        return Err(CredentialsError::AccessKey(access_key.to_string()));
    }
    let secret = secret.expose();
    if !(8..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CredentialsError::Secret);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_aws_keys() {
        let access = generate_access_key().unwrap();
        assert_eq!(access.len(), 20);
        assert!(access.bytes().all(|b| ACCESS_KEY_ALPHABET.contains(&b)));
        let secret = generate_secret_key().unwrap();
        assert_eq!(secret.expose().len(), 40);
        assert_ne!(generate_secret_key().unwrap(), secret);
        assert!(check_user("admin", &access, &secret).is_ok());
    }

    #[test]
    fn bad_names_and_keys() {
        let secret = SecretKey::new("12345678".into());
        assert!(check_user("a b", "AK1", &secret).is_err());
        assert!(check_user("a", "A/K", &secret).is_err());
        assert!(check_user("a", "AK", &secret).is_err());
        assert!(check_user("a", "AK1", &SecretKey::new("short".into())).is_err());
        assert!(check_user("a", "AK1", &SecretKey::new("has space".into())).is_err());
    }
}
