//! The stored form of an ACL, kept in bucket documents and in object metadata (on SX a meta
//! value: short, ASCII, one line). `v1` then one token a grant, space-separated:
//! `<permission>:<grantee>`, the permission as R, W, RA, WA or FC, the grantee a canonical ID
//! or a group name. The owner is not stored: it is the resource's, given when reading.
//!
//! Before grants existed, the canned names `private` and `public-read` were stored (or
//! nothing, for private); those still read.

use super::{Acl, CannedAcl, Grant, Grantee, Group, Owner, Permission, MAX_GRANTS};

const VERSION: &str = "v1";
/// The longest stored form [`Acl::to_stored`] writes: a version and 100 grants to IDs.
const MAX_STORED_LEN: usize = VERSION.len() + MAX_GRANTS * (" FC:".len() + 64);

fn permission_code(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "R",
        Permission::Write => "W",
        Permission::ReadAcp => "RA",
        Permission::WriteAcp => "WA",
        Permission::FullControl => "FC",
    }
}

fn group_name(group: Group) -> &'static str {
    match group {
        Group::AllUsers => "AllUsers",
        Group::AuthenticatedUsers => "AuthenticatedUsers",
        Group::LogDelivery => "LogDelivery",
    }
}

impl Acl {
    /// The stored form. An ACL has at most [`MAX_GRANTS`] grants (the request readers
    /// refuse more); grants past that bound, and user IDs that are not canonical, which no
    /// reader accepts, are not written.
    pub fn to_stored(&self) -> String {
        let mut stored = String::from(VERSION);
        let written = self.grants.iter().filter(|g| match &g.grantee {
            Grantee::User { id } => super::is_canonical_id(id),
            Grantee::Group(_) => true,
        });
        for grant in written.take(MAX_GRANTS) {
            stored.push(' ');
            stored.push_str(permission_code(grant.permission));
            stored.push(':');
            match &grant.grantee {
                Grantee::User { id } => stored.push_str(id),
                Grantee::Group(group) => stored.push_str(group_name(*group)),
            }
        }
        stored
    }

    /// Reads a stored ACL of a resource owned by `owner`. None is private, as are the
    /// legacy value `private` and anything unreadable (logged: it means a damaged document).
    pub fn from_stored(stored: Option<&str>, owner: &Owner) -> Acl {
        let Some(stored) = stored else {
            return Acl::private(owner);
        };
        let grants = match stored {
            "private" => Some(CannedAcl::Private.grants(owner, owner)),
            "public-read" => Some(CannedAcl::PublicRead.grants(owner, owner)),
            _ => parse_grants(stored),
        };
        match grants {
            Some(grants) => Acl {
                owner: owner.clone(),
                grants,
            },
            None => {
                let shown: String = stored.chars().take(80).collect();
                log::warn!("unreadable stored ACL {shown:?}: read as private");
                Acl::private(owner)
            }
        }
    }
}

fn parse_grants(stored: &str) -> Option<Vec<Grant>> {
    if stored.len() > MAX_STORED_LEN {
        return None;
    }
    let mut tokens = stored.split(' ');
    if tokens.next() != Some(VERSION) {
        return None;
    }
    let grants = tokens.map(parse_grant).collect::<Option<Vec<_>>>()?;
    (grants.len() <= MAX_GRANTS).then_some(grants)
}

fn parse_grant(token: &str) -> Option<Grant> {
    let (code, grantee) = token.split_once(':')?;
    let permission = Permission::ALL
        .into_iter()
        .find(|p| permission_code(*p) == code)?;
    let grantee = match Group::ALL.into_iter().find(|g| group_name(*g) == grantee) {
        Some(group) => Grantee::Group(group),
        None if super::is_canonical_id(grantee) => Grantee::User {
            id: grantee.to_string(),
        },
        None => return None,
    };
    Some(Grant {
        grantee,
        permission,
    })
}
