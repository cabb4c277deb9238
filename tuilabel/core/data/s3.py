"""Small S3 layer: parse URIs, read, write, list — every failure as one clear line.

boto3 is imported inside the functions: importing this module must stay cheap, because
`tuilabel label` on a local manifest never needs it.

Credentials come from the standard chain (env, profile, SSO, instance role). The endpoint
comes from `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), which botocore ≥ 1.31 honours
natively — that is how tests reach a moto server and how users reach MinIO and friends.

Timeouts are short and retries few on purpose: when S3 is down we want to know in a second or
two (the S3 mirror goes on labeling offline), not after botocore's minute of retrying.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from tuilabel.core.store.durable import atomic_write
from tuilabel.core.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from botocore.client import BaseClient

CONNECT_TIMEOUT = 1.5  # seconds to open a connection
READ_TIMEOUT = 5.0  # seconds of silence on an open connection (S3 answers in well under 1 s)
TOTAL_ATTEMPTS = 2  # first try + one retry (botocore's "max_attempts" counts retries only)


class S3Error(UserError):
    """An S3 call failed. `kind` lets callers react without parsing the message:
    "not-found", "no-bucket", "denied", "no-credentials", "unreachable", "too-large",
    "bad-uri", "other"."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # without the surrounding quotes


def is_s3_uri(text: str) -> bool:
    return text[:5].lower() == "s3://"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` → ("bucket", "some/key"). The key may be empty (a bucket root)."""
    if not is_s3_uri(uri):
        raise S3Error(f"not an s3:// URI: {uri!r}", "bad-uri")
    rest = uri[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise S3Error(f"no bucket name in {uri!r}", "bad-uri")
    return bucket, key


def join_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


# --- client -------------------------------------------------------------------------------

_clients: dict[tuple, "BaseClient"] = {}
_clients_lock = threading.Lock()

# Environment variables that change which client we need. Keying the cache on them keeps a
# long-lived process (and the test suite, which points AWS_ENDPOINT_URL at moto) correct.
_CLIENT_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def client() -> "BaseClient":
    """A boto3 S3 client for the current environment, created once and shared.

    botocore clients are thread-safe once built; building one is not, hence the lock.
    """
    key = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    found = _clients.get(key)
    if found is not None:
        return found
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
                max_pool_connections=16,
            )
            try:
                session = boto3.session.Session()
                found = session.client("s3", config=config)
            except Exception as exc:  # profile not found, bad config file, bad endpoint URL
                raise S3Error(f"cannot set up S3: {_one_line(exc)}", "other") from exc
            _clients[key] = found
    return found


def endpoint() -> str:
    """The endpoint URL in use, for messages."""
    return client().meta.endpoint_url


# --- error mapping ------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _translate(exc: Exception, uri: str, bucket: str | None = None) -> S3Error:
    """botocore's exceptions → S3Error with a message a user can act on."""
    from botocore import exceptions as bex

    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return S3Error(
            "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run `aws configure`)",
            "no-credentials",
        )
    if isinstance(exc, bex.ProfileNotFound):
        return S3Error(f"AWS profile not found: {_one_line(exc)}", "no-credentials")
    if isinstance(
        exc,
        (
            bex.EndpointConnectionError,
            bex.ConnectTimeoutError,
            bex.ReadTimeoutError,
            bex.ConnectionClosedError,
            bex.ProxyConnectionError,
        ),
    ):
        try:
            where = endpoint()
        except S3Error:
            where = "S3"
        return S3Error(f"cannot reach S3 endpoint {where} ({uri})", "unreachable")
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return S3Error(f"bucket '{bucket or parse_s3_uri(uri)[0]}' does not exist", "no-bucket")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return S3Error(f"{uri} does not exist", "not-found")
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled") or status == 403:
            return S3Error(f"access denied to {uri}", "denied")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            return S3Error(f"AWS credentials rejected ({code}) for {uri}", "no-credentials")
        message = err.get("Message") or code or _one_line(exc)
        return S3Error(f"S3 error on {uri}: {message}", "other")
    if isinstance(exc, bex.BotoCoreError):
        return S3Error(f"S3 error on {uri}: {_one_line(exc)}", "other")
    if isinstance(exc, OSError):
        return S3Error(f"S3 error on {uri}: {_one_line(exc)}", "unreachable")
    raise exc  # a bug of ours: let it show


def _refine_not_found(err: S3Error, bucket: str) -> S3Error:
    """A HEAD 404 does not say whether the key or the bucket is missing: ask."""
    if err.kind != "not-found":
        return err
    try:
        client().head_bucket(Bucket=bucket)
    except Exception as exc:
        bucket_err = _translate(exc, f"s3://{bucket}", bucket)
        if bucket_err.kind == "not-found":
            return S3Error(f"bucket '{bucket}' does not exist", "no-bucket")
    return err


# --- operations ---------------------------------------------------------------------------


def head(uri: str) -> ObjectInfo:
    bucket, key = parse_s3_uri(uri)
    try:
        resp = client().head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise _refine_not_found(_translate(exc, uri, bucket), bucket) from None
    return ObjectInfo(size=int(resp["ContentLength"]), etag=str(resp.get("ETag", "")).strip('"'))


def get_bytes(uri: str, max_bytes: int | None = None) -> bytes:
    """The whole object. With `max_bytes`, a larger object raises S3Error(kind="too-large")
    without downloading it."""
    bucket, key = parse_s3_uri(uri)
    try:
        resp = client().get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise _refine_not_found(_translate(exc, uri, bucket), bucket) from None
    body = resp["Body"]
    try:
        size = int(resp.get("ContentLength", -1))
        if max_bytes is not None and size > max_bytes:
            raise S3Error(f"{uri} is {size} bytes, over the {max_bytes}-byte limit", "too-large")
        try:
            data = body.read()
        except Exception as exc:
            raise _translate(exc, uri, bucket) from None
    finally:
        body.close()
    return data


def download(uri: str, dest_path: str | os.PathLike) -> Path:
    """Copy the object to `dest_path` atomically: a temp file in the same folder, fsync,
    rename. A failed download leaves no partial file behind."""
    bucket, key = parse_s3_uri(uri)
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        resp = client().get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise _refine_not_found(_translate(exc, uri, bucket), bucket) from None
    body = resp["Body"]

    def write(out) -> None:
        try:
            for chunk in body.iter_chunks(1 << 20):
                out.write(chunk)
        except Exception as exc:
            raise _translate(exc, uri, bucket) from None

    try:
        atomic_write(dest, write)  # a failed download leaves no partial file behind
    finally:
        body.close()
    return dest


def put_bytes(uri: str, data: bytes, content_type: str | None = None) -> None:
    bucket, key = parse_s3_uri(uri)
    if not key or key.endswith("/"):
        raise S3Error(f"{uri} names a folder, not an object", "bad-uri")
    extra = {"ContentType": content_type} if content_type else {}
    try:
        client().put_object(Bucket=bucket, Key=key, Body=data, **extra)
    except Exception as exc:
        raise _translate(exc, uri, bucket) from None


def upload_file(path: str | os.PathLike, uri: str) -> None:
    """Upload a local file as one PUT (S3 allows up to 5 GB; tuilabel's outputs are far
    smaller). The bytes are read once, so a file that changes during the upload is sent
    as the snapshot we read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    put_bytes(uri, data)


def list_objects(
    prefix_uri: str, delimiter: str | None = None, page_size: int | None = None
) -> Iterator[tuple[str, int]]:
    """(key, size) for every object under the prefix, in S3's order (lexicographic by the
    key's UTF-8 bytes), across as many pages as it takes (S3 pages hold 1,000 keys; smaller
    `page_size` is for tests). With `delimiter="/"`, only the objects directly under the
    prefix."""
    bucket, prefix = parse_s3_uri(prefix_uri)
    kwargs: dict = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    if page_size:
        kwargs["PaginationConfig"] = {"PageSize": page_size}
    try:
        pages = client().get_paginator("list_objects_v2").paginate(**kwargs)
        for page in pages:
            for item in page.get("Contents", ()):
                yield item["Key"], int(item.get("Size", 0))
    except Exception as exc:
        raise _translate(exc, prefix_uri, bucket) from None


def list_folders(prefix_uri: str) -> list[str]:
    """The keys of the "folders" (common prefixes, each ending in "/") directly under the
    prefix, in S3's order."""
    bucket, prefix = parse_s3_uri(prefix_uri)
    try:
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return [item["Prefix"] for page in pages for item in page.get("CommonPrefixes", ())]
    except Exception as exc:
        raise _translate(exc, prefix_uri, bucket) from None


def list_keys(
    prefix_uri: str, delimiter: str | None = None, page_size: int | None = None
) -> Iterator[str]:
    """Keys under the prefix, lexicographic, paginated."""
    for key, _size in list_objects(prefix_uri, delimiter, page_size):
        yield key


def check_bucket(bucket: str) -> None:
    """Raise S3Error when the bucket is missing or not ours to read."""
    try:
        client().head_bucket(Bucket=bucket)
    except Exception as exc:
        err = _translate(exc, f"s3://{bucket}", bucket)
        if err.kind == "not-found":
            err = S3Error(f"bucket '{bucket}' does not exist", "no-bucket")
        raise err from None
