"""boto3 against libres3: who may do what (issue 17). ACCESS_CASE picks the run:

- "matrix": every action x {owner, other user, anonymous} x {none, acl, policy-allow,
  policy-deny, pab}. The expected answer of each cell comes from `expected()`, a small model
  of AWS's rules (briefs/acl-shared.md), never from the server. Prints one table of the cells
  whose answer differs, then a count per mode and requester, and exits 1 if any differ.
- "policy-status", "ownership", "block-public-acls", "malformed-policy": small cases that
  print one JSON document for the Rust test (tests/it/s3_access_matrix.rs).

The owner signs with the server's default keys, the other user with OTHER_ACCESS_KEY /
OTHER_SECRET_KEY, the anonymous requester does not sign (botocore UNSIGNED). Canonical IDs and
names come from each user's ListBuckets Owner, ARNs are arn:aws:iam::<id>:user/<name>.

AWS pages followed: "Mapping of ACL permissions and access policy permissions" (ACL overview),
"Amazon S3 actions" / "Policy actions for Amazon S3", "Blocking public access to your Amazon S3
storage" (the meaning of "public", RestrictPublicBuckets blocks cross-account access through a
public policy, "including non-public delegation to specific accounts"), "IAM JSON policy
elements: Condition" (a negated operator on a missing key is true), the API reference pages
of each action (PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy: 405 MethodNotAllowed for
a permitted identity of another account; the bucket owner may always use them; "Multipart
upload API and permissions"; GetObjectAttributes needs s3:GetObject and
s3:GetObjectAttributes; DeleteObjects answers AccessDenied per key)."""
import json
import os
import sys

import boto3
import botocore
from botocore import UNSIGNED
from botocore.config import Config
from s3test import bucket as BASE, client, error_of, outcome

ENDPOINT = os.environ["S3_ENDPOINT"]
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def signed_as(access, secret):
    return boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=access,
                        aws_secret_access_key=secret,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


owner = client()
other = signed_as(os.environ["OTHER_ACCESS_KEY"], os.environ["OTHER_SECRET_KEY"])
anonymous = boto3.client("s3", endpoint_url=ENDPOINT,
                         config=Config(signature_version=UNSIGNED,
                                       s3={"addressing_style": "path"},
                                       retries={"max_attempts": 1}))
CLIENTS = {"owner": owner, "other": other, "anonymous": anonymous}
WHO = ["owner", "other", "anonymous"]
MODES = ["none", "acl", "policy-allow", "policy-deny", "pab"]

# What went wrong while the owner set a bucket up (the server's fault or the test's: shown).
setup_failures = []


def identity(c):
    owner_of = c.list_buckets()["Owner"]
    return owner_of["ID"], owner_of["DisplayName"]


OWNER_ID, OWNER_NAME = identity(owner)
OTHER_ID, OTHER_NAME = identity(other)
OTHER_ARN = f"arn:aws:iam::{OTHER_ID}:user/{OTHER_NAME}"


def setup(what, call):
    """A step of the owner's; a failure is recorded, the run goes on."""
    try:
        return call()
    except botocore.exceptions.ClientError as e:
        setup_failures.append((what, *error_of(e)))
    return None


# ---------------------------------------------------------------------------------------------
# The model of AWS's decision.

