#!/usr/bin/env python3
"""Presigned SigV4 URLs (path-style, us-east-1) for scripts/bench, made with boto3.

Credentials come from LIBRES3_ACCESS_KEY / LIBRES3_SECRET_KEY.

  presign.py ENDPOINT create-bucket BUCKET
  presign.py ENDPOINT put|get|head|delete BUCKET KEY
  presign.py ENDPOINT put-checksum BUCKET KEY crc64nvme|crc32c VALUE
      # a PUT whose signed headers include x-amz-checksum-ALGORITHM: VALUE (the client
      # must send that header, as a stock SDK's presigned PUT with a checksum does)
  presign.py ENDPOINT put-sse BUCKET KEY
      # a PUT whose signed headers include x-amz-server-side-encryption: AES256 (SSE-S3)
  presign.py ENDPOINT put-policy|get-policy|delete-policy BUCKET
      # PutBucketPolicy (the client sends the policy as the body), GetBucketPolicy,
      # DeleteBucketPolicy
  presign.py ENDPOINT lists BUCKET PREFIX FIRST COUNT PUT_FILE GET_FILE
      # COUNT PUT and GET URLs, one a line, of the keys PREFIX%07d from FIRST on
"""
import os
import sys

import boto3
from botocore.config import Config

EXPIRES = int(os.environ.get("BENCH_PRESIGN_EXPIRES", "3600"))


def client(endpoint):
    session = boto3.session.Session(
        aws_access_key_id=os.environ["LIBRES3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["LIBRES3_SECRET_KEY"],
        region_name="us-east-1",
    )
    return session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


OPS = {"put": "put_object", "get": "get_object", "head": "head_object", "delete": "delete_object"}
CHECKSUM_PARAMS = {"crc64nvme": "ChecksumCRC64NVME", "crc32c": "ChecksumCRC32C"}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    endpoint, op, bucket = argv[0], argv[1], argv[2]
    c = client(endpoint)
    sign = c.generate_presigned_url
    if op == "create-bucket":
        print(sign("create_bucket", Params={"Bucket": bucket}, ExpiresIn=EXPIRES))
    elif op in OPS:
        print(sign(OPS[op], Params={"Bucket": bucket, "Key": argv[3]}, ExpiresIn=EXPIRES))
    elif op == "put-checksum" and len(argv) == 6 and argv[4] in CHECKSUM_PARAMS:
        params = {"Bucket": bucket, "Key": argv[3], CHECKSUM_PARAMS[argv[4]]: argv[5]}
        print(sign("put_object", Params=params, ExpiresIn=EXPIRES))
    elif op == "put-sse" and len(argv) == 4:
        params = {"Bucket": bucket, "Key": argv[3], "ServerSideEncryption": "AES256"}
        print(sign("put_object", Params=params, ExpiresIn=EXPIRES))
    elif op == "put-policy" and len(argv) == 3:
        # The body is not part of a presigned URL's signature: any placeholder will do.
        print(sign("put_bucket_policy", Params={"Bucket": bucket, "Policy": "{}"}, ExpiresIn=EXPIRES))
    elif op == "get-policy" and len(argv) == 3:
        print(sign("get_bucket_policy", Params={"Bucket": bucket}, ExpiresIn=EXPIRES))
    elif op == "delete-policy" and len(argv) == 3:
        print(sign("delete_bucket_policy", Params={"Bucket": bucket}, ExpiresIn=EXPIRES))
    elif op == "lists":
        prefix, first, count = argv[3], int(argv[4]), int(argv[5])
        with open(argv[6], "w") as puts, open(argv[7], "w") as gets:
            for i in range(first, first + count):
                params = {"Bucket": bucket, "Key": "%s%07d" % (prefix, i)}
                puts.write(sign("put_object", Params=params, ExpiresIn=EXPIRES) + "\n")
                gets.write(sign("get_object", Params=params, ExpiresIn=EXPIRES) + "\n")
    else:
        sys.exit("unknown operation %r\n%s" % (op, __doc__))


if __name__ == "__main__":
    main(sys.argv[1:])
