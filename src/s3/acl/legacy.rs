//! The canned-only interface the handlers call until they switch to [`super::Acl`]: the
//! canned ACLs `private` and `public-read`, stored by name. Anything richer is refused with
//! NotImplemented, never accepted silently. To be removed with its last caller.

use super::{AclRequest, CannedAcl, Group};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

impl CannedAcl {
    /// The stored document (absent = private; anything unknown reads as private).
    pub fn from_stored(stored: Option<&str>) -> CannedAcl {
        match stored {
            Some("public-read") => CannedAcl::PublicRead,
            _ => CannedAcl::Private,
        }
    }

    /// What to store: None for private, the default.
    pub fn to_stored(self) -> Option<String> {
        match self {
            CannedAcl::PublicRead => Some("public-read".into()),
            _ => None,
        }
    }
}

/// The ACL headers of a request, as [`super::from_headers`] reads them, reduced to the
/// canned ACLs private and public-read. None when the request sends neither.
pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Result<Option<CannedAcl>, S3Error> {
    match super::from_headers(header)? {
        None => Ok(None),
        Some(AclRequest::Canned(canned @ (CannedAcl::Private | CannedAcl::PublicRead))) => {
            Ok(Some(canned))
        }
        Some(AclRequest::Canned(other)) => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            format!(
                "the canned ACL {} is not supported; use private or public-read",
                other.as_str()
            ),
        )),
        Some(AclRequest::Grants(_)) => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "x-amz-grant-*: only the canned ACLs private and public-read are supported",
        )),
    }
}

/// Reads an `AccessControlPolicy` body and returns the canned ACL it is equivalent to: the
/// owner's FULL_CONTROL, plus READ for AllUsers for public-read. Anything else is
/// NotImplemented; a document that is not an ACL is MalformedACLError.
pub fn parse_policy_xml(body: &[u8], owner: &str) -> Result<CannedAcl, S3Error> {
    let malformed = || {
        S3Error::new(
            S3ErrorCode::MalformedACLError,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let doc = xml::parse(body).map_err(|_| malformed())?;
    let root = doc.root_element();
    if root.tag_name().name() != "AccessControlPolicy" {
        return Err(malformed());
    }
    let list = xml::children(root, "AccessControlList")
        .next()
        .ok_or_else(malformed)?;
    let richer = |what: String| {
        S3Error::new(
            S3ErrorCode::NotImplemented,
            format!("{what}: only ACLs equivalent to the canned ACLs private and public-read are supported"),
        )
    };
    let (mut owner_full, mut public_read) = (false, false);
    for grant in xml::children(list, "Grant") {
        let grantee = xml::children(grant, "Grantee")
            .next()
            .ok_or_else(malformed)?;
        let permission = xml::child_text(grant, "Permission")
            .ok_or_else(malformed)?
            .trim();
        let id = xml::child_text(grantee, "ID").map(str::trim);
        let uri = xml::child_text(grantee, "URI").map(str::trim);
        match (id, uri, permission) {
            (Some(id), None, "FULL_CONTROL") if id == owner => owner_full = true,
            (None, Some(uri), "READ") if uri == Group::AllUsers.uri() => public_read = true,
            (Some(id), _, p) => return Err(richer(format!("grant of {p} to {id}"))),
            (_, Some(uri), p) => return Err(richer(format!("grant of {p} to {uri}"))),
            (None, None, _) => return Err(richer("grant to a grantee by e-mail address".into())),
        }
    }
    if !owner_full {
        return Err(richer("an ACL without FULL_CONTROL for the owner".into()));
    }
    Ok(if public_read {
        CannedAcl::PublicRead
    } else {
        CannedAcl::Private
    })
}

fn owner_grantee(w: &mut XmlWriter, owner: &str) {
    w.open_attrs(
        "Grantee",
        &[("xmlns:xsi", XSI), ("xsi:type", "CanonicalUser")],
    );
    w.elem("ID", owner);
    w.elem("DisplayName", owner);
    w.close("Grantee");
}

/// The `AccessControlPolicy` answer of GetBucketAcl and GetObjectAcl.
pub fn to_xml(owner: &str, acl: CannedAcl) -> String {
    let mut w = XmlWriter::new();
    w.open_root("AccessControlPolicy");
    w.open("Owner");
    w.elem("ID", owner);
    w.elem("DisplayName", owner);
    w.close("Owner");
    w.open("AccessControlList");
    w.open("Grant");
    owner_grantee(&mut w, owner);
    w.elem("Permission", "FULL_CONTROL");
    w.close("Grant");
    if acl == CannedAcl::PublicRead {
        w.open("Grant");
        w.open_attrs("Grantee", &[("xmlns:xsi", XSI), ("xsi:type", "Group")]);
        w.elem("URI", Group::AllUsers.uri());
        w.close("Grantee");
        w.elem("Permission", "READ");
        w.close("Grant");
    }
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn canned_headers() {
        assert_eq!(from_headers(header(&[])).unwrap(), None);
        assert_eq!(
            from_headers(header(&[("x-amz-acl", "public-read")])).unwrap(),
            Some(CannedAcl::PublicRead)
        );
        assert_eq!(
            from_headers(header(&[("x-amz-acl", "private")])).unwrap(),
            Some(CannedAcl::Private)
        );
        let code = |pairs: &[(&str, &str)]| from_headers(header(pairs)).unwrap_err().code;
        assert_eq!(
            code(&[("x-amz-acl", "public-read-write")]),
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            code(&[("x-amz-acl", "bogus")]),
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(&[(
                "x-amz-grant-read",
                "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""
            )]),
            S3ErrorCode::NotImplemented
        );
    }

    #[test]
    fn documents_round_trip() {
        for acl in [CannedAcl::Private, CannedAcl::PublicRead] {
            let doc = to_xml("alice", acl);
            assert_eq!(parse_policy_xml(doc.as_bytes(), "alice").unwrap(), acl);
            assert_eq!(CannedAcl::from_stored(acl.to_stored().as_deref()), acl);
        }
        assert_eq!(
            to_xml("o", CannedAcl::PublicRead),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Owner><ID>o</ID><DisplayName>o</DisplayName></Owner><AccessControlList>\
             <Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">\
             <ID>o</ID><DisplayName>o</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>\
             <Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">\
             <URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>\
             </AccessControlList></AccessControlPolicy>"
        );
        // Someone else's document, a WRITE grant, garbage.
        let other = to_xml("bob", CannedAcl::Private);
        assert_eq!(
            parse_policy_xml(other.as_bytes(), "alice")
                .unwrap_err()
                .code,
            S3ErrorCode::NotImplemented
        );
        let write = to_xml("alice", CannedAcl::PublicRead).replace(">READ<", ">WRITE<");
        assert_eq!(
            parse_policy_xml(write.as_bytes(), "alice")
                .unwrap_err()
                .code,
            S3ErrorCode::NotImplemented
        );
        assert_eq!(
            parse_policy_xml(b"<Nope/>", "alice").unwrap_err().code,
            S3ErrorCode::MalformedACLError
        );
    }
}
