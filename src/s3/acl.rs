//! Access control lists, reduced to what we enforce: the canned ACLs `private` and
//! `public-read`. Anything richer is refused with NotImplemented, never accepted silently.

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CannedAcl {
    Private,
    PublicRead,
}

impl CannedAcl {
    pub fn as_str(self) -> &'static str {
        match self {
            CannedAcl::Private => "private",
            CannedAcl::PublicRead => "public-read",
        }
    }

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
            CannedAcl::Private => None,
            CannedAcl::PublicRead => Some("public-read".into()),
        }
    }
}

/// The ACL headers of a request: `x-amz-acl` (private or public-read), the `x-amz-grant-*`
/// headers (NotImplemented). None when the request sends neither.
pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Result<Option<CannedAcl>, S3Error> {
    for grant in [
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
    ] {
        if header(grant).is_some() {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("{grant}: only the canned ACLs private and public-read are supported"),
            ));
        }
    }
    let Some(value) = header("x-amz-acl") else {
        return Ok(None);
    };
    match value.trim() {
        "private" => Ok(Some(CannedAcl::Private)),
        "public-read" => Ok(Some(CannedAcl::PublicRead)),
        known @ ("public-read-write"
        | "authenticated-read"
        | "aws-exec-read"
        | "bucket-owner-read"
        | "bucket-owner-full-control"
        | "log-delivery-write") => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            format!("the canned ACL {known} is not supported; use private or public-read"),
        )),
        other => Err(
            S3Error::new(S3ErrorCode::InvalidArgument, "Invalid canned ACL")
                .with_detail("ArgumentName", "x-amz-acl")
                .with_detail("ArgumentValue", other.to_string()),
        ),
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
            (None, Some(ALL_USERS), "READ") => public_read = true,
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
        w.elem("URI", ALL_USERS);
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
            code(&[("x-amz-grant-read", "uri=x")]),
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
