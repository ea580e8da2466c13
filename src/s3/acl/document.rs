//! The `AccessControlPolicy` document: the body of PutBucketAcl / PutObjectAcl and the answer
//! of GetBucketAcl / GetObjectAcl. Grantees carry `xsi:type` CanonicalUser (`ID`),
//! AmazonCustomerByEmail (`EmailAddress`) or Group (`URI`).

use super::{
    invalid_group, invalid_id, is_canonical_id, too_many_grants, Acl, AclRequest, Grantee, Group,
    Permission, RequestedGrant, RequestedGrantee, MAX_GRANTS,
};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, XmlWriter};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

fn malformed() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedACLError,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Reads an `AccessControlPolicy` body. Its `Owner/ID` must be `owner_id`, the resource's
/// owner: a document cannot give the resource away (AWS answers AccessDenied).
pub fn from_xml(document: &[u8], owner_id: &str) -> Result<AclRequest, S3Error> {
    let doc = xml::parse(document).map_err(|_| malformed())?;
    let root = doc.root_element();
    if root.tag_name().name() != "AccessControlPolicy" {
        return Err(malformed());
    }
    let owner = xml::children(root, "Owner").next().ok_or_else(malformed)?;
    let stated_owner = xml::child_text(owner, "ID").ok_or_else(malformed)?.trim();
    if stated_owner != owner_id {
        return Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"));
    }
    let list = xml::children(root, "AccessControlList")
        .next()
        .ok_or_else(malformed)?;
    let mut grants = Vec::new();
    for grant in xml::children(list, "Grant") {
        if grants.len() == MAX_GRANTS {
            return Err(too_many_grants());
        }
        let grantee = xml::children(grant, "Grantee")
            .next()
            .ok_or_else(malformed)?;
        let permission = xml::child_text(grant, "Permission")
            .and_then(|p| Permission::from_name(p.trim()))
            .ok_or_else(malformed)?;
        let text = |name| {
            xml::child_text(grantee, name)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(malformed)
        };
        let grantee = match grantee.attribute((XSI, "type")) {
            Some("CanonicalUser") => {
                let id = text("ID")?;
                if !is_canonical_id(id) {
                    return Err(invalid_id(id));
                }
                RequestedGrantee::Id(id.to_string())
            }
            Some("AmazonCustomerByEmail") => RequestedGrantee::Email(text("EmailAddress")?.into()),
            Some("Group") => {
                let uri = text("URI")?;
                RequestedGrantee::Group(Group::from_uri(uri).ok_or_else(|| invalid_group(uri))?)
            }
            _ => return Err(malformed()),
        };
        grants.push(RequestedGrant {
            grantee,
            permission,
        });
    }
    Ok(AclRequest::Grants(grants))
}

impl Acl {
    /// The `AccessControlPolicy` answer: the owner with its display name, the grantees by
    /// canonical ID or group URI only.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.open_root("AccessControlPolicy");
        w.open("Owner");
        w.elem("ID", &self.owner.id);
        w.elem("DisplayName", &self.owner.display_name);
        w.close("Owner");
        w.open("AccessControlList");
        for grant in &self.grants {
            w.open("Grant");
            match &grant.grantee {
                Grantee::User { id } => {
                    w.open_attrs(
                        "Grantee",
                        &[("xmlns:xsi", XSI), ("xsi:type", "CanonicalUser")],
                    );
                    w.elem("ID", id);
                }
                Grantee::Group(group) => {
                    w.open_attrs("Grantee", &[("xmlns:xsi", XSI), ("xsi:type", "Group")]);
                    w.elem("URI", group.uri());
                }
            }
            w.close("Grantee");
            w.elem("Permission", grant.permission.as_str());
            w.close("Grant");
        }
        w.close("AccessControlList");
        w.close("AccessControlPolicy");
        w.finish()
    }
}
