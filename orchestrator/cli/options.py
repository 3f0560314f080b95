"""Options several `onestop` commands take alike."""

from __future__ import annotations

from typing import Annotated

import typer

Port = Annotated[int, typer.Option("--port", "-p", help="TCP port to listen on.", min=0, max=65535)]
Host = Annotated[str, typer.Option("--host", help="Address to bind.")]
