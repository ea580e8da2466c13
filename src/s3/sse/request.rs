//! What a write asks for (`x-amz-server-side-encryption*` headers or form fields, else the
//! bucket's default encryption) and the response headers that describe an object's encryption.

use actix_web::HttpResponseBuilder;
use base64::Engine;

use super::bucket::DefaultEncryption;
use super::customer::{customer_key, CustomerKey, PREFIX as CUSTOMER};
use super::sealing::{Mode, Sealing};
use crate::s3::error::{S3Error, S3ErrorCode};

/// The longest encryption context kept (decoded JSON): it is stored with every object.
pub const MAX_CONTEXT: usize = 2048;

#[derive(Debug)]
pub enum WriteEncryption {
    None,
    S3,
    Kms {
        /// The key the client named (id, ARN or alias); None for the default key.
        key_ref: Option<String>,
        /// The client's `x-amz-server-side-encryption-context`, base64 JSON as sent.
        context: Option<String>,
        bucket_key: bool,
    },
    Customer(CustomerKey),
}

fn invalid_argument(message: &'static str, name: &'static str, value: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
        .with_detail("ArgumentName", name)
        .with_detail("ArgumentValue", value.to_string())
}

/// How the request reaches us, for SSE-C's rule: keys travel over TLS only, unless the
/// administrator allowed plain HTTP (`allow_sse_c_over_http`, e.g. behind a TLS proxy).
#[derive(Clone, Copy)]
pub struct Transport {
    pub secure: bool,
    pub allow_customer_keys_over_http: bool,
}

impl Transport {
    pub fn of(req: &actix_web::HttpRequest, config: &crate::s3::S3Config) -> Transport {
        Transport {
            secure: crate::http::is_secure(req),
            allow_customer_keys_over_http: config.allow_sse_c_over_http,
        }
    }

    /// Refuses a customer key over a transport that may not carry one.
    pub fn check(self) -> Result<(), S3Error> {
        if self.secure || self.allow_customer_keys_over_http {
            Ok(())
        } else {
            Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
            ))
        }
    }
}

/// The customer key a request sends under `prefix` (`customer::PREFIX` or
/// `customer::COPY_SOURCE_PREFIX`),
/// checked, and only over a transport that may carry one.
pub fn sent_customer_key(
    get: &impl Fn(&str) -> Option<String>,
    prefix: &str,
    transport: Transport,
) -> Result<Option<CustomerKey>, S3Error> {
    let key = customer_key(get, prefix)?;
    if key.is_some() {
        transport.check()?;
    }
    Ok(key)
}

/// What the write options (`get` by lower-case name) ask for; None when they name no
/// encryption, so the bucket's default applies.
pub fn asked(
    get: &impl Fn(&str) -> Option<String>,
    transport: Transport,
) -> Result<Option<WriteEncryption>, S3Error> {
    let customer = sent_customer_key(get, CUSTOMER, transport)?;
    let algorithm = get("x-amz-server-side-encryption");
    let key_ref = get("x-amz-server-side-encryption-aws-kms-key-id");
    let context = get("x-amz-server-side-encryption-context");
    let bucket_key = get("x-amz-server-side-encryption-bucket-key-enabled");
    if customer.is_some() && algorithm.is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    if algorithm.as_deref() != Some("aws:kms") {
        if let Some(key_ref) = &key_ref {
            return Err(invalid_argument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id",
                key_ref,
            ));
        }
        if let Some(context) = &context {
            return Err(invalid_argument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                "x-amz-server-side-encryption-context",
                context,
            ));
        }
    }
    if let Some(customer) = customer {
        return Ok(Some(WriteEncryption::Customer(customer)));
    }
    let bucket_key = match bucket_key
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(invalid_argument(
            "The value of x-amz-server-side-encryption-bucket-key-enabled must be true or false",
            "x-amz-server-side-encryption-bucket-key-enabled",
            other,
        )),
    };
    match algorithm.as_deref() {
        None => Ok(None),
        Some("AES256") => Ok(Some(WriteEncryption::S3)),
        Some("aws:kms") => {
            if let Some(context) = &context {
                check_context(context)?;
            }
            Ok(Some(WriteEncryption::Kms {
                key_ref: key_ref.filter(|k| !k.is_empty()),
                context,
                bucket_key,
            }))
        }
        Some("aws:kms:dsse") => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Dual-layer server-side encryption (aws:kms:dsse) is not offered by this server; use aws:kms",
        )),
        Some(other) => Err(invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            other,
        )),
    }
}

/// An encryption context must be base64 of a JSON object whose values are strings.
fn check_context(text: &str) -> Result<(), S3Error> {
    let bad = || {
        invalid_argument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
            "x-amz-server-side-encryption-context",
            text,
        )
    };
    let json = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| bad())?;
    if json.len() > MAX_CONTEXT {
        return Err(bad());
    }
    let value: serde_json::Value = serde_json::from_slice(&json).map_err(|_| bad())?;
    match value.as_object() {
        Some(map) if map.values().all(|v| v.is_string()) => Ok(()),
        _ => Err(bad()),
    }
}

