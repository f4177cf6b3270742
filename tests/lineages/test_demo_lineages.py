"""``bash scripts/demo --server LINEAGE``: the employees story against a server of each lineage, each in its
own lane's environment, driven by the MCP SDK 2.x agent. Runs in the fastmcp4 lane, the last one
``scripts/test`` installs, so every other lane's environment exists by then (a missing one is skipped)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from examples.employees.__main__ import Trace
from examples.employees.lineages import ROOT, demo

pytestmark = pytest.mark.lineage("fastmcp4")


class Lines:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("lineage", ["sdk1", "sdk2", "fastmcp3", "fastmcp4"])
async def test_the_agent_completes_with_one_step_up_against_every_lineage(lineage: str) -> None:
    python = sys.executable if lineage == "fastmcp4" else str(ROOT / ".venvs" / lineage / "bin" / "python")
    if not Path(python).exists():
        pytest.skip(f"the {lineage} lane is not installed (bash scripts/test --install {lineage})")
    out = Lines()
    completed = await demo(lineage, python, replacing=False, trace=Trace(out, color=False))  # type: ignore[arg-type]
    assert completed, out.text
    assert "403     tools/call update_employee_mood insufficient_scope" in out.text
    assert "Done: the task completed with 1 step-up." in out.text