# The policy actions each operation needs (all of them: CopyObject reads and writes).
NEEDS = {
    "ListObjects": ["s3:ListBucket"], "ListObjectsV2": ["s3:ListBucket"],
    "ListObjectVersions": ["s3:ListBucketVersions"], "HeadBucket": ["s3:ListBucket"],
    "GetBucketLocation": ["s3:GetBucketLocation"], "GetBucketAcl": ["s3:GetBucketAcl"],
    "PutBucketAcl": ["s3:PutBucketAcl"], "GetBucketPolicy": ["s3:GetBucketPolicy"],
    "PutBucketPolicy": ["s3:PutBucketPolicy"], "DeleteBucketPolicy": ["s3:DeleteBucketPolicy"],
    "GetBucketCors": ["s3:GetBucketCORS"], "PutBucketCors": ["s3:PutBucketCORS"],
    "GetBucketTagging": ["s3:GetBucketTagging"], "PutBucketTagging": ["s3:PutBucketTagging"],
    "ListMultipartUploads": ["s3:ListBucketMultipartUploads"],
    "GetObject": ["s3:GetObject"], "HeadObject": ["s3:GetObject"],
    "GetMissingObject": ["s3:GetObject"],
    "PutObject": ["s3:PutObject"], "DeleteObject": ["s3:DeleteObject"],
    "DeleteObjects": ["s3:DeleteObject"], "CopyObject": ["s3:GetObject", "s3:PutObject"],
    "GetObjectAcl": ["s3:GetObjectAcl"], "PutObjectAcl": ["s3:PutObjectAcl"],
    "GetObjectTagging": ["s3:GetObjectTagging"], "PutObjectTagging": ["s3:PutObjectTagging"],
    "DeleteObjectTagging": ["s3:DeleteObjectTagging"],
    "GetObjectAttributes": ["s3:GetObject", "s3:GetObjectAttributes"],
    "CreateMultipartUpload": ["s3:PutObject"], "UploadPart": ["s3:PutObject"],
    "CompleteMultipartUpload": ["s3:PutObject"],
    "AbortMultipartUpload": ["s3:AbortMultipartUpload"],
    "ListParts": ["s3:ListMultipartUploadParts"],
    "GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
    "GetBucketPolicyStatus": ["s3:GetBucketPolicyStatus"],
    "DeleteBucket": ["s3:DeleteBucket"],
}

