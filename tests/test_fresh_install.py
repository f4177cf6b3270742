"""A new user's first hour: the built wheel, installed into a new virtual environment with the lineage's extra,
runs the quickstart of docs/quickstart/LINEAGE.md exactly as the page shows it.

Everything comes from the page: the ``pip install`` command (with the wheel in place of the name
``fastmcp-scopes``), the files ``server.py``, ``dev_auth.py`` and ``check.py``, the ``fastmcp-scopes server``
command and its table, the commands of its three terminals, and what ``check.py`` prints, compared line for
line. The one change made to the page's text is the
port: 8000 becomes a free one, so that the test does not depend on what else runs on the machine.

Costly (a wheel, a virtual environment, an install): each lane runs the quickstart of its own lineage only
(``bash scripts/test`` runs every lane), with the lane's own versions as constraints so that pip's cache serves
the install. Nothing here skips: an install that cannot reach the package index fails the test.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.test_docs import DOCS, LINEAGES, ROOT, Block, blocks

PORT_IN_PAGES = "8000"
INSTALL_TIMEOUT = 300


def page_blocks(lineage: str) -> list[Block]:
    return blocks(DOCS / "quickstart" / f"{lineage}.md")


def marked(found: list[Block], kind: str, *arguments: str) -> Block:
    matches = [b for b in found if b.kind == kind and b.arguments[: len(arguments)] == arguments]
    assert len(matches) == 1, f"one <!-- test: {kind} {' '.join(arguments)} --> block expected, found {len(matches)}"
    return matches[0]


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built as a release would be (hatchling, in pip's isolated build environment)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "-w",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    (built,) = out.glob("fastmcp_scopes-*.whl")
    return built


def constraints(directory: Path) -> Path:
    """This lane's installed versions (the package itself left out): the new environment gets the lineage this
    lane tests, and pip takes every distribution from its cache."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = [line for line in frozen.splitlines() if "==" in line and not line.startswith("fastmcp-scopes")]
    path = directory / "constraints.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def install_command(block: Block, python: Path, wheel: Path, constraints: Path) -> list[str]:
    """The page's ``pip install ...``, run by the new environment's pip, with the wheel for ``fastmcp-scopes``."""
    (line,) = [line for line in block.code.splitlines() if line.strip()]
    words = shlex.split(line)
    assert words[:2] == ["pip", "install"], line
    named = [w for w in words[2:] if re.fullmatch(r"fastmcp-scopes(\[[\w,]+\])?", w)]
    assert len(named) == 1, f"the install command names fastmcp-scopes once: {line}"
    requirements = [f"{wheel}{w.removeprefix('fastmcp-scopes')}" if w in named else w for w in words[2:]]
    quiet = ["--quiet", "--disable-pip-version-check", "-c", str(constraints)]
    return [str(python), "-m", "pip", "install", *quiet, *requirements]


def terminal(found: list[Block], number: str) -> list[str]:
    """The commands of one terminal block, comments removed."""
    block = marked(found, "terminal", number)
    return [line.split("#", 1)[0].strip() for line in block.code.splitlines() if line.split("#", 1)[0].strip()]


def exports(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"export (\w+)=(\S+)", line)
        assert match, f"not an export line: {line!r}"
        found[match.group(1)] = match.group(2)
    return found


