"""boto3 signing with Signature Version 2 (signature_version "s3"), path style: bucket-level
calls sign the resource as /bucket/?sub while the request line says /bucket?sub. Prints one
JSON document: the outcome ("ok" or the S3 error code) of each call."""
import json
import os

import boto3
import botocore
from botocore.config import Config

bucket = os.environ["S3_BUCKET"]
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(signature_version="s3", s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}),
)
tags = {"TagSet": [{"Key": "team", "Value": "ops"}]}
calls = [
    ("create_bucket", {}),
    ("put_object", {"Key": "k", "Body": b"v2"}),
    ("get_bucket_acl", {}),
    ("get_bucket_location", {}),
    ("get_bucket_versioning", {}),
    ("put_bucket_tagging", {"Tagging": tags}),
    ("get_bucket_tagging", {}),
    ("list_object_versions", {}),
    ("list_multipart_uploads", {}),
    ("get_object_lock_configuration", {}),
    ("get_bucket_replication", {}),
    ("put_object_tagging", {"Key": "k", "Tagging": tags}),
    ("get_object_tagging", {"Key": "k"}),
    ("get_object_acl", {"Key": "k"}),
    ("delete_bucket_tagging", {}),
]
out = {}
for name, kwargs in calls:
    try:
        getattr(s3, name)(Bucket=bucket, **kwargs)
        out[name] = "ok"
    except botocore.exceptions.ClientError as e:
        out[name] = e.response["Error"]["Code"]
print(json.dumps(out))
