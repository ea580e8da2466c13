//! The server-wide access defaults of `libres3.conf`: the Block Public Access flags that apply
//! to every bucket (as AWS's account-level setting), and the Object Ownership of new buckets.
//! The S3 layer reads and writes their XML forms (`s3::access`).

/// The four Block Public Access flags, in AWS's order and spelling.
pub const PUBLIC_ACCESS_FLAGS: &[&str] = &[
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// Refuse requests that set a public ACL.
    pub block_public_acls: bool,
    /// Public ACL grants give nothing.
    pub ignore_public_acls: bool,
    /// Refuse a public bucket policy.
    pub block_public_policy: bool,
    /// A bucket with a public policy is reachable only by its owner.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// The flags in [`PUBLIC_ACCESS_FLAGS`] order.
    pub fn flags(self) -> [bool; 4] {
        [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ]
    }

    pub fn from_flags(flags: [bool; 4]) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: flags[0],
            ignore_public_acls: flags[1],
            block_public_policy: flags[2],
            restrict_public_buckets: flags[3],
        }
    }

    /// Each flag on where either side sets it (how AWS combines bucket and account).
    pub fn union(self, other: PublicAccessBlock) -> PublicAccessBlock {
        let (a, b) = (self.flags(), other.flags());
        PublicAccessBlock::from_flags(std::array::from_fn(|i| a[i] || b[i]))
    }

    /// The setting: `all`, `none`, or a comma-separated list of flag names (any case).
    pub fn parse_setting(value: &str) -> Option<PublicAccessBlock> {
        match value.trim() {
            "all" => return Some(PublicAccessBlock::ALL),
            "none" => return Some(PublicAccessBlock::default()),
            _ => {}
        }
        let mut flags = [false; 4];
        for word in value.split(',').map(str::trim) {
            let i = PUBLIC_ACCESS_FLAGS
                .iter()
                .position(|f| f.eq_ignore_ascii_case(word))?;
            flags[i] = true;
        }
        Some(PublicAccessBlock::from_flags(flags))
    }

    /// The setting's text, as `libres3 check-config` shows it.
    pub fn describe(self) -> String {
        let on: Vec<&str> = self
            .flags()
            .into_iter()
            .zip(PUBLIC_ACCESS_FLAGS)
            .filter_map(|(on, name)| on.then_some(*name))
            .collect();
        match on.len() {
            0 => "none".into(),
            4 => "all".into(),
            _ => on.join(","),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ObjectOwnership {
    /// The writer owns what it writes; ACLs apply.
    #[default]
    ObjectWriter,
    /// As ObjectWriter, but an object written with `bucket-owner-full-control` belongs to the
    /// bucket owner.
    BucketOwnerPreferred,
    /// The bucket owner owns everything and ACLs are disabled.
    BucketOwnerEnforced,
}

/// The Object Ownership values, in AWS's spelling.
pub const OBJECT_OWNERSHIPS: &[&str] = &[
    "ObjectWriter",
    "BucketOwnerPreferred",
    "BucketOwnerEnforced",
];

impl ObjectOwnership {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectOwnership::ObjectWriter => "ObjectWriter",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
        }
    }

    pub fn parse(value: &str) -> Option<ObjectOwnership> {
        [
            ObjectOwnership::ObjectWriter,
            ObjectOwnership::BucketOwnerPreferred,
            ObjectOwnership::BucketOwnerEnforced,
        ]
        .into_iter()
        .find(|o| o.as_str() == value.trim())
    }

    pub fn acls_enabled(self) -> bool {
        self != ObjectOwnership::BucketOwnerEnforced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_access_settings_and_union() {
        assert_eq!(
            PublicAccessBlock::parse_setting("all"),
            Some(PublicAccessBlock::ALL)
        );
        assert_eq!(
            PublicAccessBlock::parse_setting("none"),
            Some(PublicAccessBlock::default())
        );
        let some = PublicAccessBlock::parse_setting("BlockPublicAcls, ignorepublicacls").unwrap();
        assert!(some.block_public_acls && some.ignore_public_acls && !some.block_public_policy);
        assert_eq!(some.describe(), "BlockPublicAcls,IgnorePublicAcls");
        assert_eq!(PublicAccessBlock::parse_setting("BlockEverything"), None);
        assert_eq!(PublicAccessBlock::parse_setting(""), None);
        let other = PublicAccessBlock {
            block_public_policy: true,
            ..PublicAccessBlock::default()
        };
        let both = some.union(other);
        assert!(
            both.block_public_acls && both.block_public_policy && !both.restrict_public_buckets
        );
    }

    #[test]
    fn ownership_values() {
        for name in OBJECT_OWNERSHIPS {
            assert_eq!(
                ObjectOwnership::parse(name).map(|o| o.as_str()),
                Some(*name)
            );
        }
        assert_eq!(ObjectOwnership::parse("Everyone"), None);
        assert!(!ObjectOwnership::BucketOwnerEnforced.acls_enabled());
    }
}
