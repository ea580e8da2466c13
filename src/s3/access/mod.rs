//! Who may do what: one decision for every request, from the requester, what its operation
//! needs ([`actions`]), and the bucket's rules ([`rules`]): owner, policy, ACL, Block Public
//! Access and Object Ownership. An operation on an existing object is decided in two steps:
//! what the bucket says, before the handler reads the object, then [`Access::check_object`]
//! with the object's owner, ACL and tags. Handlers never decide rights themselves.
//!
//! The evaluation follows AWS for requests between accounts (each user is one): an explicit
//! Deny in the policy wins; the bucket owner may do anything else (and always manage the
//! policy); another user or an anonymous caller needs a policy Allow or an ACL grant.

pub mod actions;
pub mod conditions;
pub mod ownership;
pub mod public_block;
pub mod rules;

use std::sync::Arc;

use actions::{AclTarget, Need};
pub use rules::{BucketRules, RulesCache};

use crate::config::{ObjectOwnership, PublicAccessBlock};
use crate::s3::acl::{Acl, AclRequest, CannedAcl, Owner, Permission};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::identity::Identity;
use crate::s3::objmeta;
use crate::s3::policy::{ConditionValues, Decision, Policy, PolicyRequest, Requester};
use crate::s3::router::Operation;
use crate::store::{ObjectMeta, ObjectStore, Principal};

/// Bucket document names (see `ObjectStore::put_bucket_document`).
pub const DOC_ACL: &str = "acl";
pub const DOC_POLICY: &str = "policy";
pub const DOC_CORS: &str = "cors";
pub const DOC_TAGGING: &str = "tagging";

/// The policy actions the bucket owner keeps even against a Deny, so that a policy can
/// always be repaired (as AWS lets the account root do).
const OWNER_KEEPS: &[&str] = &[
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];

/// The initiator recorded for an upload an anonymous caller starts: not a user name (names
/// hold no `*`).
pub const ANONYMOUS_INITIATOR: &str = "*anonymous*";

pub fn access_denied() -> S3Error {
    S3Error::new(S3ErrorCode::AccessDenied, "Access Denied")
}

/// How a request was let in, kept for what the handler decides later.
#[derive(Clone, Debug)]
pub struct Access {
    /// None for an anonymous request.
    pub requester: Option<Identity>,
    /// The request's bucket rules; None for requests without a bucket (ListBuckets) and
    /// CreateBucket.
    rules: Option<Arc<BucketRules>>,
    /// The request's condition keys, read only when the bucket has a policy.
    conditions: Option<Arc<ConditionValues>>,
    /// The operation's need, when the object's own facts must finish the decision.
    pending: Option<Need>,
    /// Whether the requester may learn that a key does not exist (NoSuchKey rather than
    /// AccessDenied, as S3 answers only to those allowed s3:ListBucket).
    pub can_list: bool,
    /// The requester counts as the bucket's owner.
    pub is_owner: bool,
    /// The request's key (empty for bucket operations).
    key: String,
    /// What the policy said of this request before the object was read, if it could say.
    known_policy: Option<Decision>,
}

/// An existing object, as the second step of a decision sees it.
struct ObjectFacts {
    owner: Identity,
    acl: Acl,
    tags: Vec<(String, String)>,
}

enum Verdict {
    Allow,
    Deny,
    /// Needs the object (only without object facts).
    Pending,
}

impl Access {
    /// A request with no bucket rules (ListBuckets, CreateBucket): the store decides.
    pub fn without_bucket(requester: Option<Identity>) -> Access {
        Access {
            requester,
            rules: None,
            conditions: None,
            pending: None,
            can_list: true,
            is_owner: true,
            key: String::new(),
            known_policy: None,
        }
    }

    pub fn rules(&self) -> Option<&BucketRules> {
        self.rules.as_deref()
    }

    /// The second step for an operation on an existing object, given its metadata.
    pub fn check_object(&self, meta: &ObjectMeta) -> Result<(), S3Error> {
        let (Some(need), Some(rules)) = (self.pending, &self.rules) else {
            return Ok(());
        };
        let facts = object_facts(rules, meta);
        let resource = self.key_resource(rules, None);
        match self.verdict(rules, need, &resource, self.known_policy, Some(&facts)) {
            Verdict::Allow => Ok(()),
            Verdict::Deny | Verdict::Pending => Err(access_denied()),
        }
    }

