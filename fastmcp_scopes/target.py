"""The server a command names, ``MODULE:ATTRIBUTE`` or ``path/to/file.py:ATTRIBUTE``, imported to be read,
never run.

``fastmcp-scopes server`` only reads what a server registered. Many server modules end in ``mcp.run()``, some
without an ``if __name__ == "__main__":`` guard; importing such a module as it is would start the server and
never return. So while the module is imported, the run methods of every server class installed here (the MCP
SDK's ``FastMCP``, ``MCPServer`` and low-level ``Server``, standalone fastmcp's ``FastMCP``, and uvicorn) raise
instead, and the import stops with an explanation. Everything a module can get wrong while being imported
becomes a :class:`TargetError` with a sentence for the user, not a traceback.

No framework is imported here until a target is loaded, and then only those installed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["TargetError", "load_target"]

_RUNNERS: tuple[tuple[str, str], ...] = (
    ("mcp.server.fastmcp", "FastMCP"),  # MCP SDK 1.x
    ("mcp.server.mcpserver", "MCPServer"),  # MCP SDK 2.x
    ("mcp.server.lowlevel", "Server"),
    ("fastmcp", "FastMCP"),  # fastmcp 3.x and 4.x
    ("uvicorn", "Server"),
)
"""Classes whose ``run``, ``run_*`` and ``serve`` methods start a server."""

_RUN_FUNCTIONS: tuple[tuple[str, str], ...] = (("uvicorn", "run"), ("uvicorn.main", "run"))
"""Functions that start a server: ``uvicorn.run(mcp.streamable_http_app())``."""


class TargetError(Exception):
    """The target cannot be read: not ``MODULE:ATTRIBUTE``, not importable, runs its server when imported, or
    names something that is not a server. The message is for the user, as it is."""


class _ServerStarted(BaseException):
    # A BaseException, so that a module's own ``except Exception`` around its run() cannot swallow it.
    def __init__(self, started: str) -> None:
        super().__init__(started)
        self.started = started


def load_target(target: str, accepts: Callable[[object], bool]) -> Any:
    """Import the module ``target`` names, without running any server, and return its attribute.

    ``accepts`` says whether an object is a server this package can guard; it names the candidates when the
    attribute is missing or is not one.

    Raises:
        TargetError: with the reason, for every way the target can be wrong.
    """
    where, colon, attribute = target.rpartition(":")
    if not colon or not where or not attribute:
        raise TargetError(f"expected MODULE:ATTRIBUTE or FILE.py:ATTRIBUTE, got {target!r} (e.g. app.server:mcp)")
    module = _import(where, target)
    if not hasattr(module, attribute):
        raise TargetError(f"{where} has no attribute {attribute!r}{_candidates(module, accepts)}")
    server = getattr(module, attribute)
    if not accepts(server):
        kind = f"{type(server).__module__}.{type(server).__qualname__}"
        raise TargetError(f"{target} is a {kind}, not a server fastmcp-scopes can guard{_candidates(module, accepts)}")
    return server


def _import(where: str, target: str) -> ModuleType:
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    # What the module prints while imported goes to stderr: stdout is the table (or the JSON) alone.
    with contextlib.redirect_stdout(sys.stderr), _runs_refused():
        try:
            return _import_file(Path(where)) if is_file else _import_module(where)
        except TargetError:
            raise
        except _ServerStarted as started:
            raise TargetError(_started_message(where, started.started)) from None
        except SystemExit as exit_:
            raise TargetError(f"importing {where} exited (status {exit_.code}) instead of defining a server") from None
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            found = _started_within(error)
            if found is not None:
                raise TargetError(_started_message(where, found.started)) from None
            raise TargetError(f"importing {where} failed: {_described(error)}") from None


def _import_module(name: str) -> ModuleType:
    # As ``python -m``: modules of the current directory are importable.
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            raise TargetError(
                f"no module named {error.name!r} (run from the directory that holds it, or give the file: "
                f"path/to/server.py:ATTRIBUTE)"
            ) from None
        raise


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise TargetError(f"no such file: {path}")
    # Its own directory first, as ``python path/to/server.py`` would have it, for the module's sibling imports.
    sys.path.insert(0, str(path.resolve().parent))
    # Its own name, unless that would replace a module already loaded (a server.py beside a package "server").
    name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else "fastmcp_scopes_target"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _runs_refused() -> Iterator[None]:
    """Every installed server class's run methods raise :class:`_ServerStarted` for the duration."""
    restore: list[Callable[[], None]] = []
    try:
        for module_name, class_name in _RUNNERS:
            owner = _installed(module_name)
            cls = getattr(owner, class_name, None) if owner is not None else None
            if not isinstance(cls, type):
                continue
            for name in dir(cls):
                if name == "run" or name == "serve" or name.startswith("run_"):
                    restore.append(_replace(cls, name, f"{class_name}.{name}"))
        for module_name, function_name in _RUN_FUNCTIONS:
            owner = _installed(module_name)
            if owner is not None and callable(getattr(owner, function_name, None)):
                restore.append(_replace(owner, function_name, f"{module_name}.{function_name}"))
        yield
    finally:
        for undo in reversed(restore):
            undo()


def _installed(module_name: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(module_name.partition(".")[0]) is None:
            return None
        return importlib.import_module(module_name)
    except Exception:  # another major of that framework (mcp.server.fastmcp on mcp 2.x), or a broken one: none here
        return None


def _replace(owner: Any, name: str, shown: str) -> Callable[[], None]:
    had_own = name in vars(owner)
    original = vars(owner).get(name)

    def refuse(*args: object, **kwargs: object) -> Any:
        raise _ServerStarted(shown)

    setattr(owner, name, refuse)

    def undo() -> None:
        if had_own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)  # the inherited method shows through again

    return undo


def _started_within(error: BaseException) -> _ServerStarted | None:
    # A run() awaited inside a task group arrives wrapped in an exception group.
    if isinstance(error, _ServerStarted):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _started_within(inner)
            if found is not None:
                return found
    return None


def _started_message(where: str, started: str) -> str:
    return (
        f"importing {where} starts its server ({started}() is called at import), so it cannot be read "
        f'without running it; call {started.rpartition(".")[2]}() under `if __name__ == "__main__":` '
        "and try again"
    )


def _described(error: BaseException) -> str:
    # The innermost frame is where the module went wrong; the rest is the import machinery.
    frames = traceback.extract_tb(error.__traceback__)
    at = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    if isinstance(error, SyntaxError) and error.filename:
        at = f" ({error.filename}, line {error.lineno})"
        return f"SyntaxError: {error.msg}{at}"
    return f"{type(error).__name__}: {error}{at}"


def _candidates(module: ModuleType, accepts: Callable[[object], bool]) -> str:
    names = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType | type) and not inspect.isroutine(value)
        if accepts(value)
    ]
    return f"; servers there: {', '.join(names)}" if names else ""
