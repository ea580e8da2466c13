//! Object Ownership controls (`OwnershipControls`), kept as the bucket document `ownership`.
//! A bucket without one is `ObjectWriter`, as buckets were before the setting existed.

use crate::config::ObjectOwnership;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};

/// The bucket document name.
pub const DOC_OWNERSHIP: &str = "ownership";

/// The `x-amz-object-ownership` header of CreateBucket.
pub fn from_header(value: &str) -> Result<ObjectOwnership, S3Error> {
    ObjectOwnership::parse(value).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Invalid x-amz-object-ownership header",
        )
        .with_detail("ArgumentName", "x-amz-object-ownership")
        .with_detail("ArgumentValue", value.to_string())
    })
}

/// A PutBucketOwnershipControls body: exactly one rule.
pub fn parse_xml(body: &[u8]) -> Result<ObjectOwnership, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "OwnershipControls" {
        return Err(xml::malformed("expected OwnershipControls"));
    }
    let rules: Vec<_> = xml::children(root, "Rule").collect();
    let [rule] = rules.as_slice() else {
        return Err(xml::malformed("OwnershipControls has exactly one Rule"));
    };
    xml::child_text(*rule, "ObjectOwnership")
        .and_then(ObjectOwnership::parse)
        .ok_or_else(|| {
            xml::malformed(
                "ObjectOwnership is BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter",
            )
        })
}

/// The GetBucketOwnershipControls answer, also the stored form.
pub fn to_xml(ownership: ObjectOwnership) -> String {
    let mut w = XmlWriter::new();
    w.open_root("OwnershipControls");
    w.open("Rule");
    w.elem("ObjectOwnership", ownership.as_str());
    w.close("Rule");
    w.close("OwnershipControls");
    w.finish()
}

/// The stored document; None when the bucket has none.
pub fn from_stored(bucket: &str, stored: Option<&str>) -> Option<ObjectOwnership> {
    let stored = stored?;
    match parse_xml(stored.as_bytes()) {
        Ok(ownership) => Some(ownership),
        Err(e) => {
            // Enforced is the reading that hands no object to a stranger.
            log::error!("bucket {bucket}: stored ownership controls no longer parse ({e}); reading BucketOwnerEnforced");
            Some(ObjectOwnership::BucketOwnerEnforced)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_headers() {
        for o in [
            ObjectOwnership::ObjectWriter,
            ObjectOwnership::BucketOwnerPreferred,
            ObjectOwnership::BucketOwnerEnforced,
        ] {
            assert_eq!(parse_xml(to_xml(o).as_bytes()).unwrap(), o);
            assert_eq!(from_header(o.as_str()).unwrap(), o);
        }
        assert_eq!(
            from_header("Everyone").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
        let two =
            b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>\
            <Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>";
        assert!(parse_xml(two).is_err());
        assert_eq!(
            from_stored("b", Some("junk")),
            Some(ObjectOwnership::BucketOwnerEnforced)
        );
        assert_eq!(from_stored("b", None), None);
    }
}
