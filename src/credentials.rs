//! Access keys and secrets: generation, and the first user of a new store.

use ring::rand::{SecureRandom, SystemRandom};

use crate::store::SecretKey;

const ACCESS_KEY_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters drawn uniformly from an alphabet of 32 or 64 symbols.
fn random_string(alphabet: &[u8], len: usize) -> Result<String, String> {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 256);
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random number generator failed".to_string())?;
    let mask = alphabet.len() - 1;
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize & mask] as char)
        .collect())
}

/// 20 characters, like AWS access key ids.
pub fn generate_access_key() -> Result<String, String> {
    Ok(format!("LS3{}", random_string(ACCESS_KEY_ALPHABET, 17)?))
}

/// 40 characters (240 random bits), like AWS secret keys.
pub fn generate_secret_key() -> Result<SecretKey, String> {
    Ok(SecretKey::new(random_string(SECRET_ALPHABET, 40)?))
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
    }
}
