"""Print one table of ratios per lineage from the ``--json`` files of ``decision.py`` and ``http.py``.

``bash benchmarks/lineages`` runs this after the benchmarks::

    python benchmarks/_table.py DIRECTORY LANE...

reads ``DIRECTORY/<lane>-decision.json`` and ``DIRECTORY/<lane>-http.json``; a missing file is a
missing column, shown as ``-``, not an error. Standard library only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# In-process modes: mcp 2.x and fastmcp 4 clients measure "auto" (what a user gets by default) and "legacy"
# (the initialize handshake); on mcp 1.x and fastmcp 3 the handshake is all there is.
HANDSHAKE = ("legacy", "handshake")


def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _ratio(mode: dict[str, float] | None, guarded: str, plain: str) -> str:
    return "-" if mode is None else f"{mode[guarded] / mode[plain]:.2f}x"


def _percent(http: dict[str, Any] | None, operation: str, kind: str) -> str:
    if http is None:
        return "-"
    return f"{http['operations'][operation][f'overhead_{kind}'] * 100:+.1f} %"


def row(lane: str, decision: dict[str, Any] | None, http: dict[str, Any] | None) -> list[str]:
    modes: dict[str, dict[str, float]] = decision["modes"] if decision else {}
    handshake = next((modes[name] for name in HANDSHAKE if name in modes), None)
    auto = modes.get("auto")
    return [
        lane,
        "-" if decision is None else f"{decision['decision_us']:.1f}",
        "-" if decision is None else f"{decision['audited_us']:.1f}",
        "-" if decision is None else f"{decision['pipeline_us']:.1f}",
        _ratio(handshake, "call_guarded", "call"),
        _ratio(handshake, "list_guarded", "list_plain"),
        "n/a" if decision is not None and auto is None else _ratio(auto, "call_guarded", "call"),
        "n/a" if decision is not None and auto is None else _ratio(auto, "list_guarded", "list_plain"),
        _percent(http, "tools/call", "wall"),
        _percent(http, "tools/list", "wall"),
        _percent(http, "tools/call", "cpu"),
        _percent(http, "tools/list", "cpu"),
    ]


HEADER = [
    [
        *("lineage", "decision us", "+audit written us", "pipeline us"),
        *("call hs", "list hs", "call auto", "list auto", "HTTP call", "HTTP list", "CPU call", "CPU list"),
    ]
]


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python benchmarks/_table.py DIRECTORY LANE...")
    directory, lanes = Path(argv[0]), argv[1:]
    rows, describes, notes = [], [], []
    tools = None
    for lane in lanes:
        decision = _load(directory / f"{lane}-decision.json")
        http = _load(directory / f"{lane}-http.json")
        rows.append(row(lane, decision, http))
        source = decision or http
        if source:
            describes.append(source["describe"])
        if decision:
            tools = decision["tools"]
            notes += [f"{lane}: {note}" for note in decision["notes"]]
    table = [*HEADER, *rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADER[0]))]
    print("\nGuarded against the same server unguarded, measured in the same run, per lineage")
    print(
        f"(in-process: an empty tool's call and a tools/list of {tools or '?'} tools, guarded/unguarded time, "
        "best of rounds; HTTP: overhead per request through uvicorn, median over interleaved rounds)\n"
    )
    for line in table:
        print(
            "  ".join(
                cell.rjust(width) if index else cell.ljust(width)
                for index, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
        )
    print(
        "\n  call, list: guarded/unguarded time in-process, over the initialize handshake (hs) and in the client's "
        "default mode (auto; n/a: the lineage has only the handshake)\n"
        "  HTTP: requests/s overhead; CPU: the server process's CPU time per request overhead\n"
    )
    for text in describes:
        print(f"  {text}")
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main(sys.argv[1:])
