#!/usr/bin/env python3
"""S3 smoke test against the endpoint in S3_ENDPOINT / S3_ACCESS_KEY / S3_SECRET_KEY / S3_REGION
(defaults: the values scripts/ceph/rgw-start.sh prints). Needs boto3.

    eval "$(scripts/ceph/rgw-start.sh)" && python3 scripts/ceph/s3-smoke.py

Runs every check, prints one line per check and exits 1 if any failed. Buckets are named
tandem-smoke-<time>-<random> and removed at the end (the object-lock one too: its locked
object has an explicit retention of a few seconds, waited out before cleanup).
"""
import os
import secrets
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:
    sys.exit("s3-smoke: boto3 is not installed (pip install boto3)")

ENDPOINT = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:7480")
ACCESS = os.environ.get("S3_ACCESS_KEY", "tandem-ci-access")
SECRET = os.environ.get("S3_SECRET_KEY", "tandem-ci-secret-0123456789abcdef")
REGION = os.environ.get("S3_REGION", "default")
LOCK_SECONDS = 6

CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"max_attempts": 2, "mode": "standard"},
    connect_timeout=10,
    read_timeout=60,
)


def client(secret=SECRET):
    return boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS,
                        aws_secret_access_key=secret, region_name=REGION, config=CONFIG)


s3 = client()
run_id = f"{int(time.time())}-{secrets.token_hex(3)}"
BUCKET = f"tandem-smoke-{run_id}"
LOCK_BUCKET = f"tandem-smoke-lock-{run_id}"
results = []
lock_until = None


class CheckFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def client_error(fn, *args, **kwargs):
    """Runs fn, which must fail with a ClientError; returns (http status, error code)."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code")
    raise CheckFailed(f"{fn.__name__} succeeded, but an error was expected")


def check(name):
    def wrap(fn):
        t = time.monotonic()
        try:
            detail = fn()
            results.append((name, True))
            print(f"ok    {name} ({(time.monotonic() - t) * 1000:.0f} ms){': ' + detail if detail else ''}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure the same way
            results.append((name, False))
            msg = str(e) if isinstance(e, (CheckFailed, ClientError)) else traceback.format_exc().strip()
            print(f"FAIL  {name}: {msg}", flush=True)
        return fn
    return wrap


print(f"s3-smoke: endpoint {ENDPOINT}, region {REGION}, bucket {BUCKET}", flush=True)


@check("create bucket")
def _():
    s3.create_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    expect(BUCKET in names, f"{BUCKET} not in ListBuckets: {names}")


BODY = secrets.token_bytes(100_000)


@check("put/get/head/delete")
def _():
    put = s3.put_object(Bucket=BUCKET, Key="a/obj", Body=BODY, ContentType="application/octet-stream")
    got = s3.get_object(Bucket=BUCKET, Key="a/obj")
    expect(got["Body"].read() == BODY, "GET body differs from PUT body")
    head = s3.head_object(Bucket=BUCKET, Key="a/obj")
    expect(head["ContentLength"] == len(BODY), f"HEAD length {head['ContentLength']} != {len(BODY)}")
    expect(head["ETag"] == put["ETag"], f"HEAD ETag {head['ETag']} != PUT ETag {put['ETag']}")
    s3.delete_object(Bucket=BUCKET, Key="a/obj")
    status, code = client_error(s3.head_object, Bucket=BUCKET, Key="a/obj")
    expect(status == 404, f"HEAD after delete: {status} {code}, expected 404")


@check("range get")
def _():
    s3.put_object(Bucket=BUCKET, Key="range", Body=BODY)
    got = s3.get_object(Bucket=BUCKET, Key="range", Range="bytes=1000-1999")
    data = got["Body"].read()
    expect(data == BODY[1000:2000], "ranged body differs")
    expect(got["ResponseMetadata"]["HTTPStatusCode"] == 206, f"status {got['ResponseMetadata']['HTTPStatusCode']}, expected 206")
    expect(got["ContentRange"] == f"bytes 1000-1999/{len(BODY)}", f"Content-Range {got['ContentRange']}")
    tail = s3.get_object(Bucket=BUCKET, Key="range", Range="bytes=-10")["Body"].read()
    expect(tail == BODY[-10:], "suffix range differs")


@check("ListObjectsV2 paging")
def _():
    keys = [f"list/k{i:02d}" for i in range(7)]
    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
    seen, pages, token = [], 0, None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": "list/", "MaxKeys": 3}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        expect(page["KeyCount"] <= 3, f"page of {page['KeyCount']} keys with MaxKeys 3")
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
        expect(pages < 10, "paging does not end")
    expect(seen == keys, f"listed {seen}")
    expect(pages == 3, f"{pages} pages, expected 3")
    delim = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    prefixes = [p["Prefix"] for p in delim.get("CommonPrefixes", [])]
    expect("list/" in prefixes, f"CommonPrefixes {prefixes}")
    return f"{len(seen)} keys in {pages} pages"


@check("multipart upload")
def _():
    part = 5 * 1024 * 1024
    data = secrets.token_bytes(part) + secrets.token_bytes(part) + secrets.token_bytes(1024 * 1024)
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")
    parts = []
    for n, off in enumerate(range(0, len(data), part), start=1):
        r = s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=data[off:off + part])
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket=BUCKET, Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    # RGW 16.2 answers CompleteMultipartUpload with an empty <ETag></ETag> (Red Hat BZ 2266579):
    # the ETag must come from a HEAD.
    head = s3.head_object(Bucket=BUCKET, Key="mp")
    expect(head["ETag"].strip('"').endswith(f"-{len(parts)}"), f"multipart ETag on HEAD {head['ETag']}")
    expect(done.get("ETag", "") in ("", head["ETag"]), f"Complete ETag {done.get('ETag')} != HEAD ETag {head['ETag']}")
    expect(head["ContentLength"] == len(data), f"HEAD length {head['ContentLength']}")
    got = s3.get_object(Bucket=BUCKET, Key="mp")["Body"].read()
    expect(got == data, "multipart body differs")
    # an aborted upload leaves nothing behind
    up2 = s3.create_multipart_upload(Bucket=BUCKET, Key="mp-aborted")
    s3.upload_part(Bucket=BUCKET, Key="mp-aborted", UploadId=up2["UploadId"], PartNumber=1, Body=b"x" * part)
    s3.abort_multipart_upload(Bucket=BUCKET, Key="mp-aborted", UploadId=up2["UploadId"])
    left = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    expect(not left, f"uploads left after abort: {left}")
    quirk = "; CompleteMultipartUpload ETag EMPTY (RGW quirk)" if not done.get("ETag") else ""
    return f"{len(parts)} parts, {len(data)} bytes{quirk}"


@check("If-None-Match: * on existing key -> 412")
def _():
    s3.put_object(Bucket=BUCKET, Key="once", Body=b"first", IfNoneMatch="*")
    status, code = client_error(s3.put_object, Bucket=BUCKET, Key="once", Body=b"second", IfNoneMatch="*")
    expect(status == 412, f"got {status} {code}, expected 412")
    body = s3.get_object(Bucket=BUCKET, Key="once")["Body"].read()
    expect(body == b"first", f"body overwritten: {body!r}")
    return f"{status} {code}"


@check("wrong secret -> 403 SignatureDoesNotMatch")
def _():
    bad = client(secret=SECRET[:-1] + ("x" if SECRET[-1] != "x" else "y"))
    status, code = client_error(bad.list_objects_v2, Bucket=BUCKET)
    expect((status, code) == (403, "SignatureDoesNotMatch"), f"got {status} {code}")
    status, code = client_error(bad.put_object, Bucket=BUCKET, Key="forged", Body=b"x")
    expect((status, code) == (403, "SignatureDoesNotMatch"), f"PUT got {status} {code}")
    return f"{status} {code}"


@check("object lock COMPLIANCE: delete of a locked version refused")
def _():
    s3.create_bucket(Bucket=LOCK_BUCKET, ObjectLockEnabledForBucket=True)
    ver = s3.get_bucket_versioning(Bucket=LOCK_BUCKET).get("Status")
    expect(ver == "Enabled", f"versioning {ver!r} on an object-lock bucket")
    s3.put_object_lock_configuration(Bucket=LOCK_BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    conf = s3.get_object_lock_configuration(Bucket=LOCK_BUCKET)["ObjectLockConfiguration"]
    expect(conf["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE", f"lock configuration {conf}")
    # An explicit short retention (overrides the 1-day default) so the bucket can be cleaned up.
    global lock_until
    until = lock_until = datetime.now(timezone.utc) + timedelta(seconds=LOCK_SECONDS)
    put = s3.put_object(Bucket=LOCK_BUCKET, Key="locked", Body=b"keep me",
                        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    vid = put.get("VersionId")
    expect(vid, "no VersionId on PUT into an object-lock bucket")
    ret = s3.get_object_retention(Bucket=LOCK_BUCKET, Key="locked", VersionId=vid)["Retention"]
    expect(ret["Mode"] == "COMPLIANCE", f"retention {ret}")
    status, code = client_error(s3.delete_object, Bucket=LOCK_BUCKET, Key="locked", VersionId=vid)
    expect(status == 403, f"delete of locked version: {status} {code}, expected 403")
    body = s3.get_object(Bucket=LOCK_BUCKET, Key="locked", VersionId=vid)["Body"].read()
    expect(body == b"keep me", "locked version changed")
    # shortening a COMPLIANCE retention is refused too (the new date must still be in the future,
    # else RGW answers 400 InvalidArgument instead)
    st2, code2 = client_error(s3.put_object_retention, Bucket=LOCK_BUCKET, Key="locked", VersionId=vid,
                              Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(seconds=3)})
    expect(st2 == 403, f"shortening COMPLIANCE retention: {st2} {code2}, expected 403")
    return f"delete -> {status} {code}; shorten -> {st2} {code2}"


def cleanup():
    """Removes the test buckets (waiting out the short retention in the lock bucket)."""
    for bucket in (BUCKET, LOCK_BUCKET):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            continue
        if bucket == LOCK_BUCKET and lock_until:
            time.sleep(max(0.0, (lock_until - datetime.now(timezone.utc)).total_seconds() + 1.5))
        leftover = []
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                try:
                    s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
                except ClientError as e:
                    leftover.append(f"{v['Key']}: {e.response['Error'].get('Code')}")
        try:
            s3.delete_bucket(Bucket=bucket)
        except ClientError as e:
            print(f"note  bucket {bucket} left behind ({e.response['Error'].get('Code')}; locked: {leftover})")


@check("locked version deletable after its retention expired")
def _():
    resp = s3.list_object_versions(Bucket=LOCK_BUCKET, Prefix="locked")
    vid = resp["Versions"][0]["VersionId"]
    time.sleep(max(0.0, (lock_until - datetime.now(timezone.utc)).total_seconds() + 1.5))
    s3.delete_object(Bucket=LOCK_BUCKET, Key="locked", VersionId=vid)


try:
    cleanup()
except Exception as e:  # noqa: BLE001
    print(f"note  cleanup failed: {e}")

failed = [n for n, ok in results if not ok]
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
if failed:
    print("s3-smoke: FAILED: " + "; ".join(failed), file=sys.stderr)
    sys.exit(1)
