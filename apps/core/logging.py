"""Structured logs: one JSON object a line, each carrying the request_id of its request."""

import json
import logging
from datetime import UTC, datetime

from .request_context import current_request_id

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def install_request_id_record_factory() -> None:
    """Stamp every log record with the current request_id, whatever handler receives it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_stamps_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return record

    factory._stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class RequestContextFilter(logging.Filter):
    """Guarantees the attribute for records made before the factory was installed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


WITHHELD = "<withheld>"
# Values Celery puts into its log lines that carry what our tasks move: pictures, embeddings,
# best frames and verdicts (return values), job keys and sessions (arguments).
_CELERY_CARRIERS = ("return_value", "args", "kwargs", "argsrepr", "kwargsrepr")


class TaskDataFilter(logging.Filter):
    """Keeps task data out of every log: Celery logs a task's return value at INFO ("Task ...
    succeeded in 0.4s: {...}") and its arguments at DEBUG; ours are embeddings, base64 frames
    and verdicts. The line stays (that a task ran, how long it took), its data does not."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("celery"):
            return True
        if isinstance(record.args, dict):
            record.args = self._withheld(record.args)
        # Celery also attaches the same values as `extra={"data": {...}}`, which a structured
        # formatter writes out
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            record.data = self._withheld(data)
        elif record.args and "args" in str(record.msg):
            # e.g. "TaskPool: Apply %s (args:%s kwargs:%s)": positional, every value withheld
            record.args = tuple(WITHHELD for _ in record.args)
        return True

    @staticmethod
    def _withheld(values: dict) -> dict:
        return {k: WITHHELD if k in _CELERY_CARRIERS else v for k, v in values.items()}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", current_request_id.get()),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)
