"""boto3 against libres3: multipart uploads created with SSE-S3, SSE-KMS and SSE-C (a 5 MiB
part and a tail), the SSE-C parts sent without the key and with another; ListParts, completion,
whole, ranged and PartNumber reads. Prints one JSON document for tests/it/s3_sse.rs."""
import json
import os
import random

import botocore
from s3test import bucket, client, md5, outcome

MIB = 1024 * 1024
s3 = client()
key_a = bytes.fromhex(os.environ["SSE_C_KEY"])
with_a = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_a}
with_b = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": bytes(range(32))}
FIELDS = ["ServerSideEncryption", "SSEKMSKeyId", "SSECustomerAlgorithm", "SSECustomerKeyMD5"]
MODES = {
    "sse-s3": ({"ServerSideEncryption": "AES256"}, {}),
    "sse-kms": ({"ServerSideEncryption": "aws:kms"}, {}),
    # SSE-C: the key goes with the creation, every part and every read.
    "sse-c": (with_a, with_a),
}


def sse_of(answer):
    return {f: answer.get(f) for f in FIELDS}


first = random.Random(41).randbytes(5 * MIB)
tail = random.Random(42).randbytes(100_003)
whole = first + tail
boundary = (5 * MIB - 10, 5 * MIB + 9)
s3.create_bucket(Bucket=bucket)
out = {"expected": {"whole": md5(whole), "boundary": md5(whole[boundary[0]:boundary[1] + 1]),
                    "part2": md5(tail), "sizes": [len(first), len(tail)]}}
for mode, (create_args, read_args) in MODES.items():
    r = {}
    out[mode] = r
    key = "multi-" + mode
    try:
        created = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)
    except botocore.exceptions.ClientError as e:
        # Nothing else can be checked: say why for the Rust side's assertion.
        r["created"] = [e.response["Error"]["Code"],
                        e.response["ResponseMetadata"]["HTTPStatusCode"]]
        continue
    r["created"] = sse_of(created)
    upload = created["UploadId"]
    if mode == "sse-c":
        r["part_without_key"] = outcome(lambda: s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=first))
        r["part_other_key"] = outcome(lambda: s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=first, **with_b))
    parts = []
    r["uploaded"] = []
    for number, body in [(1, first), (2, tail)]:
        sent = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                              Body=body, **read_args)
        r["uploaded"].append(sse_of(sent))
        parts.append({"PartNumber": number, "ETag": sent["ETag"]})
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)
    r["listed_sizes"] = [p["Size"] for p in listed["Parts"]]
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    r["completed"] = sse_of(done)
    r["head"] = sse_of(s3.head_object(Bucket=bucket, Key=key, **read_args))
    r["whole"] = md5(s3.get_object(Bucket=bucket, Key=key, **read_args)["Body"].read())
    r["boundary"] = md5(s3.get_object(Bucket=bucket, Key=key,
                                      Range=f"bytes={boundary[0]}-{boundary[1]}",
                                      **read_args)["Body"].read())
    second = s3.get_object(Bucket=bucket, Key=key, PartNumber=2, **read_args)
    r["part2"] = [md5(second["Body"].read()), second.get("PartsCount")]
    r["listed_size"] = s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"][0]["Size"]
    if mode == "sse-c":
        r["get_without_key"] = outcome(lambda: s3.get_object(Bucket=bucket, Key=key))
print(json.dumps(out))
