"""The name check (名称查重): whether a company name could be registered in a district now.

One service behind the API's `GET /api/v1/names/check` and the portal's live check: it
asks the registration authority through its adapter (conflicts with the district's
register, prohibited words, a name's structure); the clerk checks before filing, and
registration itself checks again when its step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from integrations.base import AgencyError
from integrations.registration import RegistrationAdapter
from orchestrator.errors import DomainError, Invalid
from orchestrator.reference import load_reference
from orchestrator.validation import FieldError

MIN_NAME_LENGTH, MAX_NAME_LENGTH = 4, 100
RETRY_AFTER_SECONDS = 5

# Our words for the bureau's codes; the bureau's own sentence is shown beside them as it came.
VERDICTS: dict[str, tuple[str, str]] = {
    "available": ("名称可以使用", "The name is available"),
    "name_conflict": ("与本区已登记的名称冲突", "Conflicts with a name registered in the district"),
    "prohibited_word": ("含有禁用或须批准的词语", "Contains a prohibited word"),
    "invalid_name": ("名称结构不符合要求", "The name is not well formed"),
}
_OTHER = ("登记机关不接受该名称", "The registration authority does not accept the name")


class NameCheckResult(BaseModel):
    """The authority's verdict on a name, with our words for it and the bureau's own."""

    model_config = ConfigDict(frozen=True)

    district_code: str
    name: str
    available: bool
    code: str
    message_zh: str
    message_en: str
    authority_message: str  # the bureau's sentence, in its words (Chinese)


class AuthorityUnavailable(DomainError):
    """The registration authority did not answer: try again shortly."""

    status_code = 503
    code = "authority_unavailable"

    def headers(self) -> dict[str, str]:
        """When to ask again."""
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _invalid(field: str, code: str, zh: str, en: str) -> Invalid:
    error = FieldError(field=field, code=code, message_zh=zh, message_en=en)
    return Invalid("填写有误，请按字段修改", "some fields are invalid", errors=[error.model_dump()])


def check_name(adapters: Mapping[str, Any], *, district_code: str, name: str) -> NameCheckResult:
    """Ask the registration authority whether `name` could be registered in the district."""
    name = name.strip()
    if district_code not in load_reference().districts:
        raise _invalid(
            "district_code",
            "district_unknown",
            f"未知的区划代码 {district_code}"[:200],
            f"unknown district {district_code}"[:200],
        )
    if not MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH:
        raise _invalid(
            "name",
            "name_length",
            f"名称须为{MIN_NAME_LENGTH}至{MAX_NAME_LENGTH}个字",
            f"a name has {MIN_NAME_LENGTH} to {MAX_NAME_LENGTH} characters",
        )
    adapter = adapters["registration"]
    assert isinstance(adapter, RegistrationAdapter), "the registration adapter checks names"
    try:
        answer = adapter.check_name(district_code, name)
    except AgencyError as exc:
        raise AuthorityUnavailable(
            "登记机关暂时无法核名，请稍后再试",
            "the registration authority cannot check names just now; try again shortly",
        ) from exc
    zh, en = VERDICTS.get(answer.code, VERDICTS["available"] if answer.available else _OTHER)
    return NameCheckResult(
        district_code=district_code,
        name=name,
        available=answer.available,
        code=answer.code,
        message_zh=zh,
        message_en=en,
        authority_message=answer.message,
    )
