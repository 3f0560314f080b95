"""`onestop token …`: issue, list and revoke the bearer tokens staff call the API with.

The rules (lifetimes, what may be shown of a token) live in `orchestrator.identity.service`;
this module reads arguments, commits, and prints. The service is imported inside each
command: with the database layer it would add most of a second to every `onestop` start.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.cells import cell_len

from orchestrator.clock import CHINA
from orchestrator.errors import DomainError
from orchestrator.settings import Settings

if TYPE_CHECKING:
    from orchestrator.identity.service import StaffTokens, TokenInfo
    from orchestrator.runtime import Runtime

EXIT_BAD_INPUT = 2  # an unknown staff member or token, a lifetime out of range

_MAX_DAYS_DEFAULT = Settings.model_fields["token_max_days"].default

app = typer.Typer(
    help=(
        "API 令牌 / Bearer tokens for the JSON API: issue one to a member of staff, list a"
        " member's tokens, revoke one."
    ),
    epilog=(
        "Every token expires, at the latest ONESTOP_TOKEN_MAX_DAYS days after its issue"
        f" (default {_MAX_DAYS_DEFAULT}). Exit codes: 0 = done; 2 = invalid input (no such"
        " staff member or token, a lifetime out of range)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

Username = Annotated[
    str, typer.Argument(metavar="USER", help="The staff member's username.", show_default=False)
]


def fail(message_zh: str, message_en: str) -> NoReturn:
    """Print a bilingual error to stderr and exit without a traceback."""
    typer.echo(f"错误：{message_zh} / Error: {message_en}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def configured_runtime() -> Runtime:
    """The process's runtime; misconfigured settings are reported, not raised."""
    from pydantic import ValidationError

    from orchestrator.runtime import current

    try:
        return current()
    except ValidationError as exc:
        problem = exc.errors()[0]
        variable = "ONESTOP_" + "_".join(str(part) for part in problem["loc"]).upper()
        fail(f"设置有误：{variable}", f"invalid setting {variable}: {problem['msg']}")


def _when(instant: datetime | None) -> str:
    """An instant to the minute, in China time; a dash for none."""
    return instant.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if instant else "—"


