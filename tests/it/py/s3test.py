"""What the boto3 test scripts share: a client for the server under test (S3_ENDPOINT,
path-style, SigV4, no retries, so an error is seen as the server gave it) and small helpers.
tests/it/common/clients.rs writes this file beside every script it runs."""
import hashlib
import os

import boto3
import botocore
from botocore.config import Config

bucket = os.environ["S3_BUCKET"]


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )


def error_of(e):
    """[error code, HTTP status] of a refused call."""
    return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]


def outcome(call):
    """The error code and HTTP status of a call ("no error" and 200 when it succeeds)."""
    try:
        call()
        return ["no error", 200]
    except botocore.exceptions.ClientError as e:
        return error_of(e)


def md5(data):
    return hashlib.md5(data).hexdigest()
