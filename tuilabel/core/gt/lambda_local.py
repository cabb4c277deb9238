"""Run a user's GT post-annotation (consolidation) Lambda handler locally (spec §6).

The handler gets GT's event, with the payload in a local file (`payload.s3Uri` is a
`file://` URI), and returns GT's response list; what it returns for each object is written
as that object's output. Users moving from GT keep their handler unchanged, except for
reading the payload from a file:// URI instead of S3.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Iterable

import orjson

from tuilabel.core.errors import UserError
from tuilabel.core.gt.consolidation import Answers
from tuilabel.core.gt.job import JobSpec
from tuilabel.core.gt.worker_responses import ELEMENTS, WorkerAnswer

EVENT_VERSION = "2018-10-16"
LAMBDA_MISSING = "The post-annotation Lambda returned no annotation for this object"


def load_handler(target: str):
    """`path/to/handler.py:function` -> the function."""
    path_text, sep, func_name = target.rpartition(":")
    if not sep or not path_text or not func_name:
        raise UserError(f"--lambda {target}: expected path/to/handler.py:function")
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"--lambda: {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"tuilabel_lambda_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UserError(f"--lambda: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))  # the handler's own helper modules
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"--lambda: importing {path} failed: {_where(exc, path)}") from None
    finally:
        sys.path.pop(0)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise UserError(f"--lambda: {path} has no function {func_name!r}")
    return func


def _where(exc: BaseException, path: Path) -> str:
    """`ValueError: msg (handler.py line 12)`: the deepest frame in the user's file."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    at = f" ({path.name} line {line})" if line else ""
    return f"{type(exc).__name__}: {exc}{at}"


def payload(answers: Answers, records: dict[int, dict]) -> list[dict]:
    """GT's payload for classification: one item per answered object, each worker's answer as
    a JSON string."""
    element = answers.element
    key = ELEMENTS.get(element, "label")
    chosen: dict[int, dict[str, list[str]]] = {}
    for r, w, label in zip(answers.record.tolist(), answers.worker.tolist(), answers.label.tolist()):
        chosen.setdefault(r, {}).setdefault(answers.workers[w], []).append(answers.labels[label])
    return [
        _item(index, records.get(index, {}), [
            (worker, {element: {key: names if key == "labels" else names[0]}}) for worker, names in chosen[index].items()
        ])
        for index in sorted(chosen)
    ]


def answers_payload(answers: Iterable[WorkerAnswer], records: dict[int, dict]) -> list[dict]:
    """GT's payload from worker answers as read (bounding boxes: each worker's boundingBox
    content as GT's worker response holds it); a worker's later answer to an object wins."""
    chosen: dict[int, dict[str, dict]] = {}
    for answer in answers:
        if not answer.declined:
            chosen.setdefault(answer.index, {})[answer.worker] = {answer.element: answer.content}
    return [_item(index, records.get(index, {}), list(chosen[index].items())) for index in sorted(chosen)]


def _item(index: int, record: dict, annotations: list[tuple[str, dict]]) -> dict:
    data = {"s3Uri": record["source-ref"]} if "source-ref" in record else {"content": record.get("source", "")}
    return {"datasetObjectId": str(index), "dataObject": data, "annotations": [
        {"workerId": worker, "annotationData": {"content": orjson.dumps(content).decode()}}
        for worker, content in annotations
    ]}


def run_lambda(target: str, spec: JobSpec, items: list[dict]) -> dict[int, dict]:
    """Call the handler once with every answered object (`items`: the payload, from `payload`
    or `answers_payload`); -> {index: consolidated content}."""
    handler = load_handler(target)
    with tempfile.TemporaryDirectory(prefix="tuilabel-lambda-") as tmp:
        payload_path = Path(tmp) / "payload.json"
        payload_path.write_bytes(orjson.dumps(items))
        event = {
            "version": EVENT_VERSION,
            "labelingJobArn": f"arn:aws:sagemaker:local:000000000000:labeling-job/{spec.name.lower()}",
            "labelCategories": list(spec.labels),
            "labelAttributeName": spec.label_attribute,
            "roleArn": "arn:aws:iam::000000000000:role/tuilabel-local",
            "payload": {"s3Uri": payload_path.resolve().as_uri()},
        }
        try:
            response = handler(event, None)
        except Exception as exc:
            raise UserError(f"--lambda: the handler raised {_where(exc, Path(target.rpartition(':')[0]))}") from None
    if not isinstance(response, list):
        raise UserError(f"--lambda: the handler returned a {type(response).__name__}, not GT's list of objects")
    out: dict[int, dict] = {}
    for n, item in enumerate(response):
        try:
            index = int(item["datasetObjectId"])
            content = item["consolidatedAnnotation"]["content"]
        except (TypeError, KeyError, ValueError):
            raise UserError(
                f"--lambda: item {n} of the response lacks datasetObjectId or consolidatedAnnotation.content"
            ) from None
        if not isinstance(content, dict):
            raise UserError(f"--lambda: item {n}: consolidatedAnnotation.content is not an object")
        out[index] = content
    return out
