"""What the server logs, and the JSON-lines format ``synckit serve --log-format json`` writes.

Everything goes to the stdlib logger ``synckit.server``. Each record's message is an event
name followed by ``key=value`` fields, and the same fields ride on the record as
``record.synckit`` (a dict) for formatters and handlers. Fields are connection ids, principal
ids, client ids, document ids, error codes and sizes -- never tokens, never document contents.

======================  =========  ===============================================
event                   level      when
======================  =========  ===============================================
``connected``           DEBUG      a WebSocket's Hello was accepted
``disconnected``        DEBUG      a WebSocket connection ended
``auth_failed``         WARNING    a token was refused (and why, from the verifier)
``refused``             INFO       an error was sent (code, document, batch)
``limit``               WARNING    a limit was hit (RATE_LIMITED, TOO_MANY, HANDSHAKE_TIMEOUT,
                                   FRAME_TOO_LARGE, DOC_TOO_LARGE)
``slow_consumer``       WARNING    a connection that read too slowly was dropped
``quiet``               INFO       a connection's further refusals are not logged
======================  =========  ===============================================

One connection logs at most :data:`MAX_LOGGED_REFUSALS` refusals, so a client cannot fill
the server's disk by sending the same bad frame forever.
"""

from __future__ import annotations

import json
import logging

__all__ = ["LOGGER_NAME", "MAX_LOGGED_REFUSALS", "JsonLogFormatter", "log_event", "logger"]

LOGGER_NAME = "synckit.server"
#: Refusals logged per connection before the rest are counted but not logged.
MAX_LOGGED_REFUSALS = 20

logger = logging.getLogger(LOGGER_NAME)

# Values longer than this are cut in log lines (ids come from clients).
_MAX_VALUE_CHARS = 200


def _clean(value: object) -> object:
    if isinstance(value, str):
        if len(value) > _MAX_VALUE_CHARS:
            value = value[:_MAX_VALUE_CHARS] + "..."
        return value
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)


def log_event(level: int, event: str, **fields: object) -> None:
    """Log ``event`` with ``fields`` (ids and codes only) on the ``synckit.server`` logger."""
    if not logger.isEnabledFor(level):
        return
    clean = {k: _clean(v) for k, v in fields.items() if v is not None and v != ""}
    # %r keeps a client-chosen id from forging extra "fields" or lines in text logs.
    text = " ".join(f"{k}={v!r}" for k, v in clean.items())
    logger.log(level, "%s %s", event, text, extra={"synckit": {"event": event, **clean}})


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (Unix seconds), ``level``, ``logger``, ``event`` and
    the record's fields; records from other loggers carry their message as ``msg``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "synckit", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["msg"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)
