"""What the page reads of each report, as a shape, and a reader that keeps what fits it: a field
that is null where a value is needed, or of the wrong type, is dropped and named (file and
field), so that the section built from it can say what it could not read instead of crashing.

A shape is a type (`str`, NUMBER, INT, `bool`), `Opt(shape)` (null allowed), a dict of key ->
shape ("*" for any key: a map), a one-element list `[shape]` (a list of those), or ANY.
Fields a shape does not name are kept as they are: the page does not read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Opt:
    shape: Any


class _Number:
    """int or float, not bool."""


class _Int:
    """int, not bool."""


NUMBER, INT, ANY = _Number(), _Int(), object()
TEXT = {str: "text", bool: "true/false", dict: "an object", list: "a list"}


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    field: str
    expected: str
    found: str

    def __str__(self) -> str:
        return (
            f"{self.file}: could not read {self.field} "
            f"(expected {self.expected}, found {self.found})"
        )


def _name(shape: Any) -> str:
    if isinstance(shape, Opt):
        return _name(shape.shape) + " or null"
    if shape is NUMBER:
        return "a number"
    if shape is INT:
        return "an integer"
    if isinstance(shape, dict):
        return "an object"
    if isinstance(shape, list):
        return "a list"
    return TEXT.get(shape, str(shape))


def _found(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return TEXT.get(type(value), type(value).__name__)


def _fits(shape: Any, value: Any) -> bool:
    if shape is ANY:
        return True
    if shape is NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if shape is INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(shape, dict):
        return isinstance(value, dict)
    if isinstance(shape, list):
        return isinstance(value, list)
    return isinstance(value, shape)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def clean(value: Any, shape: Any, file: str, problems: list[Problem], path: str = "") -> Any:
    """`value` with every part that does not fit `shape` left out, each named in `problems`.
    Returns a sentinel-free value: the caller has already checked `value` fits at the top."""
    if isinstance(shape, Opt):
        return None if value is None else clean(value, shape.shape, file, problems, path)
    if isinstance(shape, dict):
        out = {}
        for key, item in value.items():
            sub = shape.get(key, shape.get("*", ANY))
            kept = _keep(item, sub, file, problems, _join(path, key))
            if kept is not _DROP:
                out[key] = kept
        return out
    if isinstance(shape, list):
        kept_items = []
        for index, item in enumerate(value):
            kept = _keep(item, shape[0], file, problems, _join(path, index))
            if kept is not _DROP:
                kept_items.append(kept)
        return kept_items
    return value


_DROP = object()


def _keep(value: Any, shape: Any, file: str, problems: list[Problem], path: str) -> Any:
    inner = shape.shape if isinstance(shape, Opt) else shape
    if value is None and isinstance(shape, Opt):
        return None
    if not _fits(inner, value):
        problems.append(Problem(file, path, _name(shape), _found(value)))
        return _DROP
    return clean(value, inner, file, problems, path)


def read(data: Any, shape: Any, file: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The report as far as it fits `shape` (None when it is not even an object)."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return None, [Problem(file, "(the whole file)", "an object", _found(data))]
    return clean(data, shape, file, problems), problems


def allows_null(shape: Any, path: list[str | int]) -> bool | None:
    """Whether the field at `path` may be null (None: the shape does not name it)."""
    for key in path:
        if isinstance(shape, Opt):
            shape = shape.shape
        if isinstance(shape, dict) and isinstance(key, str):
            if key not in shape and "*" not in shape:
                return None
            shape = shape.get(key, shape.get("*"))
        elif isinstance(shape, list) and isinstance(key, int):
            shape = shape[0]
        else:
            return None
        if shape is ANY:
            return None
    return isinstance(shape, Opt)


# --- the shapes -------------------------------------------------------------------------------

CASE = {
    "variant": Opt(str),
    "outcome": str,
    "message": Opt(str),
    "reason": Opt(str),
    "detail": Opt(str),
    "properties": Opt({"variant": Opt(str)}),
}
ANSWER = {"status": Opt(INT), "body": ANY, "headers": Opt({"*": ANY}), "labels": Opt([str])}
CONFORMANCE = {
    "generated_at": str,
    "profile": str,
    "versions": {"*": Opt(str)},
    "targets": [{"name": str, "mode": Opt(str), "url": Opt(str), "factory": Opt(str)}],
    "startup_errors": Opt({"*": str}),
    "errors": Opt([str]),
    "summary": {
        "*": {
            **{
                f"{level}_{how}": INT
                for level in ("must", "should")
                for how in ("passed", "failed")
            },
            "skipped": INT,
            "blocked": INT,
            "*": ANY,
        }
    },
    "checks": [
        {
            "id": str,
            "level": str,
            "rule": str,
            "title": str,
            "results": {"*": {"outcome": str, "cases": [CASE]}},
        }
    ],
    "skipped": Opt([{"check": str, "target": str, "reason": Opt(str)}]),
    "rules": Opt([{"rule": str, "title": Opt(str), "checks": [str]}]),
    "differential": Opt(
        {
            "targets": [str],
            "requests": INT,
            "findings": [
                {
                    "probe": str,
                    "request": str,
                    "differs_in": [str],
                    "answers": {"*": ANSWER},
                }
            ],
            "framework_differences": [{"probe": str, "request": str, "answers": {"*": [str]}}],
        }
    ),
}
SPREAD = {"median": NUMBER, "min": NUMBER, "max": NUMBER}
SCENARIO = {
    "requests_per_s": Opt(SPREAD),
    "p99_ms": Opt(SPREAD),
    "logins_per_s": Opt(SPREAD),
    "argon2_alone_per_s": Opt(SPREAD),
    "logins_503": Opt(INT),
    "us_per_request": Opt(SPREAD),
    "cpu_us_per_request": Opt(SPREAD),
    "runs": [
        {"requests_per_s": NUMBER, "latency_ms": {"p50": NUMBER, "p90": NUMBER, "p99": NUMBER}}
    ],
}
BENCH = {
    "meta": {
        "started": str,
        "duration_s": NUMBER,
        "python": str,
        "machine": {"cpu_model": str, "cpus": INT, "kernel": str},
        "versions": {"*": Opt(str)},
        "options": {
            "seconds": NUMBER,
            "runs": INT,
            "connections": INT,
            "server_cpus": Opt(str),
            "client_cpus": Opt(str),
            "smoke": Opt(bool),
        },
    },
    "targets": {
        "*": {
            "kind": str,
            "framework": Opt(str),
            "cold_start_s": Opt(NUMBER),
            "peak_rss_kib": Opt(NUMBER),
            "memory_kib": Opt({"*": {"VmRSS": NUMBER}}),
            "scenarios": {"*": Opt(SCENARIO)},
            "soak": Opt({"rss_kib": [[NUMBER]], "growth_second_half_kib": Opt(NUMBER)}),
        }
    },
    "goals": Opt(
        [
            {
                "id": str,
                "target": str,
                "scenario": str,
                "rule": str,
                "observed": str,
                "met": Opt(bool),
            }
        ]
    ),
    "failed": Opt([str]),
    "ladders": Opt(
        [
            {
                "framework": str,
                "scenario": str,
                "rungs": {
                    "*": {
                        "target": str,
                        "us_per_request": Opt(NUMBER),
                        "cpu_us_per_request": Opt(NUMBER),
                    }
                },
                "deltas": Opt({"*": {"us": Opt(NUMBER), "cpu_us": Opt(NUMBER)}}),
            }
        ]
    ),
}
FUZZ = {
    "implementation": str,
    "runs": [
        {
            "document": str,
            "cases": INT,
            "seconds": NUMBER,
            "per_phase": {"*": INT},
            "links_covered": Opt(str),
            "failures": [{"title": str, "count": INT, "operations": [str]}],
            "errors": Opt([ANY]),
        }
    ],
}
META = {
    "date": str,
    "machine": str,
    "commit": str,
    "note": Opt(str),
    "bench": Opt(str),
    "fuzz": Opt(str),
}


def free(shape: Any, path: list[str | int]) -> bool:
    """Whether the field at `path` lies inside an ANY: a value the page shows as recorded,
    whatever its type (an answer's body)."""
    for key in path:
        if shape is ANY:
            return True
        if isinstance(shape, Opt):
            shape = shape.shape
        if isinstance(shape, dict) and isinstance(key, str):
            shape = shape.get(key, shape.get("*"))
        elif isinstance(shape, list) and isinstance(key, int):
            shape = shape[0]
        else:
            return False
    return shape is ANY