class Terminals:
    """The processes a reader starts in the page's terminals, stopped at the end."""

    def __init__(self, directory: Path, python: Path) -> None:
        self.directory = directory
        self.python = python
        self.processes: list[subprocess.Popen[str]] = []
        self.base_env = {
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", str(directory)),
            "PYTHONUNBUFFERED": "1",
        }

    def command(self, line: str) -> list[str]:
        words = shlex.split(line)
        assert words[0] == "python" and len(words) == 2, f"a command the test does not know how to run: {line!r}"
        return [str(self.python), words[1]]

    def start(self, line: str, env: dict[str, str], *, read_output: bool = False) -> subprocess.Popen[str]:
        """Start a command that keeps running; its output goes to a file (a pipe nobody reads could fill up and
        stop it), except standard output when the test reads it."""
        log = (self.directory / f"{Path(shlex.split(line)[-1]).stem}.log").open("w", encoding="utf-8")
        process = subprocess.Popen(
            self.command(line),
            cwd=self.directory,
            env={**self.base_env, **env},
            stdout=subprocess.PIPE if read_output else log,
            stderr=log,
            text=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, line: str) -> str:
        path = self.directory / f"{Path(shlex.split(line)[-1]).stem}.log"
        return path.read_text(encoding="utf-8")[-3000:] if path.exists() else ""

    def run(self, line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(line),
            cwd=self.directory,
            env={**self.base_env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture
def terminals() -> Iterator[list[Terminals]]:
    opened: list[Terminals] = []
    yield opened
    for each in opened:
        each.stop()


def read_lines(process: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """The first ``count`` lines the process prints; past ``timeout`` seconds it is killed, which ends the wait."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = threading.Timer(timeout, process.kill)
    deadline.start()
    try:
        while len(lines) < count:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise AssertionError(f"the process ended ({process.returncode}) after printing {lines}")
            if line:
                lines.append(line.strip())
    finally:
        deadline.cancel()
    return lines


def wait_for_port(port: str, process: subprocess.Popen[str], timeout: float, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server.py exited with {process.returncode}:\n{log()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", int(port))) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"server.py did not listen on port {port} within {timeout} s")


@pytest.mark.parametrize("lineage", [pytest.param(name, marks=pytest.mark.lineage(name)) for name in LINEAGES])
def test_the_quickstart_runs_as_its_page_shows(
    lineage: str, wheel: Path, tmp_path: Path, terminals: list[Terminals]
) -> None:
    found = page_blocks(lineage)
    port = free_port()

    def as_run(text: str) -> str:
        return text.replace(PORT_IN_PAGES, port)

    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    python = environment / "bin" / "python"
    install = install_command(marked(found, "install", lineage), python, wheel, constraints(tmp_path))
    installed = subprocess.run(install, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert installed.returncode == 0, f"{' '.join(install)}\n{installed.stdout}\n{installed.stderr}"

    work = tmp_path / "quickstart"
    work.mkdir()
    for name in ("server.py", "dev_auth.py", "check.py"):
        block = marked(found, "file", name)
        assert block.arguments[1:] in ((), (lineage,)), block.where
        (work / name).write_text(as_run(block.code), encoding="utf-8")
    shell = Terminals(work, python)
    terminals.append(shell)

    # The command line, installed by the wheel: what each tool needs, read without starting the server.
    (inspect,) = [line for line in marked(found, "command").code.splitlines() if line.strip()]
    words = shlex.split(inspect)
    assert words[0] == "fastmcp-scopes", inspect
    table = subprocess.run(
        [str(python.parent / "fastmcp-scopes"), *words[1:]],
        cwd=work,
        env=shell.base_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert table.returncode == 0, table.stderr
    assert table.stdout == marked(found, "output", "fastmcp-scopes").code

    # Terminal 1: the development authorization server prints three export lines.
    (start_auth,) = terminal(found, "1")
    printed = exports(read_lines(shell.start(start_auth, {}, read_output=True), 3, timeout=60))
    assert set(printed) == {"FASTMCP_SCOPES_ISSUER", "FASTMCP_SCOPES_JWKS_URI", "TOKEN"}

    # Terminal 2: the first two of them, the server's own URL, and the server.
    *setting, start_server = [as_run(line) for line in terminal(found, "2")]
    server_env = {name: printed[name] if value == "..." else value for name, value in exports(setting).items()}
    assert set(server_env) == {"FASTMCP_SCOPES_ISSUER", "FASTMCP_SCOPES_JWKS_URI", "FASTMCP_SCOPES_RESOURCE_URL"}
    server = shell.start(start_server, server_env)
    wait_for_port(port, server, timeout=60, log=lambda: shell.log(start_server))

    # Terminal 3: the token, and the client; it prints what the page says it prints.
    *token, run_check = terminal(found, "3")
    check_env = {name: printed[name] if value == "..." else value for name, value in exports(token).items()}
    assert set(check_env) == {"TOKEN"}
    checked = shell.run(run_check, check_env)
    assert checked.returncode == 0, f"{checked.stderr}\nserver.py:\n{shell.log(start_server)}"
    expected = as_run(marked(found, "output", "check.py").code)
    assert checked.stdout == expected, f"server.py:\n{shell.log(start_server)}"