    /// Whether the requester may delete `key`, or one version of it (DeleteObjects decides
    /// each entry: `s3:DeleteObjectVersion` for those that name a version).
    pub fn may_delete(&self, key: &str, version: bool) -> bool {
        let Some(rules) = &self.rules else {
            return true;
        };
        let need = Need {
            action: if version {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            },
            also: None,
            on_object: true,
            acl: Some((Permission::Write, AclTarget::Bucket)),
            object_phase: false,
        };
        matches!(
            self.verdict(
                rules,
                need,
                &self.key_resource(rules, Some(key)),
                None,
                None
            ),
            Verdict::Allow
        )
    }

    /// Whether the requester may bypass GOVERNANCE retention on `key`
    /// (`s3:BypassGovernanceRetention`: the owner, or whom a policy allows).
    pub fn may_bypass_governance(&self, key: &str) -> bool {
        let Some(rules) = &self.rules else {
            return false;
        };
        let need = Need {
            action: "s3:BypassGovernanceRetention",
            also: None,
            on_object: true,
            acl: None,
            object_phase: false,
        };
        matches!(
            self.verdict(
                rules,
                need,
                &self.key_resource(rules, Some(key)),
                None,
                None
            ),
            Verdict::Allow
        )
    }

    /// The resource an object operation names: `arn:aws:s3:::bucket/key`.
    fn key_resource(&self, rules: &BucketRules, key: Option<&str>) -> String {
        format!("arn:aws:s3:::{}/{}", rules.bucket, key.unwrap_or(&self.key))
    }

    /// The decision of `need` on `resource` for this requester; `known` is what the policy
    /// already said of this very request.
    fn verdict(
        &self,
        rules: &BucketRules,
        need: Need,
        resource: &str,
        known: Option<Decision>,
        object: Option<&ObjectFacts>,
    ) -> Verdict {
        let requester = self.requester.as_ref();
        let policy = known.or_else(|| {
            policy_decision(
                rules,
                requester,
                self.conditions.as_deref(),
                need,
                resource,
                object,
            )
        });
        match policy {
            Some(policy) => decide(rules, requester, self.is_owner, policy, need, object),
            None => Verdict::Pending,
        }
    }

    /// Who owns an object this request writes: the writer, unless the bucket's Object
    /// Ownership gives it to the bucket owner. None: the bucket owner (nothing is stored).
    fn new_object_owner(&self, acl: Option<&AclRequest>) -> Option<String> {
        let rules = self.rules.as_ref()?;
        let writer = self.requester.as_ref()?;
        // The owner, and the SX admin acting as every bucket's owner, write the owner's.
        if self.is_owner || writer.name == rules.owner.name {
            return None;
        }
        let full_control =
            acl.and_then(AclRequest::canned) == Some(CannedAcl::BucketOwnerFullControl);
        match rules.ownership {
            ObjectOwnership::BucketOwnerEnforced => None,
            ObjectOwnership::BucketOwnerPreferred if full_control => None,
            _ => Some(writer.name.clone()),
        }
    }

    /// The documents a new object gets from the ACL its write asks for: (ACL, owner) to
    /// store under `objmeta::ACL` and `objmeta::OWNER`; None where the default applies.
    pub fn new_object_documents(
        &self,
        request: Option<AclRequest>,
    ) -> Result<(Option<String>, Option<String>), S3Error> {
        let rules = self.rules.as_ref().ok_or_else(|| {
            S3Error::internal("an object write reached its handler without its bucket's rules")
        })?;
        if let Some(request) = &request {
            self.check_acl_request(request)?;
        }
        let owner_name = self.new_object_owner(request.as_ref());
        let owner = owner_name
            .as_deref()
            .map_or_else(|| rules.owner.clone(), Identity::of);
        let acl = match request {
            Some(request) => self.stored_acl(request, &owner)?,
            None => None,
        };
        Ok((acl, owner_name))
    }

