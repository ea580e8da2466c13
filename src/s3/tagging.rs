//! Tag sets of objects and buckets: the `Tagging` XML document, the `x-amz-tagging` header,
//! the limits S3 applies, and the URL-query form we store them in.

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::router::{percent_encode, Query};
use crate::s3::xml::{self, XmlWriter};

pub type TagSet = Vec<(String, String)>;

/// The most tags an object may carry (as S3).
pub const MAX_OBJECT_TAGS: usize = 10;
/// The most tags a bucket may carry (as S3).
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

fn invalid(why: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidTag, why)
}

/// Checks counts, lengths (in characters), duplicate keys and the reserved `aws:` prefix.
pub fn validate(tags: &TagSet, max: usize) -> Result<(), S3Error> {
    if tags.len() > max {
        return Err(invalid(format!("Object tags cannot be greater than {max}")));
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        let key_len = key.chars().count();
        if key_len == 0 || key_len > MAX_KEY_LEN {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if value.chars().count() > MAX_VALUE_LEN {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// Parses a `Tagging` request body.
pub fn parse_xml(body: &[u8], max: usize) -> Result<TagSet, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "Tagging" {
        return Err(xml::malformed("expected Tagging"));
    }
    let set = xml::children(root, "TagSet")
        .next()
        .ok_or_else(|| xml::malformed("Tagging has a TagSet"))?;
    let mut tags = Vec::new();
    for tag in xml::children(set, "Tag") {
        let key = xml::child_text(tag, "Key").ok_or_else(|| xml::malformed("Tag has a Key"))?;
        let value =
            xml::child_text(tag, "Value").ok_or_else(|| xml::malformed("Tag has a Value"))?;
        tags.push((key.to_string(), value.to_string()));
    }
    validate(&tags, max)?;
    Ok(tags)
}

/// Parses an `x-amz-tagging` header (URL query form).
pub fn parse_header(value: &str) -> Result<TagSet, S3Error> {
    let query = Query::parse(value)
        .map_err(|_| invalid("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))?;
    let tags: TagSet = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    validate(&tags, MAX_OBJECT_TAGS)?;
    Ok(tags)
}

/// The stored form: URL query encoding (what the `x-amz-tagging` header carries).
pub fn encode(tags: &TagSet) -> String {
    tags.iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k, false), percent_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Reads the stored form back. A damaged value reads as no tags.
pub fn decode(stored: &str) -> TagSet {
    Query::parse(stored)
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The `Tagging` response document.
pub fn to_xml(tags: &TagSet) -> String {
    let mut w = XmlWriter::new();
    w.open_root("Tagging");
    w.open("TagSet");
    for (key, value) in tags {
        w.open("Tag");
        w.elem("Key", key);
        w.elem("Value", value);
        w.close("Tag");
    }
    w.close("TagSet");
    w.close("Tagging");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> TagSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn xml_round_trip() {
        let set = tags(&[("a b", "1&2"), ("k", "")]);
        let doc = to_xml(&set);
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <TagSet><Tag><Key>a b</Key><Value>1&amp;2</Value></Tag><Tag><Key>k</Key><Value></Value></Tag></TagSet></Tagging>"
        );
        assert_eq!(parse_xml(doc.as_bytes(), 10).unwrap(), set);
        assert_eq!(decode(&encode(&set)), set);
        assert_eq!(encode(&set), "a%20b=1%262&k=");
    }

    #[test]
    fn limits() {
        let code = |t: TagSet| validate(&t, MAX_OBJECT_TAGS).unwrap_err().code;
        let many: TagSet = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(code(many), S3ErrorCode::InvalidTag);
        assert_eq!(code(tags(&[("", "v")])), S3ErrorCode::InvalidTag);
        assert_eq!(
            code(vec![("k".repeat(129), String::new())]),
            S3ErrorCode::InvalidTag
        );
        assert_eq!(
            code(vec![("k".into(), "v".repeat(257))]),
            S3ErrorCode::InvalidTag
        );
        assert_eq!(
            code(tags(&[("a", "1"), ("a", "2")])),
            S3ErrorCode::InvalidTag
        );
        assert_eq!(code(tags(&[("aws:x", "1")])), S3ErrorCode::InvalidTag);
        assert!(validate(&vec![("k".repeat(128), "v".repeat(256))], 10).is_ok());
        assert!(validate(&vec![("é".repeat(128), String::new())], 10).is_ok());
        assert_eq!(
            parse_header("a=1&b=x%20y").unwrap(),
            tags(&[("a", "1"), ("b", "x y")])
        );
        assert_eq!(
            parse_header("a=1&a=2").unwrap_err().code,
            S3ErrorCode::InvalidTag
        );
        assert_eq!(
            parse_xml(b"<Tagging><Tag/></Tagging>", 10)
                .unwrap_err()
                .code,
            S3ErrorCode::MalformedXML
        );
    }
}
