"""How OneStop's processes log: the id of the API request on each line written while it is
handled, libraries that would write the data passing through them kept above that level,
and every line masked of resident IDs and mobile numbers before it is written.

The API configures its logging here (`configure_logging`); Celery configures the worker's
and beat's itself, and `orchestrator.celery_app` hands its handlers to `mask_handlers`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from orchestrator.privacy import mask_text

LogLevel = Literal["critical", "error", "warning", "info", "debug"]

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
NO_REQUEST = "-"

# Libraries that write what passes through them once their loggers are let below these
# levels, as a process's debug level lets them: Celery's pool logs each task's raw message
# at DEBUG (headers and body; run_claimed's body is a whole application), and zeep's own
# transports each SOAP envelope (ours posts by itself, but a change of transport must not
# bring that back). Pinned, they keep their warnings and errors. (SQLAlchemy, which would
# log statements and rows, holds its loggers at WARNING itself unless told otherwise.)
DATA_CARRYING_LOGGERS: dict[str, int] = {
    "celery.pool": logging.INFO,
    "zeep.transports": logging.INFO,
}

_request_id: ContextVar[str] = ContextVar("onestop_request_id", default=NO_REQUEST)


@contextmanager
def request_id_bound(request_id: str) -> Iterator[None]:
    """Name `request_id` on every line logged inside the block (threads it starts included)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Gives each record the id of the request being handled (`-` outside any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class MaskingFormatter(logging.Formatter):
    """Formats as `inner` does, then masks resident IDs and mobile numbers in the whole text.

    The last line of defence: exception messages (a validation error quoting its input, an
    agency's refusal quoting a person's number) and libraries' debug output are not ours to
    word, and a handler may write any of them.
    """

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(self.inner.format(record))


def configure_logging(level: LogLevel) -> None:
    """Log to stderr at `level`, each line with its request id, masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    mask_handlers(root)


def mask_handlers(logger: logging.Logger) -> None:
    """Mask what each handler of `logger` writes, and pin the data-carrying libraries.

    For handlers someone else set up (Celery's); idempotent.
    """
    for handler in logger.handlers:
        if not isinstance(handler.formatter, MaskingFormatter):
            handler.setFormatter(MaskingFormatter(handler.formatter))
    for name, floor in DATA_CARRYING_LOGGERS.items():
        data_carrier = logging.getLogger(name)
        if data_carrier.getEffectiveLevel() < floor:
            data_carrier.setLevel(floor)
