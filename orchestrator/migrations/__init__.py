"""Alembic migrations of the OneStop schema; `migrate()` brings a database to the head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    # ConfigParser interpolation treats % specially; URLs may contain it (encoded passwords).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at `url` to the latest schema."""
    command.upgrade(alembic_config(url), "head")