    /// Who to record as the initiator of a multipart upload this request starts: the
    /// requester ([`ANONYMOUS_INITIATOR`] for an anonymous one), unless it acts as the
    /// bucket owner.
    pub fn initiator(&self) -> Option<String> {
        if self.is_owner {
            return None;
        }
        Some(
            self.requester
                .as_ref()
                .map_or_else(|| ANONYMOUS_INITIATOR.to_string(), |r| r.name.clone()),
        )
    }

    /// Only the user who started a multipart upload may add parts to it or complete it (an
    /// upload with no recorded initiator is the bucket owner's). With `policy_suffices`
    /// (ListParts, AbortMultipartUpload) the bucket owner and anyone the bucket policy allows
    /// may too. AWS: "Multipart upload API and permissions".
    pub fn check_upload(&self, upload: &ObjectMeta, policy_suffices: bool) -> Result<(), S3Error> {
        let policy_allows = self.known_policy == Some(Decision::Allow)
            && self.rules.as_ref().is_some_and(|r| !r.restricted());
        if policy_suffices && (self.is_owner || policy_allows) {
            return Ok(());
        }
        let requester = self
            .requester
            .as_ref()
            .map_or(ANONYMOUS_INITIATOR, |r| r.name.as_str());
        match objmeta::get(upload, objmeta::INITIATOR) {
            Some(initiator) if initiator == requester => Ok(()),
            None if self.is_owner => Ok(()),
            _ => Err(access_denied()),
        }
    }

    /// Who owns an existing object: its recorded owner, else the bucket owner.
    pub fn object_owner(&self, meta: &ObjectMeta) -> Option<Identity> {
        self.owner_recorded_as(objmeta::get(meta, objmeta::OWNER))
    }

    /// Who owns an object whose recorded owner (`objmeta::OWNER`) is `recorded`: that user,
    /// unless the bucket disables ACLs (BucketOwnerEnforced: the bucket owner owns every
    /// object, older ones too) or none is recorded.
    pub fn owner_recorded_as(&self, recorded: Option<&str>) -> Option<Identity> {
        let rules = self.rules.as_ref()?;
        Some(match recorded {
            Some(name) if rules.ownership.acls_enabled() => Identity::of(name),
            _ => rules.owner.clone(),
        })
    }

    /// The ACL an existing object shows: its own, or only its owner's full control where the
    /// bucket disables ACLs.
    pub fn object_acl(&self, meta: &ObjectMeta) -> Option<Acl> {
        let rules = self.rules.as_ref()?;
        let facts = object_facts(rules, meta);
        Some(if rules.ownership.acls_enabled() {
            facts.acl
        } else {
            Acl::from_stored(None, &acl_owner(&rules.owner))
        })
    }

    /// The bucket's ACL as GetBucketAcl shows it.
    pub fn bucket_acl(&self) -> Option<Acl> {
        let rules = self.rules.as_ref()?;
        Some(if rules.ownership.acls_enabled() {
            rules.acl.clone()
        } else {
            Acl::from_stored(None, &acl_owner(&rules.owner))
        })
    }

    /// What to store as the ACL of a resource `owner` owns: None for the default (private)
    /// and where the bucket disables ACLs. E-mail grantees name no user here: users have no
    /// e-mail address (UnresolvableGrantByEmailAddress).
    pub fn stored_acl(
        &self,
        request: AclRequest,
        owner: &Identity,
    ) -> Result<Option<String>, S3Error> {
        let bucket_owner = self.rules.as_ref().map_or(owner, |r| &r.owner);
        if self
            .rules
            .as_ref()
            .is_some_and(|r| !r.ownership.acls_enabled())
        {
            return Ok(None);
        }
        let owner = acl_owner(owner);
        let acl = request.resolve(&owner, &acl_owner(bucket_owner), &Default::default())?;
        let private = Acl::from_stored(None, &owner);
        Ok((acl != private).then(|| acl.to_stored()))
    }

    /// Refuses an ACL a request sets where the bucket forbids it: any ACL but the owner's full
    /// control when ACLs are disabled (400 AccessControlListNotSupported), a public one under
    /// BlockPublicAcls (403 AccessDenied).
    pub fn check_acl_request(&self, acl: &AclRequest) -> Result<(), S3Error> {
        match &self.rules {
            Some(rules) => check_acl(acl, rules.ownership, rules.public_block),
            None => Ok(()),
        }
    }
}

