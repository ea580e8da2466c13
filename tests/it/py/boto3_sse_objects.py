"""boto3 against libres3: single-PUT objects written with SSE-S3 or SSE-KMS (the cases in
SSE_CASES, JSON), then HEAD, GET (whole and ranges across 64 KiB chunk boundaries) and
ListObjectsV2. Prints one JSON document per case for the Rust test (tests/it/s3_sse.rs)."""
import json
import os
import random

import botocore
from s3test import bucket, client, md5

KIB, MIB = 1024, 1024 * 1024
s3 = client()
SSE_FIELDS = ["ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled"]


def sse_of(answer):
    return {f: answer.get(f) for f in SSE_FIELDS}


def failure(e):
    return {"error": e.response["Error"]["Code"],
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}


data = random.Random(19).randbytes(3 * MIB)
# First byte, last byte, across the first 64 KiB chunk boundary, the middle MiB.
ranges = [(0, 0), (len(data) - 1, len(data) - 1), (64 * KIB - 1, 64 * KIB + 1),
          (MIB, 2 * MIB - 1)]

s3.create_bucket(Bucket=bucket)
out = {"data_md5": md5(data), "size": len(data),
       "ranges_expected": {f"{a}-{b}": md5(data[a:b + 1]) for a, b in ranges}}
for case in json.loads(os.environ["SSE_CASES"]):
    key, args = case["key"], dict(case["args"])
    # A key named by the ARN another case's answer gave.
    if "key_arn_of" in case:
        args["SSEKMSKeyId"] = out[case["key_arn_of"]]["put"]["SSEKMSKeyId"]
    r = {"sent": args}
    out[key] = r
    try:
        put = s3.put_object(Bucket=bucket, Key=key, Body=data, **args)
    except botocore.exceptions.ClientError as e:
        r["put"] = failure(e)
        continue
    r["put"] = sse_of(put)
    r["etag"] = put["ETag"].strip('"')
    r["head"] = sse_of(s3.head_object(Bucket=bucket, Key=key))
    got = s3.get_object(Bucket=bucket, Key=key)
    r["get"] = sse_of(got)
    r["get_md5"] = md5(got["Body"].read())
    r["ranges"] = {}
    for a, b in ranges:
        part = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={a}-{b}")
        r["ranges"][f"{a}-{b}"] = md5(part["Body"].read())
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
    r["listed"] = [[o["Key"], o["Size"], o["ETag"].strip('"')] for o in listed]
print(json.dumps(out))
