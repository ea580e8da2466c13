"""boto3 against libres3: stored flexible checksums (x-amz-checksum-mode) and
GetObjectAttributes. Prints one JSON document for the Rust test."""
import json
import os

import boto3
import botocore
from botocore.config import Config

MIB = 1024 * 1024
bucket = os.environ["S3_BUCKET"]
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}),
)
out = {}
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]

s3.create_bucket(Bucket=bucket)
body = b"checksummed body\n" * 64
put = s3.put_object(Bucket=bucket, Key="sha", Body=body, ChecksumAlgorithm="SHA256")
out["put_sha256"] = put.get("ChecksumSHA256")
head = s3.head_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")
out["head_sha256"] = head.get("ChecksumSHA256")
plain_head = s3.head_object(Bucket=bucket, Key="sha")
out["head_without_mode"] = plain_head.get("ChecksumSHA256")
got = s3.get_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")
out["get_sha256"] = got.get("ChecksumSHA256")
out["get_body_ok"] = got["Body"].read() == body
ranged = s3.get_object(Bucket=bucket, Key="sha", Range="bytes=0-9", ChecksumMode="ENABLED")
out["ranged_sha256"] = ranged.get("ChecksumSHA256")

attrs = s3.get_object_attributes(Bucket=bucket, Key="sha", ObjectAttributes=ALL)
out["attrs"] = {k: v for k, v in attrs.items() if k in ALL}

s3.copy_object(Bucket=bucket, Key="sha-copy", CopySource={"Bucket": bucket, "Key": "sha"})
copied = s3.head_object(Bucket=bucket, Key="sha-copy", ChecksumMode="ENABLED")
out["copy_sha256"] = copied.get("ChecksumSHA256")

upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
parts = []
for number, data in enumerate([b"a" * (5 * MIB), b"b" * 1000], start=1):
    etag = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload,
                          PartNumber=number, Body=data)["ETag"]
    parts.append({"PartNumber": number, "ETag": etag})
s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload,
                             MultipartUpload={"Parts": parts})
multi = s3.get_object_attributes(Bucket=bucket, Key="multi",
                                 ObjectAttributes=["ObjectParts", "ObjectSize", "ETag"])
out["multi"] = {k: v for k, v in multi.items() if k in ALL}

# Sent without any checksum (botocore told to add none): S3 adds its default, CRC64NVME.
plain = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}, request_checksum_calculation="when_required"),
)
put = plain.put_object(Bucket=bucket, Key="default", Body=b"123456789")
out["default_put"] = put.get("ChecksumCRC64NVME")
head = s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
out["default_head"] = [head.get("ChecksumCRC64NVME"), head.get("ChecksumType")]

try:
    s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=["ETag"])
    out["missing"] = "no error"
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]

print(json.dumps(out))
