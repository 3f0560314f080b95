"""Validation errors in Chinese and English, for every input a person writes: the API's
bodies, the filing schema, scenario and data files.

One catalogue of messages: each domain registers its error codes, with a message in each
language (`register`), and raises them with `fail(code, **ctx)` — a `PydanticCustomError`
whose type is the code and whose message reads "中文 / English". `field_errors` turns any
`ValidationError`, ours and pydantic's built-in ones, into `FieldError`s, each naming its
field by a dotted path: what the API's 422 lists and what a data file's report prints
beside its line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, core_schema

Loc = tuple[str | int, ...]
"""Where an error is: pydantic's location, field names and list indices."""

SEPARATOR = " / "

# code: (Chinese, English); {placeholders} come from the error's ctx.
_CATALOGUE: dict[str, tuple[str, str]] = {}
# Discriminated unions put the chosen tag in an error's path (delivery.courier.mobile); a
# form knows only delivery.mobile.
_TAGGED_UNIONS: dict[str, frozenset[str]] = {}
_BUILTIN_ERROR_TYPES = frozenset(get_args(core_schema.ErrorType))


def register(messages: Mapping[str, tuple[str, str]]) -> Mapping[str, tuple[str, str]]:
    """Add a domain's error codes to the catalogue; returns `messages`. A code registered
    twice is a mistake in the code, refused at import."""
    clash = sorted(set(messages) & set(_CATALOGUE))
    if clash:
        raise ValueError(f"validation error codes registered twice: {clash}")
    _CATALOGUE.update(messages)
    return messages


def register_tagged_union(field: str, tags: Iterable[str]) -> None:
    """Say that `field` is a discriminated union whose tags name no field of a form."""
    _TAGGED_UNIONS[field] = frozenset(tags)


def message(code: str) -> tuple[str, str]:
    """The (Chinese, English) templates of a registered code."""
    return _CATALOGUE[code]


def fail(code: str, /, **ctx: str | int) -> PydanticCustomError:
    """The error for `code`, its message "中文 / English" filled from `ctx`."""
    zh, en = _CATALOGUE[code]
    return PydanticCustomError(code, zh + SEPARATOR + en, ctx or None)


def error_at(loc: Loc, error: PydanticCustomError, value: Any) -> InitErrorDetails:
    """`error` at `loc`, about `value`, to raise among others."""
    return InitErrorDetails(type=error, loc=loc, input=value)


class Errors:
    """Errors found by one validator, each at its own place, raised together."""

    def __init__(self, title: str) -> None:
        self._title = title
        self._items: list[InitErrorDetails] = []

    def add(self, loc: Loc, error: PydanticCustomError, value: Any) -> None:
        """Note `error` at `loc`."""
        self._items.append(error_at(loc, error, value))

    def raise_any(self) -> None:
        """Raise one `ValidationError` holding every error noted, if there is one.

        Raised inside a validator, it keeps its locations, prefixed with the field's, so one
        validator can flag several nested fields at once.
        """
        raise_if_any(self._title, self._items)


def raise_if_any(title: str, errors: list[InitErrorDetails]) -> None:
    """Raise one `ValidationError` holding `errors`, if there are any."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def raise_with(
    title: str,
    errors: list[InitErrorDetails],
    exc: ValidationError,
    *,
    prefix: Loc = (),
    skip_missing: frozenset[Loc] | set[Loc] = frozenset(),
) -> NoReturn:
    """Raise one `ValidationError` holding `errors` and those of `exc` (prefixed).

    A validator that finds problems of its own and then lets pydantic validate the rest
    reports both at once, each at its own place. `missing` errors at `skip_missing` are
    left out unless nothing else would be reported.
    """
    found = exc.errors(include_url=False)
    kept = [e for e in found if not (e["type"] == "missing" and tuple(e["loc"]) in skip_missing)]
    raise ValidationError.from_exception_data(
        title,
        [*errors, *(as_init(error, prefix) for error in (kept if errors or kept else found))],
    )


def as_init(error: ErrorDetails, prefix: Loc = ()) -> InitErrorDetails:
    """A reported error, ready to be raised again (under `prefix`) among others."""
    loc = (*prefix, *error["loc"])
    ctx = error.get("ctx")
    if error["type"] in _BUILTIN_ERROR_TYPES:
        details = InitErrorDetails(type=error["type"], loc=loc, input=error["input"])
        if ctx is not None:
            details["ctx"] = ctx
        return details
    custom = PydanticCustomError(error["type"], error["msg"], ctx)
    return InitErrorDetails(type=custom, loc=loc, input=error["input"])


class FieldError(BaseModel):
    """One refusal, on one field, in both languages: what the API returns in a 422."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str  # dotted path, e.g. "shareholders.1.id_number"; "" for the whole input
    code: str
    message_zh: str
    message_en: str


