"""`onestop staff …`: what an administrator does for a member of staff (their password, the
mobile their escalations are texted to).

The rules (length, hashing, ending the sessions) live in `orchestrator.identity.sessions`;
this module reads the password, commits, and prints. Services are imported inside the
command, as in `orchestrator.cli.tokens`, to keep `onestop` quick to start.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

# One way to fail and to reach the runtime for every staff command.
from orchestrator.cli.tokens import Username, configured_runtime, fail
from orchestrator.errors import DomainError

app = typer.Typer(
    help="员工 / Staff: the password a member of staff signs in with, and the mobile their"
    " escalations are texted to.",
    epilog="Exit codes: 0 = done; 2 = invalid input (no such staff member, a password refused,"
    " the two entries differ, nothing to read).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _on_terminal() -> bool:
    """Whether a person types at standard input (else a file or a pipe feeds it)."""
    return sys.stdin.isatty()


def _read_password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    if _on_terminal():
        first = typer.prompt("新密码 / New password", hide_input=True, err=True)
        second = typer.prompt("再次输入 / Repeat it", hide_input=True, err=True)
        if first != second:
            fail("两次输入的密码不一致，未作改动", "the two entries differ; nothing changed")
        return str(first)
    line = sys.stdin.readline()
    if not line:
        fail(
            "标准输入为空：请在第一行提供密码",
            "nothing on standard input: give the password on its first line",
        )
    return line.removesuffix("\n").removesuffix("\r")


@app.command("password")
def password_command(username: Username) -> None:
    """Set USER's portal password, and sign them out everywhere.

    On a terminal the password is asked twice, unseen; otherwise the first line of
    standard input is the password (`onestop staff password USER < file`). At least 10
    characters. Only an argon2 hash of it is kept."""
    from orchestrator.identity.service import staff_named
    from orchestrator.identity.sessions import set_password

    rt = configured_runtime()
    try:
        with rt.database.reading() as session:  # before asking: no typing for nobody
            staff_named(session, username)
        password = _read_password()
        with rt.database.transaction() as session:
            set_password(session, username, password)
    except DomainError as error:
        fail(error.message_zh, error.message_en)
    typer.echo(
        f"已设置 {username} 的密码，其已登录的会话均已退出 / password of {username} set;"
        " their open sessions were ended"
    )


@app.command("mobile")
def mobile_command(
    username: Username,
    mobile: Annotated[
        str | None,
        typer.Argument(help="11-digit mainland China mobile; leave out with --none."),
    ] = None,
    none: Annotated[
        bool, typer.Option("--none", help="Text them nothing: the inbox only.")
    ] = False,
) -> None:
    """Text USER's escalations (at risk, breached, material overdue) to MOBILE, beside
    their portal inbox; `--none` stops the texts."""
    from orchestrator.identity.service import set_mobile
    from orchestrator.privacy import mask_mobile

    if (mobile is None) == (not none):
        fail("请给出手机号，或使用 --none", "give a mobile, or --none")
    rt = configured_runtime()
    try:
        with rt.database.transaction() as session:
            set_mobile(session, username, None if none else mobile)
    except DomainError as error:
        fail(error.message_zh, error.message_en)
    shown = mask_mobile(mobile) if mobile else "—"
    typer.echo(f"{username} 的提醒短信发往 {shown} / {username}'s escalations go to {shown}")
