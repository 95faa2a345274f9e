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
