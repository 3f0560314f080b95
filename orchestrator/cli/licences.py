"""`onestop licence …`: check an e-business licence PDF from the shell."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from integrations.e_licence import Status, Verdict
from orchestrator.licences.verification import unsafe_trust, verify
from orchestrator.settings import env_name, get_settings

EXIT_GENUINE = 0
EXIT_NOT_GENUINE = 1  # tampered, untrusted, or not a licence at all
EXIT_UNREADABLE = 2  # the file could not be read, or the trusted keys are misconfigured
MAX_FILE_BYTES = 32 * 1024 * 1024  # far beyond any licence; refuse rather than load anything

app = typer.Typer(
    help="电子营业执照 / E-business licences: verify the registration authority's signature.",
    epilog=(
        "Trusted authority keys: ONESTOP_LICENCE_TRUSTED_KEYS (a JSON list of"
        ' "<algorithm>:<base64>"); none by default. The simulators\' development key may be'
        " among them only with ONESTOP_DEVELOPMENT=true."
    ),
    no_args_is_help=True,
    add_completion=False,
)

_HEADLINES = {
    Status.GENUINE: "✔ 真实有效 / GENUINE",
    Status.UNTRUSTED: "✘ 签发者不受信任 / NOT TRUSTED",
    Status.TAMPERED: "✘ 已被改动或损坏 / TAMPERED OR DAMAGED",
    Status.NOT_A_LICENCE: "✘ 不是电子营业执照 / NOT A LICENCE",
    Status.NOT_A_PDF: "✘ 不是 PDF 文件 / NOT A PDF",
}


def _fail(
    message_zh: str, message_en: str, *, as_json: bool, path: Path, error: str = "unreadable"
) -> typer.Exit:
    if as_json:
        typer.echo(
            json.dumps(
                {"file": str(path), "error": error, "message_zh": message_zh,
                 "message_en": message_en},
                ensure_ascii=False,
            )
        )  # fmt: skip
    else:
        typer.echo(f"{message_zh}\n{message_en}", err=True)
    return typer.Exit(EXIT_UNREADABLE)


def _read(path: Path, *, as_json: bool) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _fail(
                f"文件过大（超过 {MAX_FILE_BYTES // 2**20} MiB），不可能是营业执照：{path}",
                f"file too large to be a licence (over {MAX_FILE_BYTES // 2**20} MiB): {path}",
                as_json=as_json,
                path=path,
            )
        return path.read_bytes()
    except OSError as exc:
        raise _fail(
            f"无法读取文件 {path}：{exc.strerror or exc}",
            f"cannot read {path}: {exc.strerror or exc}",
            as_json=as_json,
            path=path,
        ) from exc


def _print(verdict: Verdict) -> None:
    typer.echo(_HEADLINES[verdict.status])
    typer.echo(verdict.reason_zh)
    typer.echo(verdict.reason_en)
    if verdict.detail:
        typer.echo(f"  ({verdict.detail})")
    if verdict.licence is not None:
        shown = verdict.licence
        typer.echo("签名所载内容 / signed content:")
        for label, value in (
            ("统一社会信用代码", shown.credit_code),
            ("名称", shown.name),
            ("类型", shown.enterprise_type),
            ("法定代表人", shown.legal_representative),
            ("注册资本", f"{shown.registered_capital_yuan} 元"),
            ("成立日期", shown.established_on.isoformat()),
            ("住所", shown.domicile),
            ("经营范围", shown.business_scope),
            ("登记机关", f"{shown.authority}  {shown.issued_on.isoformat()}"),
            ("执照编号", shown.licence_no),
        ):
            typer.echo(f"  {label}：{value}")
    if verdict.public_key:
        typer.echo(f"签名密钥 / signing key: {verdict.public_key}  (id {verdict.key_id})")


@app.command(
    "verify",
    help=(
        "Check that FILE is a genuine e-business licence (电子营业执照): unaltered since the"
        " registration authority signed it, and signed by an authority OneStop trusts. Prints"
        " the verdict in Chinese and English and, when the file is intact, the data the"
        " authority signed: compare it with what the paper shows."
    ),
    epilog=(
        "Exit codes: 0 = genuine; 1 = tampered, damaged, signed by an untrusted key, or not a"
        " licence; 2 = the file cannot be read, or the trusted keys are misconfigured."
    ),
)
def verify_command(
    file: Annotated[Path, typer.Argument(help="The licence PDF to check.", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the verdict as one JSON object.")
    ] = False,
) -> None:
    """Verify a licence PDF (see the help above)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are expected here
    try:
        settings = get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = env_name(str(first["loc"][0])) if first["loc"] else "ONESTOP_*"
        raise _fail(
            f"配置有误（{variable}）",
            f"misconfigured settings ({variable}): {first['msg']}",
            as_json=as_json,
            path=file,
            error="misconfigured",
        ) from exc
    if reason := unsafe_trust(settings):  # the same rule as the API's: no dev key in production
        raise _fail(*reason, as_json=as_json, path=file, error="misconfigured")
    verdict = verify(_read(file, as_json=as_json), settings)
    if as_json:
        typer.echo(
            json.dumps({"file": str(file), **verdict.model_dump(mode="json")}, ensure_ascii=False)
        )
    else:
        _print(verdict)
    raise typer.Exit(EXIT_GENUINE if verdict.genuine else EXIT_NOT_GENUINE)