/// The rule of [`Access::check_acl_request`] for a bucket with `ownership` and `block` (also
/// for a bucket being created).
pub fn check_acl(
    acl: &AclRequest,
    ownership: ObjectOwnership,
    block: PublicAccessBlock,
) -> Result<(), S3Error> {
    if !ownership.acls_enabled()
        && !matches!(
            acl.canned(),
            Some(CannedAcl::BucketOwnerFullControl | CannedAcl::Private)
        )
    {
        return Err(S3Error::new(
            S3ErrorCode::AccessControlListNotSupported,
            "The bucket does not allow ACLs",
        ));
    }
    if block.block_public_acls && acl.is_public() {
        return Err(access_denied());
    }
    Ok(())
}

/// The owner, ACL and tags of an object from its stored metadata; an object with no
/// recorded owner belongs to the bucket owner.
fn object_facts(rules: &BucketRules, meta: &ObjectMeta) -> ObjectFacts {
    let owner =
        objmeta::get(meta, objmeta::OWNER).map_or_else(|| rules.owner.clone(), Identity::of);
    let acl = Acl::from_stored(objmeta::get(meta, objmeta::ACL), &acl_owner(&owner));
    let tags = objmeta::get(meta, objmeta::TAGGING)
        .map(crate::s3::tagging::decode)
        .unwrap_or_default();
    ObjectFacts { owner, acl, tags }
}

/// An identity as the ACL model names an owner.
pub fn acl_owner(identity: &Identity) -> Owner {
    Owner {
        id: identity.canonical_id.clone(),
        display_name: identity.name.clone(),
    }
}

/// What the bucket policy says of a request (NotSpecified without one); None while it
/// waits for the object's tags (`s3:ExistingObjectTag/...` conditions).
fn policy_decision(
    rules: &BucketRules,
    requester: Option<&Identity>,
    conditions: Option<&ConditionValues>,
    need: Need,
    resource: &str,
    object: Option<&ObjectFacts>,
) -> Option<Decision> {
    let Some(policy) = &rules.policy else {
        return Some(Decision::NotSpecified);
    };
    if object.is_none() && need.object_phase && rules.policy_reads_tags {
        return None;
    }
    let empty = ConditionValues::default();
    let base = conditions.unwrap_or(&empty);
    let with_tags;
    let values = match object {
        Some(o) if !o.tags.is_empty() => {
            with_tags = conditions::with_existing_tags(base, &o.tags);
            &with_tags
        }
        _ => base,
    };
    let requester = match requester {
        Some(user) => Requester::User {
            name: &user.name,
            canonical_id: &user.canonical_id,
        },
        None => Requester::Anonymous,
    };
    let decide = |action| {
        policy.evaluate(&PolicyRequest {
            requester,
            action,
            resource,
            conditions: values,
        })
    };
    Some(match (decide(need.action), need.also.map(decide)) {
        (Decision::Deny, _) | (_, Some(Decision::Deny)) => Decision::Deny,
        (Decision::Allow, None | Some(Decision::Allow)) => Decision::Allow,
        _ => Decision::NotSpecified,
    })
}