# What ACL grants give (AWS's "Mapping of ACL permissions and access policy permissions"):
# bucket READ lists, bucket WRITE writes and deletes (and ends the uploads it may start),
# object READ reads the object and its attributes ("you must have READ access to the
# object", GetObjectAttributes page); its tags take a policy.
BUCKET_READ = {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
BUCKET_WRITE = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
OBJECT_READ = {"s3:GetObject", "s3:GetObjectAttributes"}
UPLOAD_INITIATOR_ONLY = {"UploadPart", "CompleteMultipartUpload"}
UPLOAD_BY_POLICY = {"AbortMultipartUpload", "ListParts"}
# Only the bucket owner's account may use these; another permitted account gets 405.
POLICY_OPERATIONS = {"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"}
HEAD = {"HeadBucket", "HeadObject"}
# Configuration the matrix buckets lack in these modes: an allowed request is answered 404.
ABSENT = {
    ("GetBucketPolicy", "none"): "404 NoSuchBucketPolicy",
    ("GetBucketPolicy", "acl"): "404 NoSuchBucketPolicy",
    ("GetBucketPolicyStatus", "none"): "404 NoSuchBucketPolicy",
    ("GetBucketPolicyStatus", "acl"): "404 NoSuchBucketPolicy",
    **{("GetPublicAccessBlock", mode): "404 NoSuchPublicAccessBlockConfiguration"
       for mode in ("none", "acl", "policy-allow", "policy-deny")},
}


def acl_grants(who, permission, mode):
    """Does the ACL of mode give `permission`? pab keeps the grants to the other user's ID and
    ignores the public ones (IgnorePublicAcls)."""
    if mode not in ("acl", "pab") or who == "owner":
        return False
    if who == "anonymous" and mode == "pab":
        return False
    if who == "anonymous":  # AllUsers: READ on the bucket and on the objects
        return permission in BUCKET_READ | OBJECT_READ
    return permission in BUCKET_READ | BUCKET_WRITE | OBJECT_READ


def policy_allows(who, permission, mode):
    """The other user's ARN has s3:*, Principal "*" s3:GetObject and s3:ListBucket. The policy
    is public, so RestrictPublicBuckets (pab) drops every cross-account Allow of it."""
    if mode not in ("policy-allow", "policy-deny") or who == "owner":
        return False
    if who == "other":
        return True
    return permission in ("s3:GetObject", "s3:ListBucket")


def policy_denies(who, permission, mode):
    """policy-deny: GetObject and PutObject denied to all but the owner (aws:username, absent
    for anonymous requests: StringNotEquals on a missing key is true); deny-all: everything."""
    if mode == "deny-all":
        return True
    return (mode == "policy-deny" and who != "owner"
            and permission in ("s3:GetObject", "s3:PutObject"))


def denied(action):
    if action in HEAD:
        return "403"
    if action == "DeleteObjects":
        return "200 per-key AccessDenied"
    return "403 AccessDenied"


def expected(action, who, mode):
    needs = NEEDS[action]
    allowed = ABSENT.get((action, mode), "2xx")
    # BlockPublicAcls / BlockPublicPolicy refuse to store the mode's public ACL or policy,
    # whoever asks.
    if mode == "pab" and action in ("PutBucketAcl", "PutObjectAcl", "PutBucketPolicy"):
        return denied(action)
    if who == "owner" and action in POLICY_OPERATIONS:
        return allowed  # the owner's root may always manage the policy, even when denied
    if any(policy_denies(who, p, mode) for p in needs):
        return denied(action)
    if action == "GetMissingObject":
        # GetObject: a key that does not exist is 404 NoSuchKey to whoever may list the
        # bucket, 403 AccessDenied to anyone else.
        lists = (who == "owner" or acl_grants(who, "s3:ListBucket", mode)
                 or policy_allows(who, "s3:ListBucket", mode))
        return "404 NoSuchKey" if lists else denied(action)
    if who == "owner":
        return allowed
    # The matrix's uploads are the owner's. Only the initiator adds parts or completes;
    # others abort or list parts only with the policy's permission ("Multipart upload API
    # and permissions").
    if action in UPLOAD_INITIATOR_ONLY:
        return denied(action)
    if action in UPLOAD_BY_POLICY and not all(policy_allows(who, p, mode) for p in needs):
        return denied(action)
    if not all(acl_grants(who, p, mode) or policy_allows(who, p, mode) for p in needs):
        return denied(action)
    if action in POLICY_OPERATIONS:
        return "405 MethodNotAllowed"
    return allowed


# ---------------------------------------------------------------------------------------------
# The buckets of the matrix, as the owner sets them up.

def public_policy(name):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "OtherUser", "Effect": "Allow", "Principal": {"AWS": OTHER_ARN},
             "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]},
            {"Sid": "Everyone", "Effect": "Allow", "Principal": "*",
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]},
        ],
    }


def mode_policy(name, mode):
    """The policy of mode, or None; the document PutBucketPolicy cells write."""
    if mode not in ("policy-allow", "policy-deny", "pab"):
        return None
    policy = public_policy(name)
    if mode == "policy-deny":
        policy["Statement"].append(
            {"Sid": "NotTheOwner", "Effect": "Deny", "Principal": "*",
             "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{name}/*",
             "Condition": {"StringNotEquals": {"aws:username": OWNER_NAME}}})
    return json.dumps(policy)


def not_public_policy(name):
    """What PutBucketPolicy cells write in the modes without a policy: a Deny binds no one of
    the later cells and is not public."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutBucketWebsite",
         "Resource": f"arn:aws:s3:::{name}"}]})


def owner_only_policy(name):
    """A policy naming one user: not public."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER_ID}:user/{OWNER_NAME}"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]})


def bucket_acl(mode):
    if mode in ("acl", "pab"):
        return {"GrantFullControl": f'id="{OWNER_ID}"',
                "GrantRead": f'id="{OTHER_ID}", uri="{ALL_USERS}"',
                "GrantWrite": f'id="{OTHER_ID}"'}
    return {"ACL": "private"}


def object_acl(mode):
    if mode in ("acl", "pab"):
        return {"GrantFullControl": f'id="{OWNER_ID}"',
                "GrantRead": f'id="{OTHER_ID}", uri="{ALL_USERS}"'}
    return {}


