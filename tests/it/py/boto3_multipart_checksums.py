"""boto3 against libres3: multipart uploads created with x-amz-checksum-algorithm and
x-amz-checksum-type. The checksums are computed here (botocore without awscrt has no
CRC32C or CRC64NVME) and sent as values. Prints one JSON document for the Rust test."""
import base64
import hashlib
import json
import os
import zlib

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


def reflected_crc(poly, width):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    mask = (1 << width) - 1

    def crc(data, register=mask):
        for b in data:
            register = table[(register ^ b) & 0xFF] ^ (register >> 8)
        return register
    return crc, mask, width // 8


CRC32C = reflected_crc(0x82F63B78, 32)
CRC64NVME = reflected_crc(0x9A6C9329AC4BC9B5, 64)


def digest(algorithm, chunks):
    """The binary checksum of the concatenated chunks."""
    if algorithm in ("SHA1", "SHA256"):
        h = hashlib.new(algorithm.lower())
        for c in chunks:
            h.update(c)
        return h.digest()
    if algorithm == "CRC32":
        v = 0
        for c in chunks:
            v = zlib.crc32(c, v)
        return v.to_bytes(4, "big")
    crc, mask, size = CRC32C if algorithm == "CRC32C" else CRC64NVME
    register = mask
    for c in chunks:
        register = crc(c, register)
    return (register ^ mask).to_bytes(size, "big")


def b64(raw):
    return base64.b64encode(raw).decode()


def error_code(call):
    try:
        call()
        return "no error"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


s3.create_bucket(Bucket=bucket)
first = b"a" * (5 * MIB)
second = b"checksummed tail\n" * 10
out = {}
first_digest = {}
for algorithm, kind in [("CRC32", "COMPOSITE"), ("CRC32", "FULL_OBJECT"),
                        ("CRC32C", "COMPOSITE"), ("CRC32C", "FULL_OBJECT"),
                        ("CRC64NVME", "FULL_OBJECT"), ("SHA1", "COMPOSITE"),
                        ("SHA256", "COMPOSITE")]:
    key = f"{algorithm}-{kind}"
    field = "Checksum" + algorithm
    if algorithm not in first_digest:
        first_digest[algorithm] = digest(algorithm, [first])
    part_digests = [first_digest[algorithm], digest(algorithm, [second])]
    if kind == "COMPOSITE":
        expected = b64(digest(algorithm, [b"".join(part_digests)])) + "-2"
    else:
        expected = b64(digest(algorithm, [first, second]))
    r = {"expected": expected, "parts_expected": [b64(d) for d in part_digests]}
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm,
                                         ChecksumType=kind)
    r["created"] = [created.get("ChecksumAlgorithm"), created.get("ChecksumType")]
    upload = created["UploadId"]
    parts = []
    r["uploaded"] = []
    for number, (data, d) in enumerate(zip([first, second], part_digests), start=1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                Body=data, **{field: b64(d)})
        r["uploaded"].append(answer.get(field))
        parts.append({"PartNumber": number, "ETag": answer["ETag"], field: b64(d)})
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)
    r["listed"] = [listed.get("ChecksumAlgorithm"), listed.get("ChecksumType"),
                   [p.get(field) for p in listed["Parts"]]]
    if kind == "FULL_OBJECT":
        r["complete_bad"] = error_code(lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts},
            **{field: b64(part_digests[0])}))
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    r["completed"] = [done.get(field), done.get("ChecksumType")]
    # A retried completion (its answer lost) is answered the same.
    again = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    r["completed_again"] = [again.get(field), again.get("ChecksumType")]
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    r["head"] = [head.get(field), head.get("ChecksumType")]
    attrs = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["Checksum"])
    r["attributes"] = attrs.get("Checksum")
    # ObjectParts, one part a page.
    r["pages"] = []
    for marker in (0, 1):
        page = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectParts"],
                                        MaxParts=1, PartNumberMarker=marker)
        r["pages"].append(page.get("ObjectParts"))
    out[key] = r

# A part whose checksum does not match its data.
upload = s3.create_multipart_upload(Bucket=bucket, Key="bad", ChecksumAlgorithm="SHA256")
out["bad_part"] = error_code(lambda: s3.upload_part(
    Bucket=bucket, Key="bad", UploadId=upload["UploadId"], PartNumber=1, Body=b"data",
    ChecksumSHA256=b64(hashlib.sha256(b"other").digest())))
# A completion naming a part with another checksum than the one uploaded.
good = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload["UploadId"], PartNumber=1,
                      Body=b"data", ChecksumSHA256=b64(hashlib.sha256(b"data").digest()))
out["bad_completion_part"] = error_code(lambda: s3.complete_multipart_upload(
    Bucket=bucket, Key="bad", UploadId=upload["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": good["ETag"],
                                "ChecksumSHA256": b64(hashlib.sha256(b"other").digest())}]}))
out["sha1_full_object"] = error_code(lambda: s3.create_multipart_upload(
    Bucket=bucket, Key="x", ChecksumAlgorithm="SHA1", ChecksumType="FULL_OBJECT"))
out["crc64_composite"] = error_code(lambda: s3.create_multipart_upload(
    Bucket=bucket, Key="x", ChecksumAlgorithm="CRC64NVME", ChecksumType="COMPOSITE"))

# Parts sent without a checksum in an upload created with one get it from the server:
# one uploaded (botocore told to send no checksum), one copied (UploadPartCopy).
plain = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}, request_checksum_calculation="when_required"),
)
created = s3.create_multipart_upload(Bucket=bucket, Key="computed", ChecksumAlgorithm="CRC32C")
upload = created["UploadId"]
copied = plain.upload_part_copy(Bucket=bucket, Key="computed", UploadId=upload, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "CRC32-COMPOSITE"},
                                CopySourceRange=f"bytes=0-{5 * MIB - 1}")
sent = plain.upload_part(Bucket=bucket, Key="computed", UploadId=upload, PartNumber=2,
                         Body=second)
crc32c = [digest("CRC32C", [first]), digest("CRC32C", [second])]
out["computed"] = {
    "expected_parts": [b64(d) for d in crc32c],
    "expected": b64(digest("CRC32C", [b"".join(crc32c)])) + "-2",
    "copied": copied["CopyPartResult"].get("ChecksumCRC32C"),
    "sent": sent.get("ChecksumCRC32C"),
    "listed": [p.get("ChecksumCRC32C")
               for p in s3.list_parts(Bucket=bucket, Key="computed", UploadId=upload)["Parts"]],
}
# Another algorithm's checksum than the upload's: refused before the part is stored.
out["computed"]["mismatch"] = error_code(lambda: s3.upload_part(
    Bucket=bucket, Key="computed", UploadId=upload, PartNumber=3, Body=second,
    ChecksumSHA256=b64(hashlib.sha256(second).digest())))
done = s3.complete_multipart_upload(
    Bucket=bucket, Key="computed", UploadId=upload,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]},
                               {"PartNumber": 2, "ETag": sent["ETag"]}]})
out["computed"]["completed"] = done.get("ChecksumCRC32C")
out["computed"]["head"] = s3.head_object(Bucket=bucket, Key="computed",
                                         ChecksumMode="ENABLED").get("ChecksumCRC32C")
print(json.dumps(out))
