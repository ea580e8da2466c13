//! Every action name of the `s3:` service prefix (IAM Service Authorization Reference,
//! "Actions defined by Amazon S3"), so that a policy naming an action that does not exist —
//! a typo such as `s3:GetObjects` — is refused at PutBucketPolicy, as AWS refuses it, rather
//! than silently never matching.

/// Lowercase, so that policy patterns (lowercased at parse) compare directly.
const S3_ACTIONS: &[&str] = &[
    "s3:abortmultipartupload",
    "s3:associateaccessgrantsidentitycenter",
    "s3:bypassgovernanceretention",
    "s3:createaccessgrant",
    "s3:createaccessgrantsinstance",
    "s3:createaccessgrantslocation",
    "s3:createaccesspoint",
    "s3:createaccesspointforobjectlambda",
    "s3:createbucket",
    "s3:createbucketmetadatatableconfiguration",
    "s3:createjob",
    "s3:createmultiregionaccesspoint",
    "s3:createsession",
    "s3:createstoragelensgroup",
    "s3:deleteaccessgrant",
    "s3:deleteaccessgrantsinstance",
    "s3:deleteaccessgrantsinstanceresourcepolicy",
    "s3:deleteaccessgrantslocation",
    "s3:deleteaccesspoint",
    "s3:deleteaccesspointforobjectlambda",
    "s3:deleteaccesspointpolicy",
    "s3:deleteaccesspointpolicyforobjectlambda",
    "s3:deletebucket",
    "s3:deletebucketmetadatatableconfiguration",
    "s3:deletebucketownershipcontrols",
    "s3:deletebucketpolicy",
    "s3:deletebucketwebsite",
    "s3:deletejobtagging",
    "s3:deletemultiregionaccesspoint",
    "s3:deleteobject",
    "s3:deleteobjecttagging",
    "s3:deleteobjectversion",
    "s3:deleteobjectversiontagging",
    "s3:deletestoragelensconfiguration",
    "s3:deletestoragelensconfigurationtagging",
    "s3:deletestoragelensgroup",
    "s3:describejob",
    "s3:describemultiregionaccesspointoperation",
    "s3:dissociateaccessgrantsidentitycenter",
    "s3:getaccelerateconfiguration",
    "s3:getaccessgrant",
    "s3:getaccessgrantsinstance",
    "s3:getaccessgrantsinstanceforprefix",
    "s3:getaccessgrantsinstanceresourcepolicy",
    "s3:getaccessgrantslocation",
    "s3:getaccesspoint",
    "s3:getaccesspointconfigurationforobjectlambda",
    "s3:getaccesspointforobjectlambda",
    "s3:getaccesspointpolicy",
    "s3:getaccesspointpolicyforobjectlambda",
    "s3:getaccesspointpolicystatus",
    "s3:getaccesspointpolicystatusforobjectlambda",
    "s3:getaccountpublicaccessblock",
    "s3:getanalyticsconfiguration",
    "s3:getbucketabac",
    "s3:getbucketacl",
    "s3:getbucketcors",
    "s3:getbucketlocation",
    "s3:getbucketlogging",
    "s3:getbucketmetadatatableconfiguration",
    "s3:getbucketnotification",
    "s3:getbucketobjectlockconfiguration",
    "s3:getbucketownershipcontrols",
    "s3:getbucketpolicy",
    "s3:getbucketpolicystatus",
    "s3:getbucketpublicaccessblock",
    "s3:getbucketrequestpayment",
    "s3:getbuckettagging",
    "s3:getbucketversioning",
    "s3:getbucketwebsite",
    "s3:getdataaccess",
    "s3:getencryptionconfiguration",
    "s3:getintelligenttieringconfiguration",
    "s3:getinventoryconfiguration",
    "s3:getjobtagging",
    "s3:getlifecycleconfiguration",
    "s3:getmetricsconfiguration",
    "s3:getmultiregionaccesspoint",
    "s3:getmultiregionaccesspointpolicy",
    "s3:getmultiregionaccesspointpolicystatus",
    "s3:getmultiregionaccesspointroutes",
    "s3:getobject",
    "s3:getobjectacl",
    "s3:getobjectattributes",
    "s3:getobjectlegalhold",
    "s3:getobjectretention",
    "s3:getobjecttagging",
    "s3:getobjecttorrent",
    "s3:getobjectversion",
    "s3:getobjectversionacl",
    "s3:getobjectversionattributes",
    "s3:getobjectversionforreplication",
    "s3:getobjectversiontagging",
    "s3:getobjectversiontorrent",
    "s3:getreplicationconfiguration",
    "s3:getstoragelensconfiguration",
    "s3:getstoragelensconfigurationtagging",
    "s3:getstoragelensdashboard",
    "s3:getstoragelensgroup",
    "s3:initiatereplication",
    "s3:listaccessgrants",
    "s3:listaccessgrantsinstances",
    "s3:listaccessgrantslocations",
    "s3:listaccesspoints",
    "s3:listaccesspointsforobjectlambda",
    "s3:listallmybuckets",
    "s3:listbucket",
    "s3:listbucketmultipartuploads",
    "s3:listbucketversions",
    "s3:listcalleraccessgrants",
    "s3:listjobs",
    "s3:listmultipartuploadparts",
    "s3:listmultiregionaccesspoints",
    "s3:liststoragelensconfigurations",
    "s3:liststoragelensgroups",
    "s3:listtagsforresource",
    "s3:objectowneroverridetoowner",
    "s3:pausereplication",
    "s3:putaccelerateconfiguration",
    "s3:putaccessgrantsinstanceresourcepolicy",
    "s3:putaccesspointconfigurationforobjectlambda",
    "s3:putaccesspointpolicy",
    "s3:putaccesspointpolicyforobjectlambda",
    "s3:putaccesspointpublicaccessblock",
    "s3:putaccountpublicaccessblock",
    "s3:putanalyticsconfiguration",
    "s3:putbucketabac",
    "s3:putbucketacl",
    "s3:putbucketcors",
    "s3:putbucketlogging",
    "s3:putbucketnotification",
    "s3:putbucketobjectlockconfiguration",
    "s3:putbucketownershipcontrols",
    "s3:putbucketpolicy",
    "s3:putbucketpublicaccessblock",
    "s3:putbucketrequestpayment",
    "s3:putbuckettagging",
    "s3:putbucketversioning",
    "s3:putbucketwebsite",
    "s3:putencryptionconfiguration",
    "s3:putintelligenttieringconfiguration",
    "s3:putinventoryconfiguration",
    "s3:putjobtagging",
    "s3:putlifecycleconfiguration",
    "s3:putmetricsconfiguration",
    "s3:putmultiregionaccesspointpolicy",
    "s3:putobject",
    "s3:putobjectacl",
    "s3:putobjectlegalhold",
    "s3:putobjectretention",
    "s3:putobjecttagging",
    "s3:putobjectversionacl",
    "s3:putobjectversiontagging",
    "s3:putreplicationconfiguration",
    "s3:putstoragelensconfiguration",
    "s3:putstoragelensconfigurationtagging",
    "s3:replicatedelete",
    "s3:replicateobject",
    "s3:replicatetags",
    "s3:restoreobject",
    "s3:submitmultiregionaccesspointroutes",
    "s3:tagresource",
    "s3:untagresource",
    "s3:updateaccessgrantslocation",
    "s3:updatebucketmetadatainventorytableconfiguration",
    "s3:updatebucketmetadatajournaltableconfiguration",
    "s3:updatejobpriority",
    "s3:updatejobstatus",
    "s3:updateobjectencryption",
    "s3:updatestoragelensgroup",
];

/// True when `pattern` (lowercase, `*`/`?` wildcards) names at least one S3 action.
pub(super) fn names_an_action(pattern: &str) -> bool {
    pattern == "*"
        || S3_ACTIONS
            .iter()
            .any(|action| super::wildcard_match(pattern, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_list_is_lowercase_sorted_and_unique() {
        for pair in S3_ACTIONS.windows(2) {
            assert!(pair[0] < pair[1], "{} before {}", pair[0], pair[1]);
        }
        for action in S3_ACTIONS {
            assert_eq!(*action, action.to_ascii_lowercase());
        }
    }

    #[test]
    fn policy_action_names() {
        assert!(names_an_action("s3:getobject"));
        assert!(names_an_action("s3:get*"));
        assert!(names_an_action("s3:*"));
        assert!(names_an_action("*"));
        assert!(names_an_action("s3:?utobject"));
        assert!(!names_an_action("s3:getobjects"));
        assert!(!names_an_action("ec2:runinstances"));
        assert!(!names_an_action("s3:"));
    }
}
