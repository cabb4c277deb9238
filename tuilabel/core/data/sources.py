"""Resolve a manifest record's `source-ref` to bytes.

A ref is one of:
- a local path: absolute, `~`-relative, or relative to the manifest's folder;
- a `file://` URI (`local_path` is the one parser for them);
- an `s3://bucket/key` URI (what Ground Truth writes);
- an `http://` or `https://` URL.

`base` is where the manifest lives: its folder (a local path) or, for a manifest read from
S3, its prefix (`s3://bucket/prefix/`), against which relative refs resolve. `base_of()`
turns a manifest location into that base.

Everything here is safe to call from several worker threads at once (prefetch): no shared
state but the S3 client, which botocore makes thread-safe.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

from tuilabel.core.data import s3
from tuilabel.core.errors import UserError
from tuilabel.core.gt.limits import MAX_IMAGE_BYTES

HTTP_TIMEOUT = 10.0  # seconds


class SourceError(UserError):
    """A source-ref could not be read. The message says what and where, in one line."""


def _is_http(text: str) -> bool:
    low = text[:8].lower()
    return low.startswith("http://") or low.startswith("https://")


def _is_file_uri(text: str) -> bool:
    return text[:7].lower() == "file://"


def base_of(manifest_location: str | os.PathLike) -> str:
    """The base that relative refs in this manifest resolve against: the manifest's folder
    (absolute) for a local file, its prefix with a trailing slash for S3 or HTTP."""
    text = os.fspath(manifest_location)
    if s3.is_s3_uri(text) or _is_http(text):
        return text.rsplit("/", 1)[0] + "/"
    if _is_file_uri(text):
        text = _file_uri_path(text)
    return str(Path(text).expanduser().resolve().parent)


def _file_uri_path(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise SourceError(f"file:// URI names another host: {uri!r}")
    return url2pathname(parts.path)  # decodes %-escapes (once: a literal "%20" is "%2520")


def local_path(location: str) -> str:
    """The one `file://` parser: a `file://` URI (no host or `localhost`, %-escapes decoded) as
    the local path it names; any other location (a path, s3://, http) unchanged. Every command
    that takes a manifest, folder or job location passes it through here first."""
    return _file_uri_path(location) if _is_file_uri(location) else location


def resolve(ref: str, base: str | os.PathLike = ".") -> str:
    """Where `ref` points: an absolute local path, an s3:// URI or an http(s) URL."""
    if not isinstance(ref, str) or not ref:
        raise SourceError(f"source-ref must be a non-empty string, got {ref!r}")
    if s3.is_s3_uri(ref) or _is_http(ref):
        return ref
    if _is_file_uri(ref):
        return _file_uri_path(ref)
    base_text = os.fspath(base)
    expanded = os.path.expanduser(ref)
    if os.path.isabs(expanded):
        return os.path.normpath(expanded)
    if s3.is_s3_uri(base_text):
        bucket, prefix = s3.parse_s3_uri(base_text)
        key = posixpath.normpath(posixpath.join(prefix, ref)) if prefix else posixpath.normpath(ref)
        if key.startswith("../") or key == "..":
            raise SourceError(f"source-ref {ref!r} climbs out of bucket {bucket!r}")
        return s3.join_uri(bucket, key)
    if _is_http(base_text):
        return urljoin(base_text if base_text.endswith("/") else base_text + "/", ref)
    if _is_file_uri(base_text):
        base_text = _file_uri_path(base_text)
    return os.path.normpath(os.path.join(os.path.abspath(os.path.expanduser(base_text)), expanded))


def describe(ref: str, base: str | os.PathLike = ".") -> str:
    """The resolved location, for messages ("ref → where")."""
    try:
        return resolve(ref, base)
    except SourceError as exc:
        return str(exc)


def _mb(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size} bytes"
    return f"{size / (1024 * 1024):.1f} MB"


def _limit_text(max_bytes: int) -> str:
    if max_bytes == MAX_IMAGE_BYTES:
        return "GT's 40 MB image limit"
    return f"the {_mb(max_bytes)} limit"


def fetch(ref: str, base: str | os.PathLike = ".", max_bytes: int | None = MAX_IMAGE_BYTES) -> bytes:
    """The bytes `ref` points to. Raises SourceError with one line naming the ref and the
    resolved location. Objects over `max_bytes` are refused without reading them whole."""
    where = resolve(ref, base)
    if s3.is_s3_uri(where):
        return _fetch_s3(ref, where, max_bytes)
    if _is_http(where):
        return _fetch_http(ref, where, max_bytes)
    return _fetch_local(ref, where, max_bytes)


def _fetch_local(ref: str, path: str, max_bytes: int | None) -> bytes:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise SourceError(
                    f"source-ref {ref!r} is {_mb(size)}, over {_limit_text(max_bytes)} ({path})"
                )
            return f.read()
    except FileNotFoundError:
        raise SourceError(f"source-ref {ref!r} not found ({path})") from None
    except IsADirectoryError:
        raise SourceError(f"source-ref {ref!r} is a folder, not a file ({path})") from None
    except PermissionError:
        raise SourceError(f"source-ref {ref!r} is not readable: permission denied ({path})") from None
    except OSError as exc:
        raise SourceError(f"source-ref {ref!r} cannot be read: {exc.strerror or exc} ({path})") from None


def _fetch_s3(ref: str, uri: str, max_bytes: int | None) -> bytes:
    try:
        return s3.get_bytes(uri, max_bytes=max_bytes)
    except s3.S3Error as exc:
        if exc.kind == "too-large" and max_bytes is not None:
            try:
                size = s3.head(uri).size
                what = f"is {_mb(size)}, "
            except s3.S3Error:
                what = "is "
            raise SourceError(f"source-ref {ref!r} {what}over {_limit_text(max_bytes)} ({uri})") from None
        message = str(exc)
        if ref != uri:  # a relative ref: say which
            message = f"source-ref {ref!r}: {message}"
        raise SourceError(message) from None


def _fetch_http(ref: str, url: str, max_bytes: int | None) -> bytes:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "tuilabel"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as resp:
            length = resp.headers.get("Content-Length")
            if max_bytes is not None and length and length.isdigit() and int(length) > max_bytes:
                raise SourceError(
                    f"source-ref {ref!r} is {_mb(int(length))}, over {_limit_text(max_bytes)} ({url})"
                )
            data = resp.read() if max_bytes is None else resp.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"http {exc.code} {exc.reason} ({url})") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise SourceError(f"cannot reach {url}: {reason}") from None
    except TimeoutError:
        raise SourceError(f"timed out after {HTTP_TIMEOUT:g} s reading {url}") from None
    except OSError as exc:
        raise SourceError(f"cannot read {url}: {exc.strerror or exc}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise SourceError(f"source-ref {ref!r} is over {_limit_text(max_bytes)} ({url})")
    return data
