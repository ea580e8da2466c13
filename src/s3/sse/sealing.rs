//! How an encrypted object was sealed, kept in its `x-libres3-sse` document, and the keys
//! that open it.
//!
//! Every object (or multipart upload) gets a random salt; its chunks are sealed with a key
//! derived from a 32-byte base key and that salt ([`ObjectKey::derive`]). The base key is a
//! random data key wrapped by a master key of the key store (SSE-S3, SSE-KMS), or the key the
//! client sends with every request (SSE-C), of which only a salted HMAC is kept.

use std::rc::Rc;

use base64::Engine;
use ring::hmac;

use super::chunked::ObjectKey;
use super::customer::{key_fingerprint, key_matches, CustomerKey};
use super::keys::{random_bytes, KeyError, KeyStore};
use super::request::WriteEncryption;
use crate::encoding::hex;
use crate::s3::error::{S3Error, S3ErrorCode};

/// The document name in the object's metadata (see `objmeta`).
pub const DOCUMENT: &str = "x-libres3-sse";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// SSE-S3: `x-amz-server-side-encryption: AES256`.
    #[serde(rename = "AES256")]
    S3,
    /// SSE-KMS: `aws:kms`.
    #[serde(rename = "aws:kms")]
    Kms,
    /// SSE-C: a key the client sends with every request.
    #[serde(rename = "SSE-C")]
    Customer,
}

/// The stored document. Base64 fields are standard base64.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sealing {
    pub mode: Mode,
    /// The salt the object key is derived with.
    pub salt: String,
    /// SSE-S3 and SSE-KMS: the master key's id and the data key it wraps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<String>,
    /// SSE-KMS: the encryption context the client gave (its base64 JSON, as sent), bound to
    /// the wrapped data key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
    /// SSE-C: HMAC-SHA256 of the customer key under the salt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Multipart objects: the part numbers their chunks were sealed with, in object order, as
    /// runs (`1-3,5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<String>,
}

impl Sealing {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// None when the document is damaged (logged by the caller).
    pub fn decode(text: &str) -> Option<Sealing> {
        serde_json::from_str(text).ok()
    }

    /// The value of `x-amz-server-side-encryption` for this object, if it has one.
    pub fn algorithm(&self) -> Option<&'static str> {
        match self.mode {
            Mode::S3 => Some("AES256"),
            Mode::Kms => Some("aws:kms"),
            Mode::Customer => None,
        }
    }
}

/// A sealing with the base key that opens it.
pub struct Keyed {
    pub sealing: Sealing,
    base: [u8; 32],
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// The answer when a master key is missing from the key store.
pub fn key_error(e: KeyError) -> S3Error {
    match e {
        KeyError::NotFound(id) => S3Error::new(
            S3ErrorCode::KmsNotFound,
            format!("Key '{id}' does not exist"),
        ),
        other => S3Error::internal(other),
    }
}

/// What binds a wrapped data key: the client's encryption context, if any.
fn wrap_context(context: Option<&str>) -> Vec<u8> {
    let mut aad = b"libres3 sse data key v1\0".to_vec();
    aad.extend_from_slice(context.unwrap_or("").as_bytes());
    aad
}

impl Keyed {
    /// A fresh sealing for a new object or upload, as `wanted` asks. None for no encryption.
    pub fn new(wanted: &WriteEncryption, keys: &KeyStore) -> Result<Option<Keyed>, S3Error> {
        let salt: [u8; 32] = random_bytes().map_err(S3Error::internal)?;
        let base = match wanted {
            WriteEncryption::None => return Ok(None),
            WriteEncryption::Customer(key) => key.key,
            WriteEncryption::S3 | WriteEncryption::Kms { .. } => {
                random_bytes().map_err(S3Error::internal)?
            }
        };
        Keyed::with_base(wanted, keys, base, b64(&salt)).map(Some)
    }

    /// The sealing `wanted` asks for around an existing base key and salt: a copy that
    /// shares the sealed data of its source.
    fn with_base(
        wanted: &WriteEncryption,
        keys: &KeyStore,
        base: [u8; 32],
        salt: String,
    ) -> Result<Keyed, S3Error> {
        let mut sealing = Sealing {
            mode: Mode::S3,
            salt,
            key_id: None,
            wrapped: None,
            context: None,
            bucket_key: false,
            fingerprint: None,
            parts: None,
        };
        let (key_id, context) = match wanted {
            WriteEncryption::None => return Err(S3Error::internal("a sealing without encryption")),
            WriteEncryption::Customer(key) => {
                let salt = unb64(&sealing.salt).unwrap_or_default();
                sealing.mode = Mode::Customer;
                sealing.fingerprint = Some(key_fingerprint(&key.key, &salt));
                return Ok(Keyed { sealing, base });
            }
            WriteEncryption::S3 => (keys.default_key_id().map_err(key_error)?, None),
            WriteEncryption::Kms {
                key_ref,
                context,
                bucket_key,
            } => {
                sealing.mode = Mode::Kms;
                sealing.bucket_key = *bucket_key;
                let id = match key_ref {
                    Some(r) => keys.resolve(r).map_err(key_error)?,
                    None => keys.default_key_id().map_err(key_error)?,
                };
                (id, context.clone())
            }
        };
        let wrapped = keys
            .wrap(&key_id, &base, &wrap_context(context.as_deref()))
            .map_err(key_error)?;
        sealing.key_id = Some(key_id);
        sealing.wrapped = Some(b64(&wrapped));
        sealing.context = context;
        Ok(Keyed { sealing, base })
    }

