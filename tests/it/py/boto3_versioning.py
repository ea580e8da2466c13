"""Versioning as SDK users write it: enable, overwrite, read an old version, delete (a
marker), restore by deleting the marker, then empty the bucket version by version with the
list_object_versions paginator and delete_objects, and delete it."""
import json

from s3test import bucket, client, outcome

s3 = client()
s3.create_bucket(Bucket=bucket)
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
status = s3.get_bucket_versioning(Bucket=bucket).get("Status")

v1 = s3.put_object(Bucket=bucket, Key="state.json", Body=b'{"serial": 1}')["VersionId"]
v2 = s3.put_object(Bucket=bucket, Key="state.json", Body=b'{"serial": 2}')["VersionId"]
old = s3.get_object(Bucket=bucket, Key="state.json", VersionId=v1)
old_body = old["Body"].read().decode()

marker = s3.delete_object(Bucket=bucket, Key="state.json")
after_delete = outcome(lambda: s3.head_object(Bucket=bucket, Key="state.json"))
s3.delete_object(Bucket=bucket, Key="state.json", VersionId=marker["VersionId"])
restored = s3.get_object(Bucket=bucket, Key="state.json")["Body"].read().decode()

for i in range(5):
    s3.put_object(Bucket=bucket, Key=f"many/{i % 2}", Body=str(i).encode())

# Emptying a versioned bucket, the documented way.
listed = 0
paginator = s3.get_paginator("list_object_versions")
for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
    entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
    listed += len(entries)
    if entries:
        s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]})
left = s3.list_object_versions(Bucket=bucket)
s3.delete_bucket(Bucket=bucket)

print(json.dumps({
    "status": status,
    "distinct": v1 != v2,
    "old_body": old_body,
    "old_version": old["VersionId"],
    "v1": v1,
    "marker": marker.get("DeleteMarker"),
    "after_delete": after_delete,
    "restored": restored,
    "listed": listed,
    "left": len(left.get("Versions", [])) + len(left.get("DeleteMarkers", [])),
}))