/// What a new object gets: what the request asks for, else the bucket's default, else none.
pub fn chosen(
    asked: Option<WriteEncryption>,
    default: Option<&DefaultEncryption>,
) -> WriteEncryption {
    match (asked, default) {
        (Some(asked), _) => asked,
        (None, Some(DefaultEncryption::S3)) => WriteEncryption::S3,
        (
            None,
            Some(DefaultEncryption::Kms {
                key_ref,
                bucket_key,
            }),
        ) => WriteEncryption::Kms {
            key_ref: key_ref.clone(),
            context: None,
            bucket_key: *bucket_key,
        },
        (None, None) => WriteEncryption::None,
    }
}

/// The ARN form of a key id, as AWS names the key in responses.
pub fn key_arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:000000000000:key/{key_id}")
}

/// The headers that describe a sealed object in a response. `customer_md5` is the key MD5
/// the request sent (SSE-C responses echo it).
pub fn describe(
    builder: &mut HttpResponseBuilder,
    sealing: &Sealing,
    region: &str,
    customer_md5: Option<&str>,
) {
    if let Some(algorithm) = sealing.algorithm() {
        builder.insert_header(("x-amz-server-side-encryption", algorithm));
    }
    match sealing.mode {
        Mode::Kms => {
            if let Some(id) = &sealing.key_id {
                builder.insert_header((
                    "x-amz-server-side-encryption-aws-kms-key-id",
                    key_arn(region, id),
                ));
            }
            if sealing.bucket_key {
                builder.insert_header(("x-amz-server-side-encryption-bucket-key-enabled", "true"));
            }
        }
        Mode::Customer => {
            builder.insert_header(("x-amz-server-side-encryption-customer-algorithm", "AES256"));
            if let Some(md5) = customer_md5 {
                builder.insert_header(("x-amz-server-side-encryption-customer-key-md5", md5));
            }
        }
        Mode::S3 => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(headers: &[(&str, &str)]) -> Result<Option<WriteEncryption>, S3Error> {
        // Header names are case-insensitive, as in a request.
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        };
        let transport = Transport {
            secure: false,
            allow_customer_keys_over_http: false,
        };
        asked(&get, transport)
    }

    #[test]
    fn write_headers() {
        assert!(ask(&[]).unwrap().is_none());
        assert!(matches!(
            ask(&[("x-amz-server-side-encryption", "AES256")]).unwrap(),
            Some(WriteEncryption::S3)
        ));
        let kms = ask(&[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "k1"),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ("x-amz-server-side-encryption-context", "eyJhIjoiYiJ9"),
        ])
        .unwrap();
        let Some(WriteEncryption::Kms {
            key_ref,
            context,
            bucket_key,
        }) = kms
        else {
            panic!("not SSE-KMS: {kms:?}");
        };
        assert_eq!(key_ref.as_deref(), Some("k1"));
        assert_eq!(context.as_deref(), Some("eyJhIjoiYiJ9"));
        assert!(bucket_key);
        let code = |h: &[(&str, &str)]| ask(h).unwrap_err().code;
        assert_eq!(
            code(&[("x-amz-server-side-encryption", "rot13")]),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(&[("x-amz-server-side-encryption-aws-kms-key-id", "k1")]),
            S3ErrorCode::InvalidArgument
        );
        // A context that is not a string map ({"a":1}).
        assert_eq!(
            code(&[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-context", "eyJhIjoxfQ=="),
            ]),
            S3ErrorCode::InvalidArgument
        );
        // A customer key over plain HTTP (key: 32 zero bytes).
        assert_eq!(
            code(&[
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                (
                    "x-amz-server-side-encryption-customer-key",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
                ),
                (
                    "x-amz-server-side-encryption-customer-key-md5",
                    "cLyPS3KoaSFGi/joRB3OUQ=="
                ),
            ]),
            S3ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn bucket_defaults_apply_only_when_nothing_is_asked() {
        let kms = DefaultEncryption::Kms {
            key_ref: Some("k".into()),
            bucket_key: true,
        };
        assert!(matches!(chosen(None, None), WriteEncryption::None));
        assert!(matches!(
            chosen(None, Some(&DefaultEncryption::S3)),
            WriteEncryption::S3
        ));
        assert!(matches!(
            chosen(Some(WriteEncryption::S3), Some(&kms)),
            WriteEncryption::S3
        ));
        assert!(matches!(
            chosen(None, Some(&kms)),
            WriteEncryption::Kms {
                bucket_key: true,
                ..
            }
        ));
    }
}
