//! SSE-C: the customer key a request sends in three headers, checked as Amazon S3 checks it
//! ("Specifying server-side encryption with customer-provided keys (SSE-C)", and the
//! PutObject / GetObject / CopyObject references), and the fingerprint stored instead of it.

use crate::md5_digest::Md5;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac;

use crate::s3::error::{S3Error, S3ErrorCode};

/// The headers of the object written or read.
pub const PREFIX: &str = "x-amz-server-side-encryption-customer-";
/// The headers of a copy's source.
pub const COPY_SOURCE_PREFIX: &str = "x-amz-copy-source-server-side-encryption-customer-";
/// The one algorithm SSE-C offers.
pub const ALGORITHM: &str = "AES256";

/// The customer key of a request, checked. Debug never shows the key; it is zeroed on drop.
pub struct CustomerKey {
    pub key: [u8; 32],
    /// The key's MD5, base64 (responses echo it).
    pub key_md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5 {})", self.key_md5)
    }
}

impl Drop for CustomerKey {
    fn drop(&mut self) {
        self.key.fill(0);
        std::hint::black_box(&self.key);
    }
}

/// An InvalidArgument naming the header at fault (never its value: it may be the key).
fn invalid(header: String, message: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message).with_detail("ArgumentName", header)
}

/// The customer key of a request: None when none of the three headers is present. `get`
/// returns a request header by name; `prefix` is [`PREFIX`] or [`COPY_SOURCE_PREFIX`]. A
/// partial set of headers, an algorithm other than AES256, a key that is not the base64 of 32
/// bytes or a key-MD5 that is not its MD5 is the error Amazon S3 answers.
pub fn customer_key(
    get: impl Fn(&str) -> Option<String>,
    prefix: &str,
) -> Result<Option<CustomerKey>, S3Error> {
    let names = [
        format!("{prefix}algorithm"),
        format!("{prefix}key"),
        format!("{prefix}key-MD5"),
    ];
    let [algorithm, key, key_md5] = names.clone().map(|name| get(&name));
    let [algorithm_name, key_name, md5_name] = names;
    if algorithm.is_none() && key.is_none() && key_md5.is_none() {
        return Ok(None);
    }
    // Any one header asks for SSE-C; then all three are needed.
    let Some(key) = key else {
        return Err(invalid(
            key_name,
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide an appropriate secret key.",
        ));
    };
    let Some(key_md5) = key_md5 else {
        return Err(invalid(
            md5_name,
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide the client calculated MD5 of the secret key.",
        ));
    };
    let Some(algorithm) = algorithm else {
        return Err(invalid(
            algorithm_name,
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide a valid encryption algorithm.",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(S3Error::new(
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "The encryption request you specified is not valid. The valid value is AES256.",
        )
        .with_detail("ArgumentName", algorithm_name)
        .with_detail("ArgumentValue", algorithm));
    }
    let mut decoded = STANDARD.decode(key.trim()).unwrap_or_default();
    let key_bytes = <[u8; 32]>::try_from(&decoded[..]).ok();
    decoded.fill(0);
    let Some(key_bytes) = key_bytes else {
        return Err(invalid(
            key_name,
            "The secret key was invalid for the specified algorithm.",
        ));
    };
    let customer = CustomerKey {
        key: key_bytes,
        key_md5,
    };
    let Some(sent_md5) = STANDARD
        .decode(customer.key_md5.trim())
        .ok()
        .filter(|md5| md5.len() == 16)
    else {
        return Err(invalid(
            md5_name,
            "The MD5 hash of the secret key was improperly encoded. The MD5 hash must be \
             Base64 encoded.",
        ));
    };
    if Md5::digest(customer.key)[..] != sent_md5[..] {
        return Err(invalid(
            md5_name,
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    // Echoed in responses: the canonical form, whatever spacing the request had.
    let mut customer = customer;
    customer.key_md5 = STANDARD.encode(&sent_md5);
    Ok(Some(customer))
}

/// What is stored to recognise the key later without storing it: HMAC-SHA256 keyed with the
/// object's random salt over the key, base64. A random salt per object means two objects
/// under one key do not show it.
pub fn key_fingerprint(key: &[u8; 32], salt: &[u8]) -> String {
    STANDARD.encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt), key).as_ref())
}

/// Whether `key` is the key `fingerprint` was made from with `salt` (constant time).
pub fn key_matches(key: &[u8; 32], salt: &[u8], fingerprint: &str) -> bool {
    let Ok(tag) = STANDARD.decode(fingerprint) else {
        return false;
    };
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, salt), key, &tag).is_ok()
}

#[cfg(test)]
#[path = "customer_tests.rs"]
mod tests;
