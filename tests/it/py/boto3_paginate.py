"""boto3 list_objects_v2 paginator over many keys (MaxKeys 1000)."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

bucket = os.environ["S3_BUCKET"]
count = int(os.environ["KEY_COUNT"])
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  max_pool_connections=16, retries={"max_attempts": 1}),
)
s3.create_bucket(Bucket=bucket)
keys = [f"many/{i % 7}/key-{i:05d}" for i in range(count)]


def put(k):
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())


with ThreadPoolExecutor(max_workers=8) as pool:
    list(pool.map(put, keys))

pages = []
seen = []
paginator = s3.get_paginator("list_objects_v2")
for page in paginator.paginate(Bucket=bucket, Prefix="many/",
                               PaginationConfig={"PageSize": 1000}):
    contents = page.get("Contents", [])
    pages.append(len(contents))
    seen.extend(o["Key"] for o in contents)

prefixes = []
for page in paginator.paginate(Bucket=bucket, Prefix="many/", Delimiter="/",
                               PaginationConfig={"PageSize": 3}):
    prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))

v1_seen = []
for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1000}):
    v1_seen.extend(o["Key"] for o in page.get("Contents", []))

print(json.dumps({"pages": pages, "keys": seen, "prefixes": prefixes,
                  "v1_count": len(v1_seen), "v1_unique": len(set(v1_seen))}))