CORS = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
TAGS = {"TagSet": [{"Key": "matrix", "Value": "yes"}]}
ALL_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
               "RestrictPublicBuckets": True}


def set_up(name, mode):
    s = owner
    setup(f"{name}: CreateBucket", lambda: s.create_bucket(Bucket=name))
    setup(f"{name}: PutBucketCors", lambda: s.put_bucket_cors(Bucket=name,
                                                              CORSConfiguration=CORS))
    setup(f"{name}: PutBucketTagging", lambda: s.put_bucket_tagging(Bucket=name, Tagging=TAGS))
    for key in ("obj", "src"):
        written = setup(f"{name}: PutObject {key} with the mode's ACL", lambda: s.put_object(
            Bucket=name, Key=key, Body=b"matrix", **object_acl(mode)))
        if written is None:  # still an object for the cells, with its failure on record
            owner_put(name, key)
    if mode in ("acl", "pab"):
        setup(f"{name}: PutBucketAcl", lambda: s.put_bucket_acl(Bucket=name, **bucket_acl(mode)))
    policy = mode_policy(name, mode)
    if policy:
        setup(f"{name}: PutBucketPolicy", lambda: s.put_bucket_policy(Bucket=name, Policy=policy))
    if mode == "pab":
        setup(f"{name}: PutPublicAccessBlock", lambda: s.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=ALL_BLOCKED))


def new_upload(name, key):
    """An upload the owner starts (the requester is not its initiator)."""
    answer = setup(f"{name}: CreateMultipartUpload {key}",
                   lambda: owner.create_multipart_upload(Bucket=name, Key=key))
    return answer["UploadId"] if answer else "no-upload"


def owner_put(name, key):
    setup(f"{name}: PutObject {key}", lambda: owner.put_object(Bucket=name, Key=key, Body=b"x"))


def complete(c, name, who):
    key = f"done-{who}"
    upload = new_upload(name, key)
    part = setup(f"{name}: UploadPart {key}", lambda: owner.upload_part(
        Bucket=name, Key=key, UploadId=upload, PartNumber=1, Body=b"one part"))
    etag = part["ETag"] if part else '"none"'
    return c.complete_multipart_upload(
        Bucket=name, Key=key, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})


def delete_objects(c, name, who):
    key = f"dels-{who}"
    owner_put(name, key)
    answer = c.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key}]})
    errors = answer.get("Errors") or []
    return f"200 per-key {errors[0]['Code']}" if errors else None


def delete_object(c, name, who):
    owner_put(name, f"del-{who}")
    return c.delete_object(Bucket=name, Key=f"del-{who}")


