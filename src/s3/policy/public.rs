//! Whether a policy is public, as GetBucketPolicyStatus and Block Public Access judge it
//! (Amazon S3 User Guide, "Blocking public access to your Amazon S3 storage", section "The
//! meaning of public"): a policy is assumed public, and is not if every `Allow` grants only
//! to fixed values — a named principal, or a condition with fixed values (no wildcard, no
//! policy variable) on `aws:SourceIp` (CIDRs), `aws:userid`, `aws:PrincipalArn` or
//! `s3:x-amz-server-side-encryption-aws-kms-key-id`. `Deny` statements never make a policy
//! public nor private.

use super::document::{Principals, Statement};
use super::Policy;

impl Statement {
    fn is_public(&self) -> bool {
        if !self.allow {
            return false;
        }
        // `NotPrincipal` on an Allow grants to everyone but the principals named.
        let to_everyone =
            self.principals_negated || matches!(self.principals, Principals::Everyone);
        to_everyone
            && !self
                .conditions
                .iter()
                .any(|condition| condition.confines_to_fixed_values())
    }
}

impl Policy {
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(Statement::is_public)
    }
}
