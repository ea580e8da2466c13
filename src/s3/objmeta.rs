//! The S3 layer's own per-object documents, kept in [`ObjectMeta::headers`] under reserved
//! `x-libres3-` names so that every backend stores them without knowing what they mean.
//! They are never sent to clients (see [`is_internal`]) and clients cannot set them: only
//! standard headers and `x-amz-meta-*` are taken from requests.

use base64::Engine;

use crate::s3::checksum::Algorithm;
use crate::store::ObjectMeta;

pub const INTERNAL_PREFIX: &str = "x-libres3-";
/// The object's tag set, URL-query encoded (`k1=v1&k2=v2`).
pub const TAGGING: &str = "x-libres3-tagging";
/// The object's ACL when it is not `private` (`s3::acl::Acl::to_stored`).
pub const ACL: &str = "x-libres3-acl";
/// The user who owns the object, when not the bucket owner (another user wrote it).
pub const OWNER: &str = "x-libres3-owner";
/// On a multipart upload another user than the bucket owner started: that user, who alone
/// may add parts to it, complete it or list them (dropped from the completed object).
pub const INITIATOR: &str = "x-libres3-initiator";
/// Sizes of the parts of a multipart object, run-length encoded (see [`encode_parts`]).
pub const PARTS: &str = "x-libres3-parts";
/// The flexible checksum verified when the whole object was written in one request, as
/// `<response header>:<base64 value>` (e.g. `x-amz-checksum-crc32:jNwWgw==`).
pub const CHECKSUM: &str = "x-libres3-checksum";
/// The checksums of a multipart object's parts, for GetObjectAttributes: the base64 of their
/// binary values joined, in part order (see [`encode_part_checksums`]).
pub const PART_CHECKSUMS: &str = "x-libres3-part-checksums";
/// The longest [`PART_CHECKSUMS`] kept: object metadata stays small for every backend (an SX
/// file's meta values are limited), so objects of many parts list theirs without checksums.
const MAX_PART_CHECKSUMS_TEXT: usize = 8 * 1024;
/// On a multipart upload: the checksum it was created with ([`UploadChecksum::encode`]).
///
/// [`UploadChecksum::encode`]: crate::s3::checksum::UploadChecksum::encode
pub const UPLOAD_CHECKSUM: &str = "x-libres3-upload-checksum";

/// The stored form of a verified checksum.
pub fn encode_checksum(header: &str, value: &str) -> String {
    format!("{header}:{value}")
}

/// The (header, value) of the object's stored checksum, if it has a well-formed one.
pub fn checksum(meta: &ObjectMeta) -> Option<(&str, &str)> {
    decode_checksum(get(meta, CHECKSUM)?)
}

/// The (header, value) of a stored checksum (of an object or a part).
pub fn decode_checksum(text: &str) -> Option<(&str, &str)> {
    let (header, value) = text.split_once(':')?;
    (header.starts_with("x-amz-checksum-") && !value.is_empty()).then_some((header, value))
}

/// The stored form of the parts' binary checksums; None when too long to keep.
pub fn encode_part_checksums(checksums: &[Vec<u8>]) -> Option<String> {
    let text = base64::engine::general_purpose::STANDARD.encode(checksums.concat());
    (text.len() <= MAX_PART_CHECKSUMS_TEXT).then_some(text)
}

/// The base64 checksum of each of `count` parts, from [`encode_part_checksums`].
pub fn decode_part_checksums(
    text: &str,
    algorithm: Algorithm,
    count: usize,
) -> Option<Vec<String>> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let joined = engine.decode(text).ok()?;
    let len = algorithm.digest_len();
    (joined.len() == len * count).then(|| joined.chunks(len).map(|c| engine.encode(c)).collect())
}

pub fn is_internal(name: &str) -> bool {
    name.starts_with(INTERNAL_PREFIX)
}

pub fn get<'a>(meta: &'a ObjectMeta, name: &str) -> Option<&'a str> {
    meta.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Sets or removes one internal document.
