"""No report content can break the page or become markup: every field of the fixture reports
(leaves, objects and lists), replaced with null and with a value of the wrong type (one field
at a time, once per distinct field path), gives a page; where the page reads that field, the
section says which file and field it could not read, and where it does not, the page is
unchanged."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from compare import adapters, page, schema, sources, targets

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "compare"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
FILES = {
    "conformance.json": schema.CONFORMANCE,
    "native/conformance.json": schema.CONFORMANCE,
    "bench.json": schema.BENCH,
    "fuzz/litestar/summary.json": schema.FUZZ,
}
ADAPTERS = adapters.load(ROOT, targets.implementations())


def leaves(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every field: the leaves, and the objects and lists on the way (but the whole file)."""
    if path and isinstance(value, dict | list):
        yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def kind(path: tuple[str | int, ...]) -> str:
    """A path with list indexes and map keys of one kind folded: one mutation per field."""
    return ".".join("[]" if isinstance(p, int) else p for p in path)


def wrong(value: Any) -> Any:
    return 12345 if isinstance(value, str) or value is None else "not-a-number"


def fold_maps(path: tuple[str | int, ...]) -> str:
    # Map keys (targets, results, answers, scenarios...) vary per target: fold them too.
    folded = []
    for index, part in enumerate(path):
        parent = path[index - 1] if index else None
        folded.append("*" if parent in ("targets", "results", "answers", "summary", "scenarios",
                                         "versions", "per_phase", "statuses", "memory_kib")
                      and isinstance(part, str) and parent != path[0:1] else part)  # fmt: skip
    return kind(tuple(folded))


def cases() -> Iterator[tuple[str, tuple[str | int, ...], str]]:
    for file in FILES:
        data = json.loads((FIXTURES / file).read_text())
        seen: set[str] = set()
        for path, _ in leaves(data):
            key = fold_maps(path)
            if key in seen:
                continue
            seen.add(key)
            yield file, path, "null"
            yield file, path, "wrong"


def field_name(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("robust") / "reports"
    shutil.copytree(FIXTURES, directory, ignore=shutil.ignore_patterns("*.py"),
                    copy_function=shutil.copy)  # fmt: skip
    return directory


def build(directory: Path) -> str:
    out = directory / "index.html"
    page.build(sources.load(directory, reference=None), ADAPTERS, out, now=NOW, charts=False)
    return out.read_text()


@pytest.fixture(scope="module")
def baseline(base: Path) -> str:
    return build(base)


def test_every_field_null_or_of_the_wrong_type_gives_a_page(
    base: Path, baseline: str, tmp_path: Path
) -> None:
    checked = named = unchanged = 0
    for file, path, mutation in cases():
        original = json.loads((FIXTURES / file).read_text())
        data = copy.deepcopy(original)
        holder = data
        for part in path[:-1]:
            holder = holder[part]
        value = holder[path[-1]]
        shape = FILES[file]
        if mutation == "null" and (value is None or schema.allows_null(shape, list(path))):
            continue  # null is a value this field may have
        holder[path[-1]] = None if mutation == "null" else wrong(value)
        (base / file).write_text(json.dumps(data))
        try:
            text = build(base)
        finally:
            (base / file).write_text(json.dumps(original))
        checked += 1
        assert text.startswith("<!doctype html>"), (file, path, mutation)
        field = field_name(path)
        said = re.search(
            rf"<code>reports/{re.escape(file)}</code>: "
            rf"could not read <code>{re.escape(field)}</code>",
            text,
        )
        if said:
            named += 1
        elif schema.free(shape, list(path)):
            continue  # shown as recorded, whatever its type (an answer's body)
        else:
            # A field the page does not read: the page must not have changed at all.
            assert text == baseline, f"{file} {field} {mutation}: page changed, no error named"
            unchanged += 1
    assert checked > 300, (checked, named, unchanged)
    assert named > 150, (checked, named, unchanged)


def test_a_missing_or_unreadable_file_is_named(base: Path, tmp_path: Path) -> None:
    directory = tmp_path / "reports"
    shutil.copytree(base, directory)
    (directory / "bench.json").write_text("[1, 2]")
    (directory / "native" / "conformance.json").write_text("{not json")
    (directory / "conformance.json").unlink()
    text = build(directory)
    assert "reports/bench.json is not a JSON object" in text
    assert "reports/native/conformance.json could not be read" in text
    assert "No <code>reports/conformance.json</code>" in text


def test_no_report_value_is_markup(base: Path, tmp_path: Path) -> None:
    directory = tmp_path / "reports"
    shutil.copytree(base, directory)
    evil = "<script>alert(1)</script>"
    report = json.loads((directory / "conformance.json").read_text())
    report["targets"][0]["name"] = evil
    report["checks"][0]["title"] = evil
    report["checks"][0]["results"][evil] = report["checks"][0]["results"]["fastapi"]
    report["summary"][evil] = report["summary"]["fastapi"]
    (directory / "conformance.json").write_text(json.dumps(report))
    bench = json.loads((directory / "bench.json").read_text())
    bench["meta"]["machine"]["cpu_model"] = evil
    (directory / "bench.json").write_text(json.dumps(bench))
    text = build(directory)
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
