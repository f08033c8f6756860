"""compare/reference/: the result set the page shows where this machine has no report of its
own, a full run with its date, machine and commit (meta.json). `make reference` runs every
report into reports/ and then `python -m compare --save-reference` copies them here:

    compare/reference/
      meta.json                  date, machine, commit (and what is not a measurement)
      conformance.json           python -m conformance --serve-all
      native/conformance.json    the suite on impl_<name>/native.py (the documented ways)
      fuzz/<impl>/summary.json   python -m conformance.fuzz
      fuzz/differential.md       its replay of every recorded request
      bench.json                 python -m bench (the full run, never the smoke)
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import machine as bench_machine
from compare.sources import ROOT, is_smoke

FILES = ("conformance.json", "native/conformance.json", "bench.json", "fuzz/differential.md")


def machine() -> str:
    """The machine as one line, from the bench's own description of it."""
    found = bench_machine()
    return f"{found['cpu_model']}, {found['cpus']} CPUs, {found['system']} {found['kernel']}"


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() or "?"


def slim(report: dict[str, Any]) -> dict[str, Any]:
    """A conformance report as the reference keeps it, small: each failed case's traceback cut
    to its `E` lines and its message to its first line (what the page shows), without the
    whole exchanges the suite keeps of a failing case (the page does not show them), and no
    separate `failures` list (the same cases are in `checks`)."""
    for check in report.get("checks") or []:
        for result in (check.get("results") or {}).values():
            for case in result.get("cases") or []:
                case.pop("exchanges", None)
                if isinstance(case.get("detail"), str):
                    kept = [line for line in case["detail"].splitlines() if line.startswith("E ")]
                    case["detail"] = "\n".join(kept[:5])
                if isinstance(case.get("message"), str):
                    case["message"] = case["message"].strip().split("\n", 1)[0][:300]
    report.pop("failures", None)
    return report


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


def describe_bench(report: dict[str, Any]) -> str:
    """What a bench run measured, in a phrase, from its own report (for meta.json's "bench",
    which the page and the README print beside its figures)."""
    meta = _get(report, "meta")
    options = _get(meta, "options") or {}
    scenarios = _get(options, "scenarios")
    targets = _get(report, "targets")
    parts = ["python -m bench"]
    if isinstance(targets, dict):
        parts.append(f"{len(targets)} targets")
    if isinstance(scenarios, list):
        parts.append("scenarios " + ", ".join(str(s) for s in scenarios))
    if all(isinstance(_get(options, k), int) for k in ("runs", "seconds", "warmup_s")):
        parts.append(
            f"{options['runs']} runs of {options['seconds']} s after "
            f"{options['warmup_s']} s of warm-up"
        )
    duration = _get(meta, "duration_s")
    if isinstance(duration, int | float):
        parts.append(f"{duration / 60:.0f} min")
    return ", ".join(parts)


def describe_fuzz(summaries: list[dict[str, Any]], *, replayed: bool) -> str:
    """What the fuzz runs were, in a phrase, from their summaries."""
    runs = [r for s in summaries for r in (_get(s, "runs") or []) if isinstance(r, dict)]
    seeds = sorted({str(r["seed"]) for r in runs if "seed" in r})
    examples = sorted({str(r["examples"]) for r in runs if "examples" in r})
    cases = sum(r["cases"] for r in runs if isinstance(r.get("cases"), int))
    failures = sum(len(r["failures"]) for r in runs if isinstance(r.get("failures"), list))
    return (
        f"python -m conformance.fuzz: {len(summaries)} implementations, {len(runs)} runs, "
        f"seed {', '.join(seeds) or '?'}, {', '.join(examples) or '?'} examples per operation "
        f"and phase, {cases:,} cases, {failures} failures; "
        + ("every request replayed against every implementation (fuzz/differential.md)"
           if replayed else "no replay across implementations")
    )  # fmt: skip


def save(reports: Path, reference: Path) -> str:
    """Copy the reports of `reports` into `reference` (a smoke bench is refused); returns what
    was copied, as a line."""
    copied = []
    for name in FILES:
        source = reports / name
        if not source.exists():
            continue
        if name == "bench.json" and is_smoke(json.loads(source.read_text())):
            continue
        (reference / name).parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("conformance.json"):
            data = slim(json.loads(source.read_text()))
            (reference / name).write_text(json.dumps(data, separators=(",", ":")) + "\n")
        else:
            shutil.copyfile(source, reference / name)
        copied.append(name)
    for summary in sorted((reports / "fuzz").glob("*/summary.json")):
        target = reference / summary.relative_to(reports)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(summary, target)
        copied.append(str(summary.relative_to(reports)))
    meta: dict[str, str] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "commit": commit(),
        "note": "made by make reference: " + (", ".join(copied) or "nothing"),
    }
    if "bench.json" in copied:
        meta["bench"] = describe_bench(json.loads((reference / "bench.json").read_text()))
    summaries = [s for s in copied if s.startswith("fuzz/") and s.endswith("summary.json")]
    if summaries:
        meta["fuzz"] = describe_fuzz(
            [json.loads((reference / s).read_text()) for s in summaries],
            replayed="fuzz/differential.md" in copied,
        )
    (reference / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return f"{reference}: {', '.join(copied) or 'nothing'} (+ meta.json)"