_BUILTIN_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("必填项", "This field is required"),
    "extra_forbidden": ("不允许的字段", "This field is not allowed"),
    "string_type": ("须为文本", "Must be text"),
    "string_too_short": ("至少{min_length}个字符", "Must have at least {min_length} characters"),
    "string_too_long": ("最多{max_length}个字符", "Must have at most {max_length} characters"),
    "string_pattern_mismatch": ("格式不正确", "Wrong format"),
    "int_type": ("须为整数", "Must be a whole number"),
    "int_parsing": ("须为整数", "Must be a whole number"),
    "int_from_float": ("须为整数，不能有小数", "Must be a whole number, without decimals"),
    "float_type": ("须为数字", "Must be a number"),
    "float_parsing": ("须为数字", "Must be a number"),
    "finite_number": ("须为有限的数字", "Must be a finite number"),
    "bool_type": ("须为是或否", "Must be true or false"),
    "bool_parsing": ("须为是或否", "Must be true or false"),
    "date_type": ("须为日期（YYYY-MM-DD）", "Must be a date (YYYY-MM-DD)"),
    "date_parsing": ("须为日期（YYYY-MM-DD）", "Must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": ("须为日期（YYYY-MM-DD）", "Must be a date (YYYY-MM-DD)"),
    "date_from_datetime_inexact": ("须为日期，不能带时间", "Must be a date without a time"),
    "greater_than": ("须大于{gt}", "Must be greater than {gt}"),
    "greater_than_equal": ("不能小于{ge}", "Must be at least {ge}"),
    "less_than": ("须小于{lt}", "Must be less than {lt}"),
    "less_than_equal": ("不能大于{le}", "Must be at most {le}"),
    "multiple_of": ("须为{multiple_of}的倍数", "Must be a multiple of {multiple_of}"),
    "too_short": ("至少需要{min_length}项", "Needs at least {min_length} item(s)"),
    "too_long": ("最多{max_length}项", "Takes at most {max_length} item(s)"),
    "literal_error": ("须为以下之一：{expected}", "Must be one of: {expected}"),
    "enum": ("须为以下之一：{expected}", "Must be one of: {expected}"),
    "union_tag_invalid": (
        "类型“{tag}”无效，须为以下之一：{expected_tags}",
        "Unknown kind {tag}; expected one of: {expected_tags}",
    ),
    "union_tag_not_found": (
        "缺少类型字段“{discriminator}”",
        "The {discriminator} field is missing",
    ),
    "model_type": ("须为对象", "Must be an object"),
    "model_attributes_type": ("须为对象", "Must be an object"),
    "dict_type": ("须为对象", "Must be an object"),
    "list_type": ("须为列表", "Must be a list"),
    "tuple_type": ("须为列表", "Must be a list"),
    "set_type": ("须为列表", "Must be a list"),
    "json_invalid": ("JSON格式错误", "Invalid JSON"),
    "json_type": ("须为JSON", "Must be JSON"),
    "value_error": ("取值无效：{error}", "Invalid value: {error}"),
    "assertion_error": ("取值无效：{error}", "Invalid value: {error}"),
}
_EMPTY_MESSAGE = ("不能为空", "Must not be empty")
_FALLBACK_ZH = "输入无效"


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Every error of `exc` as a `FieldError`, in Chinese and English."""
    return field_errors_from_dicts(exc.errors(include_url=False))


def field_errors_from_dicts(
    errors: Iterable[Mapping[str, Any]], *, strip_prefix: Sequence[str | int] = ()
) -> list[FieldError]:
    """Translate pydantic error dicts (from any source, e.g. FastAPI's with `("body",)`
    as `strip_prefix`) into `FieldError`s."""
    result: list[FieldError] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if strip_prefix and loc[: len(strip_prefix)] == tuple(strip_prefix):
            loc = loc[len(strip_prefix) :]
        code = str(error.get("type", "value_error"))
        ctx: Mapping[str, Any] = error.get("ctx") or {}
        zh, en = _messages(code, ctx, str(error.get("msg", "")))
        result.append(FieldError(field=_field_path(loc), code=code, message_zh=zh, message_en=en))
    return result


def bilingual(error: ErrorDetails) -> str:
    """One error's message, "中文 / English" (for a data file's report)."""
    (found,) = field_errors_from_dicts([error])
    return f"{found.message_zh}{SEPARATOR}{found.message_en}"


def _messages(code: str, ctx: Mapping[str, Any], msg: str) -> tuple[str, str]:
    if code in _CATALOGUE:
        zh, en = _CATALOGUE[code]
    elif code in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        zh, en = _EMPTY_MESSAGE
    elif code in _BUILTIN_MESSAGES:
        zh, en = _BUILTIN_MESSAGES[code]
    elif SEPARATOR in msg:  # someone else's PydanticCustomError in our "中文 / English" style
        zh, _, en = msg.partition(SEPARATOR)
        return zh, en
    else:
        return f"{_FALLBACK_ZH}（{msg}）" if msg else _FALLBACK_ZH, msg or "Invalid value"
    return _format(zh, ctx, chinese=True), _format(en, ctx, chinese=False)


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(template: str, ctx: Mapping[str, Any], *, chinese: bool) -> str:
    values = _Placeholders()
    for key, value in ctx.items():
        text = f"{value:g}" if isinstance(value, float) else str(value)
        if chinese and key in ("expected", "expected_tags"):
            text = text.replace(" or ", "、").replace(", ", "、")
        values[key] = text
    return template.format_map(values)


def _field_path(loc: Sequence[str | int]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if i > 0 and isinstance(loc[i - 1], str):
            tags = _TAGGED_UNIONS.get(str(loc[i - 1]))
            if tags is not None and part in tags:
                continue
        parts.append(str(part))
    return ".".join(parts)
