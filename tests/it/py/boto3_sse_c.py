"""boto3 against libres3: an object written with a customer-provided key (SSE-C), read back
with it, without it and with another key; a plain object read with a key; malformed SSE-C
headers. Prints one JSON document for the Rust test (tests/it/s3_sse.rs)."""
import base64
import hashlib
import json
import os
import random

import botocore
from s3test import bucket, client, md5, outcome

s3 = client()
key_a, key_b = bytes.fromhex(os.environ["SSE_C_KEY"]), bytes(range(32))
with_a = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_a}
with_b = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_b}
SSE_C_FIELDS = ["SSECustomerAlgorithm", "SSECustomerKeyMD5", "ServerSideEncryption"]


def b64(raw):
    return base64.b64encode(raw).decode()


def sse_of(answer):
    return {f: answer.get(f) for f in SSE_C_FIELDS}


data = random.Random(3).randbytes(200_000)
s3.create_bucket(Bucket=bucket)
out = {"data_md5": md5(data), "key_a_md5": b64(hashlib.md5(key_a).digest()),
       "range_expected": md5(data[65_000:70_001])}
try:
    put = s3.put_object(Bucket=bucket, Key="sse-c", Body=data, **with_a)
except botocore.exceptions.ClientError as e:
    # Nothing else can be checked: say why for the Rust side's assertion.
    out["put"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
    print(json.dumps(out))
    raise SystemExit(0)
out["put"] = sse_of(put)
head = s3.head_object(Bucket=bucket, Key="sse-c", **with_a)
out["head"] = sse_of(head)
got = s3.get_object(Bucket=bucket, Key="sse-c", **with_a)
out["get"] = sse_of(got)
out["get_md5"] = md5(got["Body"].read())
part = s3.get_object(Bucket=bucket, Key="sse-c", Range="bytes=65000-70000", **with_a)
out["range_md5"] = md5(part["Body"].read())

out["get_without_key"] = outcome(lambda: s3.get_object(Bucket=bucket, Key="sse-c"))
out["get_other_key"] = outcome(lambda: s3.get_object(Bucket=bucket, Key="sse-c", **with_b))
out["head_without_key"] = outcome(lambda: s3.head_object(Bucket=bucket, Key="sse-c"))[1]
out["head_other_key"] = outcome(lambda: s3.head_object(Bucket=bucket, Key="sse-c", **with_b))[1]

s3.put_object(Bucket=bucket, Key="plain", Body=b"a plain object")
out["plain_with_key"] = outcome(lambda: s3.get_object(Bucket=bucket, Key="plain", **with_a))

# Malformed SSE-C headers, each refused before anything is stored.
malformed = {
    "algorithm_only": {"SSECustomerAlgorithm": "AES256"},
    "key_only": {"SSECustomerKey": key_a},
    # botocore leaves the key as given when the MD5 is given too: both are sent as is.
    "wrong_key_md5": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b64(key_a),
                      "SSECustomerKeyMD5": b64(hashlib.md5(key_b).digest())},
    "short_key": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_a[:16]},
}
out["malformed"] = {}
for name, args in malformed.items():
    out["malformed"][name] = outcome(
        lambda: s3.put_object(Bucket=bucket, Key="malformed-" + name, Body=b"x", **args))
    out["malformed"][name + "_stored"] = outcome(
        lambda: s3.head_object(Bucket=bucket, Key="malformed-" + name))[1]

# What HEAD answers, every header and the user metadata: the key must be in none of them.
out["head_headers"] = head["ResponseMetadata"]["HTTPHeaders"]
out["head_metadata"] = head.get("Metadata", {})
out["key_b64"] = b64(key_a)
print(json.dumps(out))
