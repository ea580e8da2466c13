//! Block Public Access: a bucket's `PublicAccessBlockConfiguration`, kept as the bucket
//! document `public-access-block`. The server-wide default (`public_access_block` in
//! libres3.conf) is combined with it as AWS combines an account's setting with a bucket's.

use crate::config::{PublicAccessBlock, PUBLIC_ACCESS_FLAGS};
use crate::s3::error::S3Error;
use crate::s3::xml::{self, XmlWriter};

/// The bucket document name.
pub const DOC_PUBLIC_ACCESS_BLOCK: &str = "public-access-block";

/// A PutPublicAccessBlock body; a missing flag is off, as in AWS.
pub fn parse_xml(body: &[u8]) -> Result<PublicAccessBlock, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "PublicAccessBlockConfiguration" {
        return Err(xml::malformed("expected PublicAccessBlockConfiguration"));
    }
    let mut flags = [false; 4];
    for (flag, name) in flags.iter_mut().zip(PUBLIC_ACCESS_FLAGS) {
        *flag = match xml::child_text(root, name).map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(xml::malformed(&format!("{name} is true or false"))),
        };
    }
    Ok(PublicAccessBlock::from_flags(flags))
}

/// The GetPublicAccessBlock answer, also the stored form.
pub fn to_xml(block: PublicAccessBlock) -> String {
    let mut w = XmlWriter::new();
    w.open_root("PublicAccessBlockConfiguration");
    for (on, name) in block.flags().into_iter().zip(PUBLIC_ACCESS_FLAGS) {
        w.elem(name, if on { "true" } else { "false" });
    }
    w.close("PublicAccessBlockConfiguration");
    w.finish()
}

/// The stored document; one that no longer reads blocks everything, the safe reading.
pub fn from_stored(bucket: &str, stored: Option<&str>) -> PublicAccessBlock {
    let Some(stored) = stored else {
        return PublicAccessBlock::default();
    };
    parse_xml(stored.as_bytes()).unwrap_or_else(|e| {
        log::error!("bucket {bucket}: stored public access block no longer parses ({e}); blocking all public access");
        PublicAccessBlock::ALL
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_missing_flags_are_off() {
        let body = br#"<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <BlockPublicAcls>true</BlockPublicAcls><RestrictPublicBuckets>true</RestrictPublicBuckets>
            </PublicAccessBlockConfiguration>"#;
        let block = parse_xml(body).unwrap();
        assert!(block.block_public_acls && block.restrict_public_buckets);
        assert!(!block.ignore_public_acls && !block.block_public_policy);
        assert_eq!(parse_xml(to_xml(block).as_bytes()).unwrap(), block);
        assert!(parse_xml(
            b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>"
        )
        .is_err());
        assert!(parse_xml(b"<Other/>").is_err());
    }

    #[test]
    fn unreadable_stored_documents_block_everything() {
        assert_eq!(from_stored("b", Some("<garbage")), PublicAccessBlock::ALL);
        assert_eq!(from_stored("b", None), PublicAccessBlock::default());
    }
}
