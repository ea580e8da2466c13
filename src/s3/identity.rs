//! Who a user is in S3 documents and policies. A user's canonical ID is derived from its
//! name, so every gateway over one store (or one SX cluster) shows and matches the same ID
//! with no state of its own. Each user is its own "account" in AWS terms.

use crate::encoding::hex;
use crate::s3::xml::XmlWriter;

/// A user as S3 shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    /// 64 lower-case hex characters, as AWS's canonical user IDs.
    pub canonical_id: String,
}

impl Identity {
    pub fn of(name: &str) -> Identity {
        Identity {
            name: name.to_string(),
            canonical_id: canonical_id(name),
        }
    }

    /// `arn:aws:iam::<canonical id>:user/<name>`, the ARN bucket policies name the user by.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:user/{}", self.canonical_id, self.name)
    }

    /// `<Owner><ID>…</ID><DisplayName>…</DisplayName></Owner>`.
    pub fn write_owner(&self, w: &mut XmlWriter) {
        self.write_as(w, "Owner");
    }

    /// The user as an `Owner`-shaped element called `element` (e.g. `Initiator`).
    pub fn write_as(&self, w: &mut XmlWriter, element: &str) {
        w.open(element);
        w.elem("ID", &self.canonical_id);
        w.elem("DisplayName", &self.name);
        w.close(element);
    }
}

/// The canonical ID of the user called `name`.
pub fn canonical_id(name: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("libres3-user:{name}").as_bytes(),
    );
    hex(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_are_stable_and_distinct() {
        let alice = Identity::of("alice");
        assert_eq!(alice.canonical_id.len(), 64);
        assert!(alice
            .canonical_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // Pinned: changing the derivation would orphan every stored grant.
        assert_eq!(
            canonical_id("alice"),
            "a5aa6255b48f0104bc77c1f5cacc094b5abc7b3fd92a0d92c32475e346c5e268"
        );
        assert_ne!(alice.canonical_id, canonical_id("bob"));
        assert_eq!(
            alice.arn(),
            format!("arn:aws:iam::{}:user/alice", alice.canonical_id)
        );
    }
}
