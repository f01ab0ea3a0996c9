"""``make bench``: every figure of issue 7 in one go, on 127.0.0.1, each a median of several runs beside its goal.

Writes ``bench/results/report.md`` and ``report.json`` and replaces the ``## Performance`` section of
docs/performance.md.
``--quick`` takes fewer rounds and sizes (a smoke run, not figures to quote); ``--only`` runs some sections and
updates just those in an existing full report; ``--no-readme`` leaves docs/performance.md alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import apps, backlog, hostile, load, overhead, scale, startup, streams, structured, uploads  # noqa: E402
from bench.common import emulator, running  # noqa: E402

RESULTS = ROOT / "bench" / "results"
README = ROOT / "docs" / "performance.md"  # the figures' page (the README links it)
COMMAND = "make bench"
SECTIONS = (
    "overhead",
    "startup",
    "scale",
    "backlog",
    "uploads",
    "streams",
    "generation",
    "apps",
    "hostile",
    "structured",
)


def _impl() -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def _machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "uvicorn": _impl(),
        "load_tool": load.tool(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _generation(workdir: Path, quick: bool) -> dict[str, Any]:
    """``bench/generation.py``'s measure, on a server of its own; a summary line for the table."""
    from bench import generation

    server = emulator(workdir / "generation", extra=("--pending-seconds", "0", "--seed", "1"))
    with running(server):
        result = generation.measure(server, **({"seconds": 1.0, "streams": 10} if quick else {}))
    rps, first = result["rps"], result["first_chunk_ms"]
    concurrent = next(k for k in rps["catalog"] if k.startswith("concurrent"))
    result["summary"] = (
        f"{rps['catalog'][concurrent]:.0f} req/s non-streaming ({concurrent.replace('_', ' ')}; "
        f"{rps['catalog']['sequential']:.0f} one at a time; fine-tuned model {rps['finetuned'][concurrent]:.0f}); "
        f"first SSE chunk {_first(first['native_sse'])} native, {_first(first['openai_stream'])} OpenAI stream"
    )
    return result


def _first(stats: dict[str, float]) -> str:
    keys = sorted(stats)
    p50 = next((stats[k] for k in keys if "median" in k or "p50" in k), None)
    p95 = next((stats[k] for k in keys if "p95" in k), None)
    return f"p50 {p50} ms" + (f", p95 {p95} ms" if p95 is not None else "") if p50 is not None else json.dumps(stats)


def run_sections(workdir: Path, only: tuple[str, ...], quick: bool) -> dict[str, Any]:
    plan: dict[str, Callable[[Path], dict[str, Any]]] = {
        "overhead": lambda w: overhead.measure(w, rounds=2 if quick else 5),
        "startup": lambda w: startup.measure(w, rounds=2 if quick else 5),
        "scale": lambda w: scale.measure(w, rounds=1 if quick else 3, sizes=(100, 10_000) if quick else scale.SIZES),
        "backlog": lambda w: backlog.measure(
            w, rounds=1 if quick else 3, sizes=(100, 1000) if quick else backlog.SIZES
        ),
        "uploads": lambda w: uploads.measure(w, rounds=1 if quick else 3),
        "streams": lambda w: streams.measure(w, rounds=1 if quick else 3),
        "generation": lambda w: _generation(w, quick),
        "structured": lambda w: structured.measure(w, seconds=1.0 if quick else 2.0, rounds=2 if quick else 5),
        "apps": lambda w: apps.measure(w, rounds=3 if quick else 15, lines=5_000 if quick else apps.MAX_REQUESTS),
        "hostile": lambda w: hostile.measure(w),
    }
    results: dict[str, Any] = {}
    for name in only:
        print(f"[bench] {name} ...", flush=True)
        started = time.monotonic()
        section_dir = workdir / name
        section_dir.mkdir(parents=True, exist_ok=True)
        try:
            results[name] = plan[name](section_dir)
        except Exception as exc:  # one broken section must not lose the others' figures
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            shutil.rmtree(section_dir, ignore_errors=True)
        results[name]["section_seconds"] = round(time.monotonic() - started, 1)
        print(f"[bench] {name} done in {results[name]['section_seconds']} s", flush=True)
    return results


# ---------------------------------------------------------------- report


def _ok(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "n/a"}[met]


Row = tuple[str, str, str, bool | None]  # (figure, result, goal, met)