# Each cell: (client, bucket, requester) -> the call's answer; reads before writes, the ACL
# and policy writes last (a wrong answer there could change the bucket for later cells).
CALLS = {
    "ListObjects": lambda c, b, w: c.list_objects(Bucket=b),
    "ListObjectsV2": lambda c, b, w: c.list_objects_v2(Bucket=b),
    "ListObjectVersions": lambda c, b, w: c.list_object_versions(Bucket=b),
    "HeadBucket": lambda c, b, w: c.head_bucket(Bucket=b),
    "GetBucketLocation": lambda c, b, w: c.get_bucket_location(Bucket=b),
    "GetBucketAcl": lambda c, b, w: c.get_bucket_acl(Bucket=b),
    "GetBucketPolicy": lambda c, b, w: c.get_bucket_policy(Bucket=b),
    "GetBucketCors": lambda c, b, w: c.get_bucket_cors(Bucket=b),
    "GetBucketTagging": lambda c, b, w: c.get_bucket_tagging(Bucket=b),
    "ListMultipartUploads": lambda c, b, w: c.list_multipart_uploads(Bucket=b),
    "GetPublicAccessBlock": lambda c, b, w: c.get_public_access_block(Bucket=b),
    "GetBucketPolicyStatus": lambda c, b, w: c.get_bucket_policy_status(Bucket=b),
    "GetObject": lambda c, b, w: c.get_object(Bucket=b, Key="obj")["Body"].read(),
    "HeadObject": lambda c, b, w: c.head_object(Bucket=b, Key="obj"),
    "GetMissingObject": lambda c, b, w: c.get_object(Bucket=b, Key="missing"),
    "GetObjectAcl": lambda c, b, w: c.get_object_acl(Bucket=b, Key="obj"),
    "GetObjectTagging": lambda c, b, w: c.get_object_tagging(Bucket=b, Key="obj"),
    "GetObjectAttributes": lambda c, b, w: c.get_object_attributes(
        Bucket=b, Key="obj", ObjectAttributes=["ETag", "ObjectSize"]),
    "ListParts": lambda c, b, w: c.list_parts(Bucket=b, Key="parts",
                                              UploadId=new_upload(b, "parts")),
    "PutObject": lambda c, b, w: c.put_object(Bucket=b, Key=f"put-{w}", Body=b"x"),
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": lambda c, b, w: c.copy_object(Bucket=b, Key=f"copy-{w}",
                                                CopySource={"Bucket": b, "Key": "src"}),
    "PutObjectTagging": lambda c, b, w: c.put_object_tagging(Bucket=b, Key="obj", Tagging=TAGS),
    "DeleteObjectTagging": lambda c, b, w: c.delete_object_tagging(Bucket=b, Key="obj"),
    "CreateMultipartUpload": lambda c, b, w: c.create_multipart_upload(Bucket=b,
                                                                       Key=f"mpu-{w}"),
    "UploadPart": lambda c, b, w: c.upload_part(Bucket=b, Key="up", PartNumber=1, Body=b"p",
                                                UploadId=new_upload(b, "up")),
    "CompleteMultipartUpload": complete,
    "AbortMultipartUpload": lambda c, b, w: c.abort_multipart_upload(
        Bucket=b, Key="abort", UploadId=new_upload(b, "abort")),
    "PutBucketCors": lambda c, b, w: c.put_bucket_cors(Bucket=b, CORSConfiguration=CORS),
    "PutBucketTagging": lambda c, b, w: c.put_bucket_tagging(Bucket=b, Tagging=TAGS),
    "PutBucketAcl": lambda c, b, w: c.put_bucket_acl(Bucket=b, **bucket_acl(MODE_OF[b])),
    "PutObjectAcl": lambda c, b, w: c.put_object_acl(
        Bucket=b, Key="obj", **(object_acl(MODE_OF[b]) or {"ACL": "private"})),
    "PutBucketPolicy": lambda c, b, w: c.put_bucket_policy(
        Bucket=b, Policy=mode_policy(b, MODE_OF[b]) or not_public_policy(b)),
    "DeleteBucketPolicy": lambda c, b, w: c.delete_bucket_policy(Bucket=b),
    "DeleteBucket": lambda c, b, w: c.delete_bucket(Bucket=b),
}
assert set(CALLS) == set(NEEDS), "every action has a call"
ACTIONS = [a for a in CALLS if a != "DeleteBucket"]
MODE_OF = {}
SHORT = {"none": "none", "acl": "acl", "policy-allow": "allow", "policy-deny": "deny",
         "pab": "pab"}


def answer_of(action, call):
    """The cell's answer in the form of `expected()`."""
    try:
        special = call()
        return special if isinstance(special, str) else "2xx"
    except botocore.exceptions.ClientError as e:
        code, status = error_of(e)
        return str(status) if action in HEAD or code == str(status) else f"{status} {code}"
    except botocore.exceptions.BotoCoreError as e:
        return f"client: {type(e).__name__}"


