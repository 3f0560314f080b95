"""YAML data files whose every problem names its file, line and field.

`read_yaml` parses a file once, keeping the line of every node by its path in the data
(`("filings", 3, "data", "shareholders", 0, "id_number")` → 42). `validate_yaml` checks the
data against a pydantic model and turns a `ValidationError` into a `YamlDataError` whose
message reads like a compiler's:

    scenarios/demo.yaml:42: filings.3.data.shareholders.0.id_number: 身份证号码校验码不符 / …

Syntax errors and repeated keys are reported the same way. Nothing here knows what the
file holds, so any YAML data file can use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from orchestrator.validation import Loc

"""A path into the data: mapping keys and sequence indexes."""

M = TypeVar("M", bound=BaseModel)

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file, where it is and what it is."""

    file: str
    line: int | None  # 1-based; None when the file as a whole is at fault
    field: str  # dotted data path, e.g. "filings.3.data.company_name"; "" for the document
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class YamlDataError(ValueError):
    """A data file that cannot be read, parsed or validated; one line per problem."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class LocatedYaml:
    """A parsed YAML document and the 1-based line of each of its nodes, by data path."""

    file: str
    data: Any
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the node at `path`, or of its nearest ancestor in the file."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def locate(self, loc: Sequence[str | int]) -> tuple[str, int | None]:
        """The dotted field and the line that a pydantic error location `loc` points at.

        A location may hold steps that are not in the data: the tag of a discriminated union
        (`delivery.courier.mobile` for `delivery.mobile`) or a validator's name. They are
        skipped when a later step is found in the data, or when they name the union's tag
        value, so that the field reads as the author wrote it. Steps past the deepest node
        found (a missing field) are kept in the field and the line is that node's.
        """
        node = self.data
        path: list[str | int] = []  # the data path actually found
        shown: list[str | int] = []  # what the message names
        pending: list[str | int] = []
        for step in loc:
            found, key, child = _child(node, step)
            if found:
                path.append(key)
                shown.append(step)
                node, pending = child, []
            else:
                pending.append(step)
        # Past a scalar there is no data: the rest of the location is pydantic's own.
        if isinstance(node, Mapping | list):
            tags = (
                {value for value in node.values() if isinstance(value, str)}
                if isinstance(node, Mapping)
                else set()
            )
            shown += [
                step
                for i, step in enumerate(pending)
                if not (i == 0 and step in tags)
                and not (isinstance(step, str) and "[" in step)  # 'function-after[...]'
            ]
        return ".".join(str(step) for step in shown), self.line_of(path)

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A `Problem` at the data path `loc`."""
        where, line = self.locate(loc)
        return Problem(file=self.file, line=line, field=where, message=message)


def _child(node: Any, step: str | int) -> tuple[bool, str | int, Any]:
    if isinstance(node, Mapping):
        for key in (step, str(step)):
            if key in node:
                return True, key, node[key]
        return False, step, None
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return True, step, node[step]
    return False, step, None


def pydantic_message(error: ErrorDetails) -> str:
    """The error's own message, without pydantic's "Value error, " prefix."""
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


Describe = Callable[[ErrorDetails], str]


def validation_problems(
    exc: ValidationError,
    doc: LocatedYaml,
    *,
    prefix: Sequence[str | int] = (),
    describe: Describe = pydantic_message,
) -> list[Problem]:
    """Every error of `exc` as a `Problem`, located in `doc` under `prefix`, by line."""
    problems = [
        doc.problem((*prefix, *error["loc"]), describe(error))
        for error in exc.errors(include_url=False)
    ]
    return sorted(problems, key=lambda problem: problem.line or 0)


def validate_yaml(
    model: type[M],
    doc: LocatedYaml,
    *,
    context: Mapping[str, Any] | None = None,
    describe: Describe = pydantic_message,
) -> M:
    """`doc`'s data as a `model`, or a `YamlDataError` naming file, line and field."""
    try:
        return model.model_validate(doc.data, context=dict(context) if context else None)
    except ValidationError as exc:
        raise YamlDataError(validation_problems(exc, doc, describe=describe)) from None


def read_yaml(path: str | os.PathLike[str], *, name: str | None = None) -> LocatedYaml:
    """Read and parse the YAML file at `path`, shown in messages as `name` (default: `path`)."""
    shown = name if name is not None else str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise YamlDataError(
            [Problem(shown, None, "", f"无法读取 / cannot be read: {reason}")]
        ) from None
    return parse_yaml(text, name=shown)


def parse_yaml(text: str, *, name: str) -> LocatedYaml:
    """Parse one YAML document (safe tags only) and record the line of each node."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return LocatedYaml(file=name, data=None, lines={(): 1})
        duplicates = list(_duplicate_keys(node, name))
        if duplicates:
            raise YamlDataError(duplicates)
        data = loader.construct_document(node)
        lines: dict[Loc, int] = {}
        # Walk after construction: merge keys (`<<: *base`) are then flattened into the nodes.
        _record_lines(loader, node, (), lines, set())
    except yaml.MarkedYAMLError as exc:
        raise YamlDataError([_syntax_problem(exc, name)]) from None
    except yaml.YAMLError as exc:
        raise YamlDataError([Problem(name, None, "", f"YAML 错误 / YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    return LocatedYaml(file=name, data=data, lines=lines)


def _syntax_problem(exc: yaml.MarkedYAMLError, name: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = "; ".join(part for part in (exc.context, exc.problem) if part)
    return Problem(
        file=name,
        line=mark.line + 1 if mark is not None else None,
        field="",
        message=f"YAML 语法错误 / YAML syntax error: {what or exc}",
    )


def _key(loader: yaml.SafeLoader, key_node: yaml.Node) -> str | int:
    if isinstance(key_node, yaml.ScalarNode):
        key = loader.construct_object(key_node)
        if isinstance(key, int) and not isinstance(key, bool):
            return key
        return str(key)
    return str(key_node.start_mark)


def _record_lines(
    loader: yaml.SafeLoader, node: yaml.Node, path: Loc, lines: dict[Loc, int], active: set[int]
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in active:  # a recursive alias (`&a [*a]`)
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, _key(loader, key_node))
            # The key's line, not the value's: a nested block starts on the line after it.
            lines[child] = key_node.start_mark.line + 1
            _record_lines(loader, value_node, child, lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(loader, item, (*path, index), lines, active)
    active.discard(id(node))


def _duplicate_keys(root: yaml.Node, name: str) -> Iterable[Problem]:
    """A key given twice in one mapping (PyYAML would keep the last one silently)."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                    if key_node.value in keys:
                        yield Problem(
                            name,
                            key_node.start_mark.line + 1,
                            str(key_node.value),
                            "重复的键 / this key appears twice in the same mapping",
                        )
                    keys.add(key_node.value)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
