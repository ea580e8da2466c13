"""boto3 against libres3: a bucket's default encryption (Put/Get/DeleteBucketEncryption) and
what objects written without encryption headers get from it. KMS_KEY_ID names a key made with
`libres3 kms create-key`. Prints one JSON document for tests/it/s3_sse.rs."""
import json
import os

import botocore
from s3test import bucket, client

s3 = client()
FIELDS = ["ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled"]


def sse_of(answer):
    return {f: answer.get(f) for f in FIELDS}


def outcome(call):
    """[error code, HTTP status] of a call, or ["no error", HTTP status, answer]."""
    try:
        answer = call()
        status = answer.pop("ResponseMetadata")["HTTPStatusCode"]
        return ["no error", status, answer]
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]


def get_config():
    return outcome(lambda: s3.get_bucket_encryption(Bucket=bucket))


def put_config(rule):
    return outcome(lambda: s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}))


def put_plain(key):
    """An object written without any encryption header: what PUT and HEAD say about it."""
    try:
        put = s3.put_object(Bucket=bucket, Key=key, Body=b"no encryption header")
        return {"put": sse_of(put), "head": sse_of(s3.head_object(Bucket=bucket, Key=key)),
                "body": s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()}
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]


s3.create_bucket(Bucket=bucket)
out = {"fresh": get_config()}
out["put_aes256"] = put_config({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}})
out["get_aes256"] = get_config()
out["object_aes256"] = put_plain("under-aes256")
kms_rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": os.environ["KMS_KEY_ID"]},
            "BucketKeyEnabled": True}
out["put_kms"] = put_config(kms_rule)
out["get_kms"] = get_config()
out["object_kms"] = put_plain("under-kms")
# An object written before keeps its encryption.
out["earlier_object"] = sse_of(s3.head_object(Bucket=bucket, Key="under-aes256"))
try:
    deleted = s3.delete_bucket_encryption(Bucket=bucket)
    out["delete"] = deleted["ResponseMetadata"]["HTTPStatusCode"]
except botocore.exceptions.ClientError as e:
    out["delete"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
out["after_delete"] = get_config()
out["object_after_delete"] = put_plain("after-delete")
print(json.dumps(out))