def run_matrix():
    """Runs every cell; the differing ones as (action, who, mode, expected, got), and the
    number of cells."""
    rows, cells = [], []

    def cell(action, who, mode, name):
        cells.append(action)
        got = answer_of(action, lambda: CALLS[action](CLIENTS[who], name, who))
        want = expected(action, who, mode)
        if got != want:
            rows.append((action, who, mode, want, got))

    for mode in MODES:
        for who in WHO:
            name = f"{BASE}-{SHORT[mode]}-{who[:3]}"
            MODE_OF[name] = mode
            set_up(name, mode)
            for action in ACTIONS:
                cell(action, who, mode, name)
    # DeleteBucket, one empty private bucket per requester.
    for who in WHO:
        name = f"{BASE}-drop-{who[:3]}"
        setup(f"{name}: CreateBucket", lambda: owner.create_bucket(Bucket=name))
        cell("DeleteBucket", who, "none", name)
    # An explicit Deny binds the owner too, but for the bucket policy operations.
    name = f"{BASE}-denyall"
    MODE_OF[name] = "deny-all"
    setup(f"{name}: CreateBucket", lambda: owner.create_bucket(Bucket=name))
    owner_put(name, "obj")
    deny_all = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}]})
    setup(f"{name}: PutBucketPolicy",
          lambda: owner.put_bucket_policy(Bucket=name, Policy=deny_all))
    for action in ("GetObject", "ListObjects", "PutObject", "GetBucketPolicy",
                   "DeleteBucketPolicy"):
        cell(action, "owner", "deny-all", name)
    return rows, len(cells)


def print_report(rows, cells):
    for what, status, code in setup_failures:
        print(f"setup failed: {what}: {status} {code}")
    widths = [max([len(str(r[i])) for r in rows] + [len(h)])
              for i, h in enumerate(["action", "who", "mode", "expected", "got"])]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    if rows:
        print(line.format("action", "who", "mode", "expected", "got"))
        for r in rows:
            print(line.format(*r))
    counts = {}
    for _, who, mode, _, _ in rows:
        counts[(mode, who)] = counts.get((mode, who), 0) + 1
    summary = {f"{mode}/{who}": n for (mode, who), n in sorted(counts.items())}
    print(f"{len(rows)} of {cells} cells differ from AWS's model; "
          f"{len(setup_failures)} setup steps failed; per mode/requester: {json.dumps(summary)}")
    table = os.environ.get("ACCESS_MATRIX_TABLE")
    if table:
        with open(table, "w") as f:
            json.dump({"mismatches": rows, "cells": cells, "setup_failures": setup_failures}, f)


# ---------------------------------------------------------------------------------------------
# The small cases.

def read(call):
    """The answer of a call, or [code, status] when it is refused."""
    try:
        return call()
    except botocore.exceptions.ClientError as e:
        return error_of(e)


def policy_status():
    """GetBucketPolicyStatus: IsPublic for a policy with Principal "*", not for one naming a
    user."""
    name = f"{BASE}-status"
    owner.create_bucket(Bucket=name)
    out = {}
    for case, policy in (("public", json.dumps(public_policy(name))),
                         ("named", owner_only_policy(name))):
        out[f"{case}_put"] = outcome(lambda: owner.put_bucket_policy(Bucket=name, Policy=policy))
        out[case] = read(lambda: owner.get_bucket_policy_status(Bucket=name)["PolicyStatus"])
    return out