/// The decision, given what the policy says. Without `object`, an operation on an existing
/// object may stay Pending.
fn decide(
    rules: &BucketRules,
    requester: Option<&Identity>,
    is_owner: bool,
    policy: Decision,
    need: Need,
    object: Option<&ObjectFacts>,
) -> Verdict {
    let on_existing_object = need.object_phase;
    // A stored policy that no longer reads (say, after an upgrade narrowed what is valid)
    // may have held Deny statements: nobody but the owner is let in until it is replaced.
    if rules.policy_unreadable && !is_owner {
        return Verdict::Deny;
    }
    if policy == Decision::Deny {
        return if is_owner && OWNER_KEEPS.contains(&need.action) {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
    }
    let acls = rules.ownership.acls_enabled();
    // With ACLs on, an object another user owns is that user's to share: the bucket's
    // owner and policy reach it only through its ACL, as in AWS.
    let foreign = |o: &ObjectFacts| acls && o.owner.name != rules.owner.name;
    if is_owner {
        return match object {
            Some(o) if foreign(o) => object_acl_verdict(need, requester, o, rules),
            None if on_existing_object && acls => Verdict::Pending,
            _ => Verdict::Allow,
        };
    }
    if policy == Decision::Allow && !rules.restricted() {
        match object {
            Some(o) if foreign(o) => {}
            None if on_existing_object && acls => return Verdict::Pending,
            _ => return Verdict::Allow,
        }
    }
    if !acls {
        return Verdict::Deny;
    }
    match need.acl {
        Some((permission, AclTarget::Bucket)) => {
            if rules.acl.permits(
                requester.map(|r| r.canonical_id.as_str()),
                permission,
                rules.public_block.ignore_public_acls,
            ) {
                Verdict::Allow
            } else {
                Verdict::Deny
            }
        }
        Some((_, AclTarget::Object)) => match object {
            Some(o) => object_acl_verdict(need, requester, o, rules),
            None => Verdict::Pending,
        },
        None => match object {
            // The object's owner keeps every right over it, as its ACL's FULL_CONTROL says.
            Some(o) if requester.is_some_and(|r| r.name == o.owner.name) => Verdict::Allow,
            None if on_existing_object => Verdict::Pending,
            _ => Verdict::Deny,
        },
    }
}

fn object_acl_verdict(
    need: Need,
    requester: Option<&Identity>,
    object: &ObjectFacts,
    rules: &BucketRules,
) -> Verdict {
    let id = requester.map(|r| r.canonical_id.as_str());
    let granted = match need.acl {
        // The backend's own read right covers every object in the bucket.
        Some((Permission::Read, AclTarget::Object))
            if id.is_some_and(|id| rules.backend_readers.iter().any(|r| r == id)) =>
        {
            true
        }
        Some((permission, AclTarget::Object)) => {
            object
                .acl
                .permits(id, permission, rules.public_block.ignore_public_acls)
        }
        _ => requester.is_some_and(|r| r.name == object.owner.name),
    };
    if granted {
        Verdict::Allow
    } else {
        Verdict::Deny
    }
}

/// Decides a request before its handler runs. Returns the principal the store calls run as
/// (the requester when it owns the bucket, else the bucket owner) and the [`Access`] the
/// handler finishes object decisions with.
pub async fn authorize<S: ObjectStore>(
    store: &S,
    cache: &RulesCache,
    defaults: &crate::s3::S3Config,
    request: &conditions::RequestFacts<'_>,
    operation: Operation,
    bucket: Option<&str>,
    key: &str,
) -> Result<(Principal, Access), S3Error> {
    let requester = request.requester.cloned();
    let need = match request.query.get("versionId") {
        Some(_) => actions::need_for_version(operation),
        None => actions::need(operation),
    };
    let (Some(need), Some(bucket)) = (
        need.filter(|_| operation != Operation::CreateBucket),
        bucket,
    ) else {
        // ListBuckets and CreateBucket: only users, and the store decides.
        return match &requester {
            Some(user) => Ok((
                Principal::User(user.name.clone()),
                Access::without_bucket(requester),
            )),
            None => Err(access_denied()),
        };
    };
    // A copy's source is decided with the same condition values.
    let copies = matches!(operation, Operation::CopyObject | Operation::UploadPartCopy);
    // A copy reads its source under the source bucket's policy: it gathers every key.
    let values = |policy: Option<&Policy>| {
        let wanted = if copies { None } else { policy };
        Arc::new(conditions::condition_values(request, wanted))
    };
    let (run_as, access) = match bucket_access(
        store, cache, defaults, requester, &values, copies, need, bucket, key,
    )
    .await
    {
        // DeleteObjects answers for each key (`Access::may_delete`), as AWS does.
        Err(e) if operation == Operation::DeleteObjects && e.code == S3ErrorCode::AccessDenied => {
            let rules = cache.get(store, defaults, bucket).await?;
            let requester = request.requester.cloned();
            let principal = requester
                .as_ref()
                .map_or(Principal::Anonymous, |r| Principal::User(r.name.clone()));
            let is_owner = store.counts_as_owner(&principal, &rules.owner.name);
            let run_as = if is_owner {
                principal
            } else {
                Principal::User(rules.owner.name.clone())
            };
            let access = Access {
                requester,
                conditions: Some(values(rules.policy.as_ref())),
                rules: Some(rules),
                pending: None,
                can_list: false,
                is_owner,
                key: String::new(),
                known_policy: None,
            };
            return Ok((run_as, access));
        }
        other => other?,
    };
    // AWS keeps a bucket's policy to its owner's account: another account allowed to manage
    // it is told 405 (PutBucketPolicy page).
    if !access.is_owner && OWNER_KEEPS.contains(&need.action) {
        return Err(S3Error::new(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        ));
    }
    Ok((run_as, access))
}

impl Access {
    /// Decides reading a copy's source object (`s3:GetObject` on it, `s3:GetObjectVersion`
    /// when named with its version) for this request's
    /// requester; returns whom to open it as and the access to finish the check with
    /// ([`Access::check_object`]) once it is open.
    pub async fn copy_source<S: ObjectStore>(
        &self,
        store: &S,
        cache: &RulesCache,
        defaults: &crate::s3::S3Config,
        bucket: &str,
        key: &str,
        version: bool,
    ) -> Result<(Principal, Access), S3Error> {
        // A source named with its versionId needs s3:GetObjectVersion, as a GET of it would.
        let need = match version {
            true => actions::need_for_version(Operation::GetObject),
            false => actions::need(Operation::GetObject),
        }
        .ok_or_else(|| S3Error::internal("GetObject has no access need"))?;
        let values = |_: Option<&Policy>| self.conditions.clone().unwrap_or_default();
        bucket_access(
            store,
            cache,
            defaults,
            self.requester.clone(),
            &values,
            false,
            need,
            bucket,
            key,
        )
        .await
    }
}

#[allow(clippy::too_many_arguments)]
async fn bucket_access<S: ObjectStore>(
    store: &S,
    cache: &RulesCache,
    defaults: &crate::s3::S3Config,
    requester: Option<Identity>,
    values: &dyn Fn(Option<&Policy>) -> Arc<ConditionValues>,
    always_read_conditions: bool,
    need: Need,
    bucket: &str,
    key: &str,
) -> Result<(Principal, Access), S3Error> {
    let principal = requester
        .as_ref()
        .map_or(Principal::Anonymous, |r| Principal::User(r.name.clone()));
    let rules = cache.get(store, defaults, bucket).await?;
    let is_owner = store.counts_as_owner(&principal, &rules.owner.name);
    let conditions =
        (rules.policy.is_some() || always_read_conditions).then(|| values(rules.policy.as_ref()));
    let resource = if need.on_object {
        format!("arn:aws:s3:::{bucket}/{key}")
    } else {
        format!("arn:aws:s3:::{bucket}")
    };
    let known_policy = policy_decision(
        &rules,
        requester.as_ref(),
        conditions.as_deref(),
        need,
        &resource,
        None,
    );
    let verdict = match known_policy {
        Some(policy) => decide(&rules, requester.as_ref(), is_owner, policy, need, None),
        None => Verdict::Pending,
    };
    let pending = match verdict {
        Verdict::Deny => return Err(access_denied()),
        Verdict::Allow => None,
        // Only handlers that read the object finish a decision; nothing else may wait.
        Verdict::Pending if !need.object_phase => return Err(access_denied()),
        Verdict::Pending => Some(need),
    };
    // Only for others: the owner may always list (no allocation on its hot path).
    let can_list = is_owner
        || actions::need(Operation::ListObjects).is_some_and(|list| {
            let bucket_arn = format!("arn:aws:s3:::{bucket}");
            let policy = policy_decision(
                &rules,
                requester.as_ref(),
                conditions.as_deref(),
                list,
                &bucket_arn,
                None,
            );
            policy.is_some_and(|policy| {
                matches!(
                    decide(&rules, requester.as_ref(), false, policy, list, None),
                    Verdict::Allow
                )
            })
        });
    let run_as = if is_owner {
        principal
    } else {
        Principal::User(rules.owner.name.clone())
    };
    Ok((
        run_as,
        Access {
            requester,
            rules: Some(rules),
            conditions,
            pending,
            can_list,
            is_owner,
            key: key.to_string(),
            known_policy,
        },
    ))
}

#[cfg(test)]
mod tests;
