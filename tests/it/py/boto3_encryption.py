"""boto3 against libres3 (used with and without encryption at rest): an inline-sized object,
a multi-block one, a multipart upload whose last part is an UploadPartCopy, a copy, then
whole and ranged reads. Prints one JSON document of MD5s for the Rust test."""
import hashlib
import json
import os

import boto3
from botocore.config import Config

bucket = os.environ["S3_BUCKET"]
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}),
)


def content(name):
    with open(os.environ[name], "rb") as f:
        return f.read()


small, big, part1 = content("SMALL_FILE"), content("BIG_FILE"), content("PART1_FILE")

s3.create_bucket(Bucket=bucket)
# What each write answers in x-amz-server-side-encryption (None when absent).
sse = {}
sse["PutObject"] = s3.put_object(Bucket=bucket, Key="small", Body=small)
s3.put_object(Bucket=bucket, Key="big", Body=big)

created = s3.create_multipart_upload(Bucket=bucket, Key="multi")
sse["CreateMultipartUpload"] = created
upload = created["UploadId"]
p1 = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=1, Body=part1)
p2 = s3.upload_part_copy(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=2,
                         CopySource={"Bucket": bucket, "Key": "small"})
sse["UploadPart"], sse["UploadPartCopy"] = p1, p2
sse["CompleteMultipartUpload"] = s3.complete_multipart_upload(
    Bucket=bucket, Key="multi", UploadId=upload,
    MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
    ]})
sse["CopyObject"] = s3.copy_object(Bucket=bucket, Key="small-copy",
                                   CopySource={"Bucket": bucket, "Key": "small"})
sse["HeadObject"] = s3.head_object(Bucket=bucket, Key="multi")
sse = {op: answer.get("ServerSideEncryption") for op, answer in sse.items()}


def md5(key, byte_range=None):
    extra = {"Range": byte_range} if byte_range else {}
    body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
    return hashlib.md5(body).hexdigest()


out = {"whole": {}, "ranges": {}, "sse": sse}
for key in ["small", "big", "multi", "small-copy"]:
    out["whole"][key] = md5(key)
for key, byte_range in json.loads(os.environ["RANGES"]):
    out["ranges"][key + " " + byte_range] = md5(key, byte_range)
print(json.dumps(out))