def listed_owners(name):
    """{listing: {key: owner ID}} as the bucket owner's three object listings show them."""
    def owners(entries):
        return {e["Key"]: e["Owner"]["ID"] for e in entries}
    return {
        "v1": read(lambda: owners(owner.list_objects(Bucket=name)["Contents"])),
        "v2": read(lambda: owners(
            owner.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"])),
        "versions": read(lambda: owners(owner.list_object_versions(Bucket=name)["Versions"])),
    }


def ownership():
    """Who owns an object another user writes: the writer under ObjectWriter (bucket WRITE
    granted by ACL), the bucket owner under BucketOwnerEnforced (where ACLs are off, so the
    right to write comes from a policy)."""
    out = {"owner_id": OWNER_ID, "other_id": OTHER_ID}
    writer = f"{BASE}-writer"
    owner.create_bucket(Bucket=writer)
    out["writer_grant"] = outcome(lambda: owner.put_bucket_acl(
        Bucket=writer, GrantFullControl=f'id="{OWNER_ID}"', GrantWrite=f'id="{OTHER_ID}"'))
    out["writer_put"] = outcome(lambda: other.put_object(Bucket=writer, Key="k", Body=b"x"))
    out["writer_owner"] = read(
        lambda: other.get_object_acl(Bucket=writer, Key="k")["Owner"]["ID"])
    owner.put_object(Bucket=writer, Key="mine", Body=b"x")
    out["writer_upload"] = outcome(
        lambda: other.create_multipart_upload(Bucket=writer, Key="parts"))
    # Listings name each object's own owner, and each upload's initiator (ListObjects,
    # ListObjectsV2 with FetchOwner, ListObjectVersions, ListMultipartUploads).
    out["writer_listed"] = listed_owners(writer)
    out["writer_initiators"] = read(lambda: [
        u["Initiator"]["ID"] for u in owner.list_multipart_uploads(Bucket=writer)["Uploads"]])
    # BucketOwnerEnforced gives the bucket owner every object, those written before too (the
    # bucket's grant must go first: InvalidBucketAclWithObjectOwnership).
    owner.put_bucket_acl(Bucket=writer, ACL="private")
    owner.put_bucket_ownership_controls(
        Bucket=writer,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    out["enforced_listed"] = listed_owners(writer)
    enforced = f"{BASE}-enforced"
    owner.create_bucket(Bucket=enforced)
    out["controls"] = outcome(lambda: owner.put_bucket_ownership_controls(
        Bucket=enforced,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}))
    out["enforced_policy"] = outcome(lambda: owner.put_bucket_policy(
        Bucket=enforced, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": OTHER_ARN}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{enforced}/*"}]})))
    out["enforced_put"] = outcome(lambda: other.put_object(Bucket=enforced, Key="k", Body=b"x"))
    out["enforced_owner"] = read(
        lambda: owner.get_object_acl(Bucket=enforced, Key="k")["Owner"]["ID"])
    return out


def block_public_acls():
    """BlockPublicAcls refuses a public bucket ACL and a PUT with a public object ACL."""
    name = f"{BASE}-bpa"
    owner.create_bucket(Bucket=name)
    return {
        "block": outcome(lambda: owner.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": False,
                "BlockPublicPolicy": False, "RestrictPublicBuckets": False})),
        "bucket_acl": outcome(lambda: owner.put_bucket_acl(Bucket=name, ACL="public-read")),
        "object_acl": outcome(lambda: owner.put_object(Bucket=name, Key="k", Body=b"x",
                                                       ACL="public-read")),
        "private_acl": outcome(lambda: owner.put_bucket_acl(Bucket=name, ACL="private")),
    }


def malformed_policy():
    """PutBucketPolicy: a document that is not JSON, one naming another bucket."""
    name = f"{BASE}-malformed"
    owner.create_bucket(Bucket=name)
    other_bucket = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::not-this-bucket/*"}]})
    return {
        "not_json": outcome(lambda: owner.put_bucket_policy(Bucket=name, Policy="{not json")),
        "other_bucket": outcome(lambda: owner.put_bucket_policy(Bucket=name,
                                                                Policy=other_bucket)),
        "stored": outcome(lambda: owner.get_bucket_policy(Bucket=name)),
    }


CASES = {"policy-status": policy_status, "ownership": ownership,
         "block-public-acls": block_public_acls, "malformed-policy": malformed_policy}

case = os.environ["ACCESS_CASE"]
if case == "matrix":
    mismatches, total = run_matrix()
    print_report(mismatches, total)
    print(json.dumps({"mismatches": len(mismatches), "cells": total,
                      "setup_failures": len(setup_failures)}))
    sys.exit(1 if mismatches or setup_failures else 0)
print(json.dumps(CASES[case]()))
