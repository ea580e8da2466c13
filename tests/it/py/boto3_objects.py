"""boto3 against libres3: presigned URLs, upload_fileobj with multipart,
download, metadata and ranges. Prints one JSON document for the Rust test."""
import hashlib
import io
import json
import os

import boto3
from boto3.s3.transfer import TransferConfig
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

s3.create_bucket(Bucket=bucket)
small = b"hello from boto3\n" * 100
s3.put_object(Bucket=bucket, Key="small/obj.txt", Body=small,
              ContentType="text/plain", Metadata={"color": "green"})
head = s3.head_object(Bucket=bucket, Key="small/obj.txt")
out["small_etag"] = head["ETag"]
out["small_md5"] = hashlib.md5(small).hexdigest()
out["small_meta"] = head["Metadata"]
out["small_type"] = head["ContentType"]
rng = s3.get_object(Bucket=bucket, Key="small/obj.txt", Range="bytes=6-10")
out["range"] = rng["Body"].read().decode()
out["range_header"] = rng["ContentRange"]

out["presigned_get"] = s3.generate_presigned_url(
    "get_object", Params={"Bucket": bucket, "Key": "small/obj.txt"}, ExpiresIn=300)
out["presigned_put"] = s3.generate_presigned_url(
    "put_object", Params={"Bucket": bucket, "Key": "presigned/put.bin"}, ExpiresIn=300)

# upload_fileobj of the big file with a small multipart threshold.
big_path = os.environ["BIG_FILE"]
cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                     max_concurrency=2)
with open(big_path, "rb") as f:
    s3.upload_fileobj(f, bucket, "big/upload.bin", Config=cfg)
head = s3.head_object(Bucket=bucket, Key="big/upload.bin")
out["big_etag"] = head["ETag"]
out["big_len"] = head["ContentLength"]
buf = io.BytesIO()
s3.download_fileobj(bucket, "big/upload.bin", buf, Config=cfg)
out["big_download_md5"] = hashlib.md5(buf.getvalue()).hexdigest()

# Errors surface with their S3 codes.
try:
    s3.get_object(Bucket=bucket, Key="does/not/exist")
    out["missing"] = "no error"
except s3.exceptions.NoSuchKey as e:
    out["missing"] = e.response["Error"]["Code"]

print(json.dumps(out))
