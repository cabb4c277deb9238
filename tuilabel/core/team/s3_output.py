"""A team job across machines: where its output.manifest goes.

Each worker's machine writes every closed record, in the order of S3's closed log, to its own
copy of output.manifest in its local job folder (core/team/output.py), with its own mark of
what it wrote kept beside it (`LocalMark`: the lease store's mark is shared, and one machine's
lines are not in another's file). The copy in S3 is replaced only by a more complete one:
`publish` reads the object's line count (kept in its metadata) and writes with `If-Match` on
the ETag it read (`If-None-Match: *` for the first), so two machines publishing at once never
put back a shorter file; the loser reads again and decides again.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tuilabel.core.data.s3 import _translate, client, parse_s3_uri
from tuilabel.core.store.durable import atomic_write

PUBLISH_EVERY = 10.0  # seconds between uploads of a growing output (and once at the end)
_RACE = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


class LocalMark:
    """What this machine's output.manifest holds: (last closed seq, its size then). Moving it
    also raises the store's shared mark, which is what refuses a change to a record whose
    line is already out."""

    def __init__(self, path: Path, store):
        self.path = path
        self.store = store

    def written(self) -> tuple[int, int]:
        try:
            obj = orjson.loads(self.path.read_bytes())
            return int(obj["seq"]), int(obj["size"])
        except FileNotFoundError:
            return 0, 0
        except (OSError, ValueError, KeyError, TypeError):
            return 0, 0  # unreadable: the output is written again from the start, then cut

    def mark_written(self, seq: int, size: int) -> None:
        atomic_write(self.path, orjson.dumps({"seq": seq, "size": size}))
        if seq > self.store.written()[0]:
            self.store.mark_written(seq, 0)


def publish(path: Path, uri: str) -> bool:
    """Upload `path` to `uri` if it has more lines than the object there; True if it did."""
    from botocore.exceptions import ClientError

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    data = data[: data.rfind(b"\n") + 1]  # whole lines only
    lines = data.count(b"\n")
    bucket, key = parse_s3_uri(uri)
    s3 = client()
    while True:
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            etag, theirs = head["ETag"], int(head.get("Metadata", {}).get("lines", "0"))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise _translate(exc, uri, bucket) from None
            etag, theirs = None, -1
        except Exception as exc:
            raise _translate(exc, uri, bucket) from None
        if theirs >= lines:
            return False
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"lines": str(lines)}, **condition)
            return True
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in _RACE:
                raise _translate(exc, uri, bucket) from None
        except Exception as exc:
            raise _translate(exc, uri, bucket) from None