pub fn set(headers: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    headers.retain(|(n, _)| n != name);
    if let Some(value) = value {
        headers.push((name.to_string(), value));
    }
}

/// The headers a client sent for the object (no internal documents).
pub fn client_headers(meta: &ObjectMeta) -> impl Iterator<Item = &(String, String)> {
    meta.headers.iter().filter(|(n, _)| !is_internal(n))
}

/// Part sizes as `size*count` runs joined by commas: 10,000 equal parts take a few bytes.
pub fn encode_parts(sizes: &[u64]) -> String {
    let mut runs: Vec<(u64, usize)> = Vec::new();
    for &size in sizes {
        match runs.last_mut() {
            Some((last, count)) if *last == size => *count += 1,
            _ => runs.push((size, 1)),
        }
    }
    runs.iter()
        .map(|(size, count)| {
            if *count == 1 {
                size.to_string()
            } else {
                format!("{size}*{count}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The inverse of [`encode_parts`]; None for a damaged value or more than `max` parts.
pub fn decode_parts(text: &str, max: usize) -> Option<Vec<u64>> {
    let mut sizes = Vec::new();
    for run in text.split(',') {
        let (size, count) = match run.split_once('*') {
            Some((size, count)) => (size.parse::<u64>().ok()?, count.parse::<usize>().ok()?),
            None => (run.parse::<u64>().ok()?, 1),
        };
        if count == 0 || sizes.len() + count > max {
            return None;
        }
        sizes.extend(std::iter::repeat_n(size, count));
    }
    Some(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_round_trip() {
        let mut headers = Vec::new();
        set(
            &mut headers,
            CHECKSUM,
            Some(encode_checksum("x-amz-checksum-crc32", "jNwWgw==")),
        );
        let meta = ObjectMeta {
            etag: String::new(),
            headers,
            size: None,
        };
        assert_eq!(checksum(&meta), Some(("x-amz-checksum-crc32", "jNwWgw==")));
        let damaged = ObjectMeta {
            etag: String::new(),
            headers: vec![(CHECKSUM.into(), "content-type:x".into())],
            size: None,
        };
        assert_eq!(checksum(&damaged), None);
    }

    #[test]
    fn part_checksums_round_trip() {
        let checksums = vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]];
        let text = encode_part_checksums(&checksums).unwrap();
        assert_eq!(
            decode_part_checksums(&text, Algorithm::Crc32, 2),
            Some(vec!["AQIDBA==".to_string(), "BQYHCA==".to_string()])
        );
        assert_eq!(decode_part_checksums(&text, Algorithm::Crc32, 3), None);
        assert_eq!(encode_part_checksums(&vec![vec![0; 32]; 10_000]), None);
    }

    #[test]
    fn part_layouts_round_trip() {
        let mut sizes = vec![5 << 20; 9999];
        sizes.push(17);
        let text = encode_parts(&sizes);
        assert_eq!(text, "5242880*9999,17");
        assert_eq!(decode_parts(&text, 10_000), Some(sizes));
        assert_eq!(encode_parts(&[1, 2, 2, 1]), "1,2*2,1");
        assert_eq!(decode_parts("1,2*2,1", 10), Some(vec![1, 2, 2, 1]));
        for bad in ["", "x", "1*0", "1*", "*2", "1,,2", "-1"] {
            assert_eq!(decode_parts(bad, 10), None, "{bad}");
        }
        assert_eq!(decode_parts("1*11", 10), None);
    }

    #[test]
    fn internal_documents_are_set_and_hidden() {
        let mut meta = ObjectMeta {
            etag: "e".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            size: None,
        };
        set(&mut meta.headers, ACL, Some("public-read".into()));
        set(&mut meta.headers, ACL, Some("public-read".into()));
        assert_eq!(get(&meta, ACL), Some("public-read"));
        assert_eq!(client_headers(&meta).count(), 1);
        set(&mut meta.headers, ACL, None);
        assert_eq!(get(&meta, ACL), None);
        assert_eq!(meta.headers.len(), 1);
    }
}
