"""`python -m tests.faults.dying_worker`: an `onestop worker` that kills itself (SIGKILL) the
first time the SMS gateway has taken a text, before OneStop records it sent: what a power
cut between the two does. "First" is across every process given the same marker file (the
environment's DIE_AFTER_SEND): the one that creates it dies, every later send is ordinary.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from orchestrator.cli import main
from orchestrator.notifications import outbox

MARKER = "DIE_AFTER_SEND"
_record_sent = outbox.mark_sent


def _die_once_then_record(*args: Any, **kwargs: Any) -> bool:
    try:
        with Path(os.environ[MARKER]).open("x") as marker:  # only one process creates it
            marker.write(str(os.getpid()))
    except FileExistsError:
        return _record_sent(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the process was killed")


if __name__ == "__main__":
    outbox.mark_sent = _die_once_then_record  # the send task calls it through the module
    sys.argv = ["onestop", "worker"]
    main()
