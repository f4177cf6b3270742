"""The ``fastmcp-scopes`` command line run as a user runs it: a fresh interpreter, no terminal on stdin, and only
the ``FASTMCP_SCOPES_*`` variables a test names (the ones the test run itself carries would change the answers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, cwd: Path = ROOT, module: str = "fastmcp_scopes", **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` in ``cwd``, with ``env`` as its only ``FASTMCP_SCOPES_*`` variables."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
        check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FASTMCP_SCOPES_")}, **env},
    )
