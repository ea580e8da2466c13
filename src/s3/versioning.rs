//! A bucket's versioning state, kept as the bucket document `versioning` (`Enabled` or
//! `Suspended`; a bucket without one was never versioned), and the request parameters that
//! name versions.

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};
use crate::store::Versioning;

/// The bucket document name.
pub const DOC_VERSIONING: &str = "versioning";

/// The longest version id accepted in a request: ours are 32 characters, the SX backend's
/// a little longer; anything this long names no version.
pub const MAX_VERSION_ID: usize = 1024;

/// What a PutBucketVersioning body asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersioningRequest {
    /// None: the body leaves the state as it is.
    pub status: Option<Versioning>,
    /// `MfaDelete` was `Enabled`.
    pub mfa_delete: bool,
}

/// A `VersioningConfiguration` body (bounded by `xml::parse`).
pub fn parse_xml(body: &[u8]) -> Result<VersioningRequest, S3Error> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "VersioningConfiguration" {
        return Err(xml::malformed("expected VersioningConfiguration"));
    }
    let mut request = VersioningRequest {
        status: None,
        mfa_delete: false,
    };
    for child in root.children().filter(|n| n.is_element()) {
        let text = child.text().unwrap_or("").trim();
        match (child.tag_name().name(), text) {
            ("Status", "Enabled") => request.status = Some(Versioning::Enabled),
            ("Status", "Suspended") => request.status = Some(Versioning::Suspended),
            ("MfaDelete", "Enabled") => request.mfa_delete = true,
            ("MfaDelete", "Disabled") => {}
            _ => {
                return Err(xml::malformed(
                    "VersioningConfiguration holds Status (Enabled or Suspended) and MfaDelete",
                ))
            }
        }
    }
    Ok(request)
}

/// The stored form of a state (None for unversioned: no document).
pub fn to_stored(state: Versioning) -> Option<&'static str> {
    match state {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some("Enabled"),
        Versioning::Suspended => Some("Suspended"),
    }
}

/// The state a bucket's stored document says.
pub fn from_stored(bucket: &str, stored: Option<&str>) -> Versioning {
    match stored {
        None => Versioning::Unversioned,
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        Some(other) => {
            // Versions may exist: reading Suspended keeps them and never makes new ones
            // that an unversioned reading would overwrite.
            log::error!(
                "bucket {bucket}: stored versioning state {other:?} unknown; reading Suspended"
            );
            Versioning::Suspended
        }
    }
}

/// The GetBucketVersioning answer.
pub fn to_xml(state: Versioning) -> String {
    let mut w = XmlWriter::new();
    match to_stored(state) {
        None => w.empty_root("VersioningConfiguration"),
        Some(status) => {
            w.open_root("VersioningConfiguration");
            w.elem("Status", status);
            w.close("VersioningConfiguration");
        }
    }
    w.finish()
}

/// The `versionId` a request names: None when absent; InvalidArgument for an id no backend
/// makes (empty, too long, not URL-safe), as AWS answers ids it could not have made; an id
/// that could be one but names no version is NoSuchVersion, from the store.
pub fn version_id_param(value: Option<&str>) -> Result<Option<&str>, S3Error> {
    let url_safe = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
    match value {
        None => Ok(None),
        Some(id) if id.is_empty() || id.len() > MAX_VERSION_ID || !id.chars().all(url_safe) => {
            Err(invalid_version_id(id))
        }
        Some(id) => Ok(Some(id)),
    }
}

pub fn invalid_version_id(id: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
        .with_detail("ArgumentName", "versionId")
        .with_detail("ArgumentValue", id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_parse_and_answer() {
        for state in [Versioning::Enabled, Versioning::Suspended] {
            let parsed = parse_xml(to_xml(state).as_bytes()).unwrap();
            assert_eq!(parsed.status, Some(state));
            assert!(!parsed.mfa_delete);
            assert_eq!(from_stored("b", to_stored(state)), state);
        }
        assert_eq!(from_stored("b", None), Versioning::Unversioned);
        assert_eq!(from_stored("b", Some("junk")), Versioning::Suspended);
        let empty = parse_xml(to_xml(Versioning::Unversioned).as_bytes()).unwrap();
        assert_eq!(empty.status, None);
        let mfa = parse_xml(
            b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>\
              </VersioningConfiguration>",
        )
        .unwrap();
        assert!(mfa.mfa_delete);
        for bad in [
            &b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>"[..],
            b"<VersioningConfiguration><Other/></VersioningConfiguration>",
            b"<Versioning><Status>Enabled</Status></Versioning>",
            b"<VersioningConfiguration><Status>Enabled</Status>",
        ] {
            let e = parse_xml(bad).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::MalformedXML, "{bad:?}");
        }
    }

    #[test]
    fn version_id_parameters() {
        assert_eq!(version_id_param(None).unwrap(), None);
        assert_eq!(version_id_param(Some("null")).unwrap(), Some("null"));
        assert_eq!(version_id_param(Some("abc")).unwrap(), Some("abc"));
        for bad in [
            String::new(),
            "x".repeat(MAX_VERSION_ID + 1),
            "a b".into(),
            "a/b".into(),
        ] {
            let e = version_id_param(Some(&bad)).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        }
    }
}