@app.command("issue")
def issue_command(
    username: Username,
    days: Annotated[
        int | None,
        typer.Option(
            help="Days until the token expires, 1 to ONESTOP_TOKEN_MAX_DAYS. Default: 30, or"
            " the maximum if that is lower.",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        str, typer.Option(help="What the token is for, shown by `onestop token list`.")
    ] = "cli",
) -> None:
    """Issue a bearer token to USER and print it, this once.

    Only the token's digest is kept. When it expires goes to stderr, so that
    `TOKEN=$(onestop token issue USER)` works."""
    from orchestrator.identity.service import issue_token, staff_named, token_lifetime

    rt = configured_runtime()
    now = rt.clock.now()
    try:
        lifetime = token_lifetime(days, max_lifetime=rt.settings.token_max_lifetime)
        with rt.database.transaction() as session:
            staff = staff_named(session, username)
            token = issue_token(session, staff, now=now, label=label, ttl=lifetime)
    except DomainError as error:
        fail(error.message_zh, error.message_en)
    typer.echo(token)
    expires = _when(now + lifetime)
    typer.echo(
        f"已为 {username} 签发令牌，有效期至 {expires}（北京时间）/ token issued to {username},"
        f" expires {expires} (China time)",
        err=True,
    )


_STATUS_SHOWN = {"live": "有效 live", "expired": "已过期 expired", "revoked": "已吊销 revoked"}
_COLUMNS = ("ID", "LABEL", "CREATED", "EXPIRES", "LAST USE", "REVOKED", "STATUS")


def _row(token: TokenInfo) -> tuple[str, ...]:
    return (
        str(token.id),
        token.label or "—",
        _when(token.created_at),
        _when(token.expires_at) + ("*" if token.expiry_capped else ""),
        _when(token.last_used_at),
        _when(token.revoked_at),
        _STATUS_SHOWN[token.status],
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns, measured in terminal cells (a Chinese character takes two)."""
    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell + " " * (width - cell_len(cell)) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def _print_list(listed: StaffTokens, *, max_days: int) -> None:
    who = f"{listed.username}（{listed.name}）"
    if not listed.tokens:
        typer.echo(f"{who}没有令牌 / {listed.username} has no tokens")
    else:
        typer.echo(f"{who}的令牌 / tokens of {listed.username} (北京时间 / China time)")
    if not listed.active:
        typer.echo(
            "该员工已停用，其令牌均不能使用 / deactivated: none of their tokens lets them in"
        )
    if not listed.tokens:
        return
    for line in _table([_COLUMNS, *(_row(token) for token in listed.tokens)]):
        typer.echo(line)
    if any(token.expiry_capped for token in listed.tokens):
        typer.echo(
            f"* 到期时间由最长有效期 {max_days} 天（ONESTOP_TOKEN_MAX_DAYS）决定 / expiry set by"
            f" the maximum lifetime of {max_days} days (ONESTOP_TOKEN_MAX_DAYS)"
        )


def _as_json(listed: StaffTokens, *, max_days: int) -> dict[str, Any]:
    def instant(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "username": listed.username,
        "name": listed.name,
        "active": listed.active,
        "max_days": max_days,
        "tokens": [
            {
                "id": token.id,
                "label": token.label,
                "created_at": instant(token.created_at),
                "expires_at": instant(token.expires_at),
                "expiry_capped": token.expiry_capped,
                "last_used_at": instant(token.last_used_at),
                "revoked_at": instant(token.revoked_at),
                "status": token.status.value,
            }
            for token in listed.tokens
        ],
    }


@app.command("list")
def list_command(
    username: Username,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (instants in ISO-8601).")
    ] = False,
) -> None:
    """List USER's tokens (never the tokens themselves), oldest first.

    Each with its id, label, when it was issued, when it expires, when it was last used (to
    the minute), when it was revoked, and whether it is live. An expiry marked * is set by
    the maximum lifetime (ONESTOP_TOKEN_MAX_DAYS), which ends every token, those issued
    before tokens had to expire included."""
    from orchestrator.identity.service import list_tokens

    rt = configured_runtime()
    try:
        with rt.database.reading() as session:
            listed = list_tokens(
                session,
                username=username,
                now=rt.clock.now(),
                max_lifetime=rt.settings.token_max_lifetime,
            )
    except DomainError as error:
        fail(error.message_zh, error.message_en)
    max_days = rt.settings.token_max_days
    if as_json:
        typer.echo(json.dumps(_as_json(listed, max_days=max_days), ensure_ascii=False))
    else:
        _print_list(listed, max_days=max_days)


# Ids as `token list` shows them. Bounded: SQLite cannot bind an integer past 2^63, and
# Python refuses to read one of more than 4,300 digits.
_TOKEN_ID = re.compile(r"[0-9]{1,18}")


@app.command("revoke")
def revoke_command(
    token_id: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="The token's id, as `onestop token list` shows it.",
            show_default=False,
        ),
    ],
) -> None:
    """Revoke a token: from now on the API refuses it.

    Revoking a token already revoked changes nothing, says so, and exits 0."""
    from orchestrator.identity.service import revoke_token

    text = token_id.strip()
    if not _TOKEN_ID.fullmatch(text):
        fail(
            f"{token_id!r} 不是令牌编号（编号见 onestop token list）",
            f"{token_id!r} is not a token id (ids are the numbers onestop token list shows)",
        )
    rt = configured_runtime()
    try:
        with rt.database.transaction() as session:
            revocation = revoke_token(
                session,
                token_id=int(text),
                now=rt.clock.now(),
                max_lifetime=rt.settings.token_max_lifetime,
            )
    except DomainError as error:
        fail(error.message_zh, error.message_en)
    token = revocation.token
    which = f"{token.id}（{token.username}，{token.label or '—'}）"
    which_en = f"{token.id} ({token.username}, {token.label or '—'})"
    if revocation.already:
        when = _when(token.revoked_at)
        typer.echo(
            f"令牌 {which}已于 {when} 吊销，未作改动 / token {which_en} was already revoked at"
            f" {when} (China time); nothing changed"
        )
    else:
        typer.echo(
            f"已吊销令牌 {which}，此后使用它的请求一律拒绝 / revoked token {which_en}: the API"
            " refuses it from now on"
        )
