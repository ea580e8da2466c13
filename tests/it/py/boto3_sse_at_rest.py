"""boto3 against libres3: objects holding MARKER many times, written with SSE-S3, SSE-KMS and
SSE-C by a single PUT, a multipart upload and a copy, plus one plain object holding
CONTROL_MARKER; all read back. The Rust test (tests/it/s3_sse.rs) then scans the storage."""
import json
import os
import random

import botocore
from s3test import bucket, client, md5

KIB, MIB = 1024, 1024 * 1024
s3 = client()
key_c = bytes.fromhex(os.environ["SSE_C_KEY"])
with_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_c}
source_c = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key_c}
MODES = {
    "sse-s3": ({"ServerSideEncryption": "AES256"}, {}, {}),
    "sse-kms": ({"ServerSideEncryption": "aws:kms"}, {}, {}),
    # (how to write, how to send a part or read, how to name the copy source's key)
    "sse-c": (with_c, with_c, source_c),
}


def marked(marker, size, seed):
    """Random bytes with the marker every 4 KiB (never across a 4 KiB boundary, so never
    across an SX block)."""
    data = bytearray(random.Random(seed).randbytes(size))
    for at in range(100, size - len(marker), 4 * KIB):
        data[at:at + len(marker)] = marker
    return bytes(data)


marker = os.environ["MARKER"].encode()
single = marked(marker, MIB + 5, 1)
first, tail = marked(marker, 5 * MIB, 2), marked(marker, 64 * KIB, 3)
s3.create_bucket(Bucket=bucket)
control = marked(os.environ["CONTROL_MARKER"].encode(), 64 * KIB, 4)
s3.put_object(Bucket=bucket, Key="control", Body=control)
out = {"expected": {"single": md5(single), "multi": md5(first + tail), "copy": md5(single)},
       "control": md5(s3.get_object(Bucket=bucket, Key="control")["Body"].read()) == md5(control)}
for mode, (write, send, copy_source) in MODES.items():
    r = {}
    out[mode] = r
    try:
        s3.put_object(Bucket=bucket, Key=mode + "/single", Body=single, **write)
        upload = s3.create_multipart_upload(Bucket=bucket, Key=mode + "/multi",
                                            **write)["UploadId"]
        parts = []
        for number, body in [(1, first), (2, tail)]:
            sent = s3.upload_part(Bucket=bucket, Key=mode + "/multi", UploadId=upload,
                                  PartNumber=number, Body=body, **send)
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key=mode + "/multi", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
        s3.copy_object(Bucket=bucket, Key=mode + "/copy",
                       CopySource={"Bucket": bucket, "Key": mode + "/single"},
                       **copy_source, **write)
    except botocore.exceptions.ClientError as e:
        r["error"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
        continue
    for name in ["single", "multi", "copy"]:
        got = s3.get_object(Bucket=bucket, Key=f"{mode}/{name}", **send)
        r[name] = md5(got["Body"].read())
print(json.dumps(out))
