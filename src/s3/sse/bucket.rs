//! A bucket's default encryption (Put/Get/DeleteBucketEncryption): the
//! `ServerSideEncryptionConfiguration` document, kept as the bucket document `encryption`.

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};

/// The bucket document name.
pub const DOC_ENCRYPTION: &str = "encryption";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultEncryption {
    S3,
    Kms {
        key_ref: Option<String>,
        bucket_key: bool,
    },
}

/// Parses a PutBucketEncryption body: exactly one rule, as AWS takes it.
pub fn parse_xml(body: &[u8]) -> Result<DefaultEncryption, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "ServerSideEncryptionConfiguration" {
        return Err(xml::malformed("expected ServerSideEncryptionConfiguration"));
    }
    let rules: Vec<_> = xml::children(root, "Rule").collect();
    let [rule] = rules.as_slice() else {
        return Err(xml::malformed(
            "a ServerSideEncryptionConfiguration has exactly one Rule",
        ));
    };
    let bucket_key = match xml::child_text(*rule, "BucketKeyEnabled").map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(xml::malformed("BucketKeyEnabled is true or false")),
    };
    let Some(apply) = xml::children(*rule, "ApplyServerSideEncryptionByDefault").next() else {
        return Err(xml::malformed(
            "the Rule needs ApplyServerSideEncryptionByDefault",
        ));
    };
    let algorithm = xml::child_text(apply, "SSEAlgorithm").map(str::trim);
    let key_ref = xml::child_text(apply, "KMSMasterKeyID")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    match algorithm {
        Some("AES256") if key_ref.is_some() => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "a KMSMasterKeyID is allowed only if SSEAlgorithm is set to aws:kms",
        )),
        Some("AES256") => Ok(DefaultEncryption::S3),
        Some("aws:kms") => Ok(DefaultEncryption::Kms {
            key_ref,
            bucket_key,
        }),
        Some("aws:kms:dsse") => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Dual-layer server-side encryption (aws:kms:dsse) is not offered by this server; use aws:kms",
        )),
        _ => Err(xml::malformed("SSEAlgorithm is AES256 or aws:kms")),
    }
}

/// The document GetBucketEncryption answers (and the form it is stored in).
pub fn to_xml(default: &DefaultEncryption) -> String {
    let mut w = XmlWriter::new();
    w.open_root("ServerSideEncryptionConfiguration");
    w.open("Rule");
    w.open("ApplyServerSideEncryptionByDefault");
    let bucket_key = match default {
        DefaultEncryption::S3 => {
            w.elem("SSEAlgorithm", "AES256");
            false
        }
        DefaultEncryption::Kms {
            key_ref,
            bucket_key,
        } => {
            w.elem("SSEAlgorithm", "aws:kms");
            w.elem_opt("KMSMasterKeyID", key_ref.as_deref());
            *bucket_key
        }
    };
    w.close("ApplyServerSideEncryptionByDefault");
    w.elem(
        "BucketKeyEnabled",
        if bucket_key { "true" } else { "false" },
    );
    w.close("Rule");
    w.close("ServerSideEncryptionConfiguration");
    w.finish()
}

/// The bucket's default from its stored document; a damaged one is logged and ignored
/// (the store wrote what [`to_xml`] made).
pub fn stored(document: Option<&str>) -> Option<DefaultEncryption> {
    let document = document?;
    match parse_xml(document.as_bytes()) {
        Ok(default) => Some(default),
        Err(e) => {
            log::error!("stored bucket encryption no longer parses: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_bad_ones_are_refused() {
        for default in [
            DefaultEncryption::S3,
            DefaultEncryption::Kms {
                key_ref: None,
                bucket_key: false,
            },
            DefaultEncryption::Kms {
                key_ref: Some("arn:aws:kms:us-east-1:1:key/abc".into()),
                bucket_key: true,
            },
        ] {
            assert_eq!(parse_xml(to_xml(&default).as_bytes()).unwrap(), default);
        }
        let code = |doc: &str| parse_xml(doc.as_bytes()).unwrap_err().code;
        assert_eq!(
            code("<ServerSideEncryptionConfiguration/>"),
            S3ErrorCode::MalformedXML
        );
        assert_eq!(
            code("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"),
            S3ErrorCode::MalformedXML
        );
        assert_eq!(
            code("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(code("<x/>"), S3ErrorCode::MalformedXML);
    }
}