    /// Opens a stored sealing: unwraps its data key, or checks the customer key the request
    /// sent (`customer`).
    pub fn open(
        sealing: Sealing,
        customer: Option<&CustomerKey>,
        keys: &KeyStore,
    ) -> Result<Keyed, S3Error> {
        let damaged = || S3Error::internal("an object's encryption document is damaged");
        match sealing.mode {
            Mode::Customer => {
                let Some(key) = customer else {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
                    ));
                };
                let salt = unb64(&sealing.salt).ok_or_else(damaged)?;
                let fingerprint = sealing.fingerprint.as_deref().ok_or_else(damaged)?;
                if !key_matches(&key.key, &salt, fingerprint) {
                    return Err(S3Error::new(
                        S3ErrorCode::AccessDenied,
                        "Access Denied: the key given does not match the key the object was encrypted with",
                    ));
                }
                Ok(Keyed {
                    base: key.key,
                    sealing,
                })
            }
            Mode::S3 | Mode::Kms => {
                if customer.is_some() {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        "The encryption parameters are not applicable to this object.",
                    ));
                }
                let (Some(id), Some(wrapped)) = (&sealing.key_id, &sealing.wrapped) else {
                    return Err(damaged());
                };
                let wrapped = unb64(wrapped).ok_or_else(damaged)?;
                let base = keys
                    .unwrap(id, &wrapped, &wrap_context(sealing.context.as_deref()))
                    .map_err(|e| {
                        log::error!("cannot unwrap an object's data key with master key {id}: {e}");
                        S3Error::internal(e)
                    })?;
                Ok(Keyed { sealing, base })
            }
        }
    }

    /// The same data key under the sealing `wanted` asks for, when a copy can share the sealed
    /// data and keep its ETag: SSE-S3 to SSE-S3, SSE-KMS to SSE-KMS (the data key is wrapped
    /// again, under another master key if asked), SSE-C to SSE-C with the same key. None when
    /// the data must be sealed anew (between SSE-S3 and SSE-KMS too: their ETags are of
    /// different kinds, the MD5 and a keyed digest).
    pub fn rewrapped(
        &self,
        wanted: &WriteEncryption,
        keys: &KeyStore,
    ) -> Result<Option<Keyed>, S3Error> {
        let shares = match (self.sealing.mode, wanted) {
            (Mode::S3, WriteEncryption::S3) | (Mode::Kms, WriteEncryption::Kms { .. }) => true,
            (Mode::Customer, WriteEncryption::Customer(key)) => key.key == self.base,
            _ => false,
        };
        if !shares {
            return Ok(None);
        }
        let mut keyed = Keyed::with_base(wanted, keys, self.base, self.sealing.salt.clone())?;
        keyed.sealing.parts = self.sealing.parts.clone();
        Ok(Some(keyed))
    }

    pub fn object_key(&self) -> Rc<ObjectKey> {
        let salt = unb64(&self.sealing.salt).unwrap_or_default();
        Rc::new(ObjectKey::derive(&self.base, &salt))
    }

    /// The ETag of sealed content whose plain MD5 is `md5`: the MD5 itself for SSE-S3 (as
    /// AWS), a keyed digest of it for SSE-KMS and SSE-C, whose ETags AWS documents as not the
    /// MD5 of the data (an MD5 would tell who knows a candidate plaintext whether it is
    /// stored).
    pub fn etag(&self, md5: &[u8]) -> String {
        match self.sealing.mode {
            Mode::S3 => hex(md5),
            Mode::Kms | Mode::Customer => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, &self.base);
                let mut ctx = hmac::Context::with_key(&key);
                ctx.update(self.sealing.salt.as_bytes());
                ctx.update(md5);
                hex(&ctx.sign().as_ref()[..16])
            }
        }
    }
}

/// Part numbers as runs: `1-3,5`.
pub fn encode_part_numbers(numbers: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(n) => *last = n,
            _ => runs.push((n, n)),
        }
    }
    runs.iter()
        .map(|(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The inverse of [`encode_part_numbers`]; None when damaged or longer than `max`.
pub fn decode_part_numbers(text: &str, max: usize) -> Option<Vec<u32>> {
    let mut numbers = Vec::new();
    for run in text.split(',') {
        let (first, last) = match run.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = run.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if first > last || numbers.len() + (last - first) as usize >= max {
            return None;
        }
        numbers.extend(first..=last);
    }
    Some(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_number_runs() {
        for numbers in [vec![1], vec![1, 2, 3], vec![1, 2, 3, 5, 7, 8], vec![4, 9]] {
            let text = encode_part_numbers(&numbers);
            assert_eq!(decode_part_numbers(&text, 10_000), Some(numbers));
        }
        assert_eq!(encode_part_numbers(&[1, 2, 3, 5]), "1-3,5");
        for bad in ["", "a", "3-1", "1-", "1,,2", "1-20000"] {
            assert_eq!(decode_part_numbers(bad, 10_000), None, "{bad}");
        }
    }

    #[test]
    fn documents_round_trip() {
        let sealing = Sealing {
            mode: Mode::Kms,
            salt: "c2FsdA==".into(),
            key_id: Some("k".into()),
            wrapped: Some("d3JhcA==".into()),
            context: None,
            bucket_key: true,
            fingerprint: None,
            parts: Some("1-2".into()),
        };
        assert_eq!(Sealing::decode(&sealing.encode()), Some(sealing));
        assert_eq!(Sealing::decode("{"), None);
    }
}
