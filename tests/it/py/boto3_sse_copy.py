"""boto3 against libres3: CopyObject between encryption modes (plain, SSE-S3, SSE-KMS, SSE-C
with another key), a copy onto itself that only changes the encryption, and UploadPartCopy from
an SSE-C source into an SSE-KMS upload. Prints one JSON document for tests/it/s3_sse.rs."""
import json
import os
import random

import botocore
from s3test import bucket, client, md5, outcome

s3 = client()
key_a, key_b = bytes.fromhex(os.environ["SSE_C_KEY"]), bytes(range(32))
with_a = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_a}
with_b = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_b}
source_a = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key_a}
FIELDS = ["ServerSideEncryption", "SSEKMSKeyId", "SSECustomerAlgorithm", "SSECustomerKeyMD5"]


def sse_of(answer):
    return {f: answer.get(f) for f in FIELDS}


def source(key):
    return {"Bucket": bucket, "Key": key}


data = random.Random(5).randbytes(300_000)
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="plain", Body=data)
out = {"data_md5": md5(data), "copies": {}}
# (destination, source, arguments, arguments to read the destination)
chain = [
    ("to-sse-s3", "plain", {"ServerSideEncryption": "AES256"}, {}),
    ("to-sse-kms", "to-sse-s3", {"ServerSideEncryption": "aws:kms"}, {}),
    ("to-plain", "to-sse-kms", {}, {}),
    ("sse-c-a", "plain", with_a, with_a),
    ("sse-c-b", "sse-c-a", {**source_a, **with_b}, with_b),
]
for dest, src, args, read_args in chain:
    r = {}
    out["copies"][dest] = r
    try:
        copied = s3.copy_object(Bucket=bucket, Key=dest, CopySource=source(src), **args)
    except botocore.exceptions.ClientError as e:
        r["copy"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
        continue
    r["copy"] = sse_of(copied)
    r["etag"] = copied["CopyObjectResult"]["ETag"].strip('"')
    r["head"] = sse_of(s3.head_object(Bucket=bucket, Key=dest, **read_args))
    r["md5"] = md5(s3.get_object(Bucket=bucket, Key=dest, **read_args)["Body"].read())

# An SSE-C source needs its key in the x-amz-copy-source-server-side-encryption-customer-*.
out["sse_c_source_without_key"] = outcome(lambda: s3.copy_object(
    Bucket=bucket, Key="no-source-key", CopySource=source("sse-c-a"),
    ServerSideEncryption="AES256"))
out["sse_c_source_other_key"] = outcome(lambda: s3.copy_object(
    Bucket=bucket, Key="no-source-key", CopySource=source("sse-c-a"),
    CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key_b))

# A copy onto itself is allowed when it changes the encryption.
s3.put_object(Bucket=bucket, Key="self", Body=data)
out["self"] = {"copy": outcome(lambda: s3.copy_object(
    Bucket=bucket, Key="self", CopySource=source("self"), ServerSideEncryption="aws:kms"))}
out["self"]["head"] = sse_of(s3.head_object(Bucket=bucket, Key="self"))
out["self"]["md5"] = md5(s3.get_object(Bucket=bucket, Key="self")["Body"].read())

# UploadPartCopy of an SSE-C object into an SSE-KMS upload (its only, so last, part).
r = {}
try:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp-kms",
                                        ServerSideEncryption="aws:kms")["UploadId"]
    r["without_source_key"] = outcome(lambda: s3.upload_part_copy(
        Bucket=bucket, Key="mp-kms", UploadId=upload, PartNumber=1,
        CopySource=source("sse-c-a")))
    part = s3.upload_part_copy(Bucket=bucket, Key="mp-kms", UploadId=upload, PartNumber=1,
                               CopySource=source("sse-c-a"), **source_a)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp-kms", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1,
                                    "ETag": part["CopyPartResult"]["ETag"]}]})
    r["completed"] = sse_of(done)
    r["head"] = sse_of(s3.head_object(Bucket=bucket, Key="mp-kms"))
    r["md5"] = md5(s3.get_object(Bucket=bucket, Key="mp-kms")["Body"].read())
except botocore.exceptions.ClientError as e:
    r["copy"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
out["upload_part_copy"] = r
print(json.dumps(out))