def _overhead_rows(o: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    labels = (
        ("job", "GET /api/v1/fine-tunes/{id}"),
        ("files", "GET /api/v1/files"),
        ("job_queued", "GET /api/v1/fine-tunes/{id}, 100 queued in the tenant"),
    )
    for name, label in labels:
        if name not in o:
            continue
        e, b = o[name]["emulator"], o[name]["bare"]
        rows.append(
            (
                f"Request overhead: {label}",
                f"ratio {o[name]['ratio']:.2f} ({e['rps']:.0f} vs bare {b['rps']:.0f} req/s; p50 "
                f"{e['p50_ms']:.2f} vs {b['p50_ms']:.2f} ms, p99 {e['p99_ms']:.1f} vs {b['p99_ms']:.1f} ms; "
                f"CPU/req {e['cpu_us_per_req']:.0f} vs {b['cpu_us_per_req']:.0f} µs)",
                "ratio ≥ 0.7",
                o[name]["ratio"] >= 0.7,
            )
        )
    return rows


def _startup_rows(s: dict[str, Any]) -> list[Row]:
    ratio = max(s["fresh_db_s"], s["existing_db_s"]) / s["bare_s"]
    return [
        (
            "Start-up to first healthy answer",
            f"{s['fresh_db_s']:.2f} s fresh db, {s['existing_db_s']:.2f} s "
            f"existing db (bare Starlette app: {s['bare_s']:.2f} s; {ratio:.2f}x)",
            "< 0.5 s and within 1.3x bare",
            max(s["fresh_db_s"], s["existing_db_s"]) < 0.5 and ratio <= 1.3,
        ),
        (
            "First answers after start (each imports its endpoint)",
            f"file list {1000 * s['first_files_s']:.0f} ms (then {1000 * s['files_again_s']:.1f} ms), "
            f"text generation {1000 * s['first_generation_s']:.0f} ms",
            "(reported)",
            None,
        ),
        (
            "Idle RSS",
            f"{s['idle_rss_mb']:.1f} MB (bare app: {s['bare_idle_rss_mb']:.1f} MB)",
            "< 80 MB",
            s["idle_rss_mb"] < 80,
        ),
    ]


def _scale_rows(c: dict[str, Any]) -> list[Row]:
    sizes = list(c["sizes"])
    rows: list[Row] = []
    for name, label in (
        ("status_finished", "status read (finished job)"),
        ("status_running", "status read (running job)"),
        ("list_jobs", "job list page"),
        ("list_files", "file list page"),
    ):
        p50s = " → ".join(f"{c['sizes'][s][name]['p50_ms']:.2f}" for s in sizes)
        rows.append(
            (
                f"Scale: {label}",
                f"p50 {p50s} ms at {' / '.join(f'{int(s):,}' for s in sizes)} stored ({c['p50_growth'][name]:.2f}×)",
                "≤ 1.5×",
                c["p50_growth"][name] <= 1.5,
            )
        )
    rows.append(
        (
            "Database size",
            f"{c['db_bytes_per_job'] / 1024:.1f} KB per job, {c['db_bytes_per_file'] / 1024:.1f} KB per file",
            "(no goal)",
            None,
        )
    )
    return rows + _world_rows(c["services"]) if "services" in c else rows


def _world_rows(w: dict[str, Any]) -> list[Row]:
    sizes = list(w["sizes"])
    small, large = w["sizes"][sizes[0]], w["sizes"][sizes[-1]]
    built = f"{int(sizes[-1]):,} jobs over {large['tenants']:,} tenants built through the services"
    rows: list[Row] = []
    for name, label in (
        ("status_queued_p50_ms", "status read (queued job)"),
        ("status_running_p50_ms", "status read (running job)"),
        ("status_finished_p50_ms", "status read (finished job)"),
        ("list_jobs_p50_ms", "job list page"),
        ("create_p50_ms", "create"),
    ):
        growth = w["p50_growth"][name]
        rows.append(
            (
                f"Scale, mixed world: {label}",
                f"p50 {small[name]:.2f} → {large[name]:.2f} ms, {int(sizes[0]):,} → {built} ({growth:.2f}×)",
                "≤ 1.5×",
                growth <= 1.5,
            )
        )
    return rows


def _backlog_rows(q: dict[str, Any]) -> list[Row]:
    small, large = (q["sizes"][k] for k in q["sizes"])
    n_small, n_large = (f"{int(k):,}" for k in q["sizes"])
    rows: list[Row] = []
    for name, label in (
        ("create_p50_ms", "create"),
        ("status_p50_ms", "status read (queued job)"),
        ("list_p50_ms", "job list page"),
    ):
        rows.append(
            (
                f"Queue: {label}",
                f"p50 {small[name]:.2f} → {large[name]:.2f} ms with {n_small} / {n_large} queued in the tenant "
                f"({q['p50_growth'][name]:.2f}×)",
                "≤ 1.5×",
                q["p50_growth"][name] <= 1.5,
            )
        )
    rows += [
        (
            f"Queue: create {n_large} jobs over HTTP",
            f"{large['create_all_seconds']:.1f} s (8 clients); the clock move that queues them all "
            f"{large['advance_to_queued_ms']:.0f} ms",
            "< 60 s",
            large["create_all_seconds"] < 60,
        ),
        (
            "Queue: clock advance that completes one job",
            f"{large['completing_advance_ms']:.1f} ms with {n_large} waiting ({small['completing_advance_ms']:.1f} ms "
            f"with {n_small}; a quiet advance {large['quiet_advance_p50_ms']:.1f} ms)",
            "< 20 ms",
            large["completing_advance_ms"] < 20,
        ),
        (
            "Queue: create in tenant B, 200 streams open in tenant A",
            f"p50 {large['create_p50_ms_200_streams']:.2f} vs {large['create_p50_ms_no_streams']:.2f} ms with none "
            f"({q['streams_ratio']:.2f}×)",
            "≤ 1.5×",
            q["streams_ratio"] <= 1.5,
        ),
    ]
    return rows


def _upload_rows(u: dict[str, Any]) -> list[Row]:
    return [
        (
            "Upload of a 300 MB dataset",
            f"{u['mb_per_s']:.1f} MB/s ({u['seconds']:.1f} s, {u['rows']:,} rows)",
            "(no goal)",
            None,
        ),
        (
            "RSS growth during the upload",
            f"{u['rss_growth_mb']:.1f} MB (worst run {u['rss_growth_max_mb']:.1f} MB)",
            "< 30 MB",
            u["rss_growth_max_mb"] < 30,
        ),
    ]


def _stream_rows(t: dict[str, Any]) -> list[Row]:
    clean = t["starved"] == t["duplicated"] == t["mismatched"] == t["not_closed"] == 0
    return [
        (
            f"{t['streams']} concurrent SSE log streams",
            f"{t['events_per_s']:,.0f} events/s ({t['events']:,.0f} events in {t['seconds']:.1f} s), server CPU "
            f"{t['server_cpu_pct']:.0f}%, longest gap {t['max_gap_s']:.2f} s; starved {t['starved']}, duplicated "
            f"{t['duplicated']}, mismatched {t['mismatched']}",
            "none starved or duplicated",
            clean,
        )
    ]


def _generation_rows(g: dict[str, Any]) -> list[Row]:
    return [("Generation", str(g.get("summary", "")), "(no goal)", None)]


def _structured_rows(s: dict[str, Any]) -> list[Row]:
    rps, ratios = s["rps"], s["ratio_to_plain"]
    labels = (("json_schema", "a json_schema answer (50 properties)"), ("responses", "a Responses API call"))
    return [
        (
            f"Generation: {label}",
            f"ratio {ratios[name]:.2f} to a plain chat completion ({rps[name]:.0f} vs {rps['plain']:.0f} req/s, "
            f"{s['concurrency']} clients, alternating)",
            f"ratio ≥ {s['goal']}",
            ratios[name] >= s["goal"],
        )
        for name, label in labels
    ]


def _apps_rows(a: dict[str, Any]) -> list[Row]:
    e, b = a["embedding"], a["batch"]
    return [
        (
            "Embedding (10 inputs) vs status read",
            f"ratio {e['ratio']:.2f} ({e['embedding_rps']:.0f} vs {e['status_rps']:.0f} req/s; CPU/req "
            f"{e['embedding_cpu_us']:.0f} vs {e['status_cpu_us']:.0f} µs; ten new texts {e['uncached_ms']} ms)",
            "ratio ≥ 0.7",
            e["ratio"] >= 0.7,
        ),
        (
            f"Batch of {b['lines']:,} requests: create → completed",
            f"{b['wall_s']:.1f} s wall ({b['status']}), RSS +{b['rss_growth_mb']:.0f} MB",
            "< 30 s, < 100 MB",
            b["wall_s"] < 30 and b["rss_growth_mb"] < 100 and b["status"] == "completed",
        ),
    ]


def _hostile_rows(h: dict[str, Any]) -> list[Row]:
    """Issue 24's classes: the server's peak RSS, the longest loop block a 10 ms health probe saw, no 5xx."""
    rows: list[Row] = []
    for name, case in h.items():
        if not isinstance(case, dict):
            continue
        statuses = case["statuses"]
        no_5xx = isinstance(statuses, list) and all(s < 500 for s in statuses)
        rows.append(
            (
                f"Hostile: {name.replace('_', ' ')}",
                f"peak RSS {case['peak_rss_mb']:.0f} MB (+{case['rss_growth_mb']:.0f}), longest loop block "
                f"{case['longest_loop_block_ms']} ms, statuses {statuses}",
                "no 5xx, block ≤ 1 s",
                no_5xx and case["longest_loop_block_ms"] <= 1000,
            )
        )
    return rows


ROWS: dict[str, tuple[str, Callable[[dict[str, Any]], list[Row]]]] = {
    "overhead": ("Request overhead", _overhead_rows),
    "startup": ("Start-up", _startup_rows),
    "scale": ("Scale of state", _scale_rows),
    "backlog": ("Queue scale", _backlog_rows),
    "uploads": ("Uploads", _upload_rows),
    "streams": ("Streams", _stream_rows),
    "generation": ("Generation", _generation_rows),
    "structured": ("Structured output and Responses", _structured_rows),
    "apps": ("Embeddings and Batch", _apps_rows),
    "hostile": ("Hostile input", _hostile_rows),
}


def figures(r: dict[str, Any]) -> list[Row]:
    """The table's rows, section by section; a section that failed shows its error."""
    rows: list[Row] = []
    for name in SECTIONS:
        if name in r:
            label, build = ROWS[name]
            rows += [(label, r[name]["error"], "", None)] if "error" in r[name] else build(r[name])
    return rows


NOTES = Path(__file__).with_name("NOTES.md")


def render(results: dict[str, Any], machine: dict[str, Any], quick: bool) -> str:
    lines = [
        "# dashscope-emulator benchmark",
        "",
        f"`{COMMAND}` on {machine['cores']} cores (shared: load average {machine['load_avg_at_start'][0]:.2f} at "
        f"start), Python {machine['python']}, uvicorn on {machine['uvicorn']}, one worker, access log off; "
        f"load from `{machine['load_tool']}`; {machine['when']}."
        + (" **Quick run: not figures to quote.**" if quick else ""),
        "Every figure is the median of several runs; other work on the machine makes req/s noisy, so the "
        "overhead ratio is taken per round (both servers measured back to back) and CPU per request is given "
        "too.",
        "",
        "| Figure | Result | Goal | |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {f} | {res} | {goal} | {_ok(met)} |" for f, res, goal, met in figures(results)]
    lines += ["", _when(results)]
    if NOTES.exists():
        lines += ["", NOTES.read_text().strip()]
    lines += ["", "Raw figures: `bench/results/report.json`."]
    return "\n".join(lines) + "\n"


def _when(results: dict[str, Any]) -> str:
    stamps = {name: r.get("measured_at", "?") for name, r in results.items()}
    if len(set(stamps.values())) == 1:
        return f"All sections measured in one run ({next(iter(stamps.values()))})."
    return "Sections measured at: " + "; ".join(f"{name} {when}" for name, when in stamps.items()) + "."


def readme_section(results: dict[str, Any], machine: dict[str, Any]) -> str:
    rows = figures(results)
    out = [
        "## Performance",
        "",
        f"Reproduce with `{COMMAND}` (writes `bench/results/report.md` and `report.json`; about 10 minutes). "
        f"Last run: {machine['when']}, {machine['cores']} shared cores, uvicorn on {machine['uvicorn']}, load "
        f"from `{machine['load_tool']}`; medians of several runs, noisy on a busy machine.",
        "",
        "| Figure | Result | Goal | |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {f} | {res} | {goal} | {_ok(met)} |" for f, res, goal, met in rows]
    out += ["", _when(results)]
    if any(met is False for *_, met in rows):
        out += ["", "What limits the missed goals, and what was tried: see `bench/NOTES.md`."]
    return "\n".join(out) + "\n"


def update_readme(section: str) -> None:
    """Replace (or append) only the ``## Performance`` section; everything else stays as the lead wrote it."""
    if not README.exists():
        return
    text = README.read_text()
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "## Performance"), None)
    if start is None:
        README.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    README.write_text("".join(lines[:start]) + section + ("\n" + tail if tail else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    only = tuple(s for s in args.only.split(",") if s)
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    machine = _machine()
    print(f"[bench] {machine}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="emulator-bench-"))
    try:
        results = run_sections(workdir, only, args.quick)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name in results:
        results[name]["measured_at"] = machine["when"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = RESULTS / "report.json"
    complete = set(only) == set(SECTIONS)
    if not complete and not args.quick and previous.exists():  # a partial run updates its sections only
        stored = json.loads(previous.read_text())
        if not stored.get("quick"):
            results = {**stored["results"], **results}
            complete = set(results) >= set(SECTIONS)
    previous.write_text(
        json.dumps({"machine": machine, "quick": args.quick, "results": results}, indent=2, default=str)
    )
    report = render(results, machine, args.quick)
    (RESULTS / "report.md").write_text(report)
    if not args.quick and not args.no_readme and complete:
        update_readme(readme_section(results, machine))
    print(report)


if __name__ == "__main__":
    main()
