"""A deny-only policy hook on the embedded Cedar engine (``cedarpy``; ``pip install fastmcp-scopes[cedar]``).

``FASTMCP_SCOPES_CEDAR_POLICIES=policies.cedar`` (or ``ScopeGuard(policy_hook=CedarPolicyHook.from_file(...))``)
asks Cedar about every call the scopes allow (:mod:`fastmcp_scopes.policy_hook`); a directory there means every
``*.cedar`` file in it. The files are read and parsed at start-up: a policy that does not parse stops the server
with ``file:line:column`` and Cedar's message.

Deny-only, and how Cedar is used for it: Cedar denies whatever no policy permits, but here scopes already
decided what is permitted, and the hook can only take away. So the file holds ``forbid`` rules only, and is
evaluated together with one ``permit(principal, action, resource);`` of ours: a call is refused exactly when one
of the file's ``forbid`` rules applies. A ``permit`` in the file is a start-up error (it could widen nothing,
and a reader would expect it to). A rule that cannot be evaluated (an attribute it reads is absent: test with
``has`` first) refuses the call too: a broken rule fails closed, and the log names it.

The entity model (every request is one principal, one action, one resource and a context):

- principal: ``Caller::"<sub>"`` with ``subject``, ``client_id``, ``issuer`` (``""`` when absent),
  ``authenticated`` (false for a caller without a token: the anonymous caller of a public primitive),
  ``scopes`` (the granted set, claim-mapped ones included) and ``claims`` (the verified token's claims as a
  record);
- action: ``Action::"<method>"``: ``Action::"tools/call"``, ``Action::"prompts/get"``,
  ``Action::"resources/read"``, ``Action::"completion/complete"``, ``Action::"resources/subscribe"``, ...;
- resource: ``Tool::"<name>"``, ``Prompt::"<name>"`` or ``Resource::"<uri or uri template>"``, its canonical
  identity (never an alias, hash or version the request used), with ``name``, ``scopes`` (every scope its own
  requirement names), ``alternatives`` (that requirement: a set of sets) and ``annotations`` (as the protocol
  spells them: ``resource.annotations.destructiveHint``, ``readOnlyHint``, ``idempotentHint``, ``openWorldHint``);
- context: ``arguments`` (the call's arguments), ``target`` (what the request named: a template's concrete
  URI), ``method``, ``now`` (a Cedar ``datetime``), ``epoch`` (seconds), ``hour_utc``, ``minute_utc`` and
  ``weekday_utc`` (1 = Monday ... 7 = Sunday).

JSON values map to Cedar values as JSON would: arrays are Cedar sets, ``null`` is left out, numbers that are not
whole (or not a 64-bit integer) are strings. A record with a member Cedar reserves (``__entity``, ``__extn``,
``__expr``) cannot be given to Cedar faithfully: such a call is refused.

A refusal's reason is the matching rule's ``@reason("...")`` annotation, else its ``@id("...")``, else its
position in the file: fixed text of the operator's, sent to the client and the audit log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastmcp_scopes.errors import ConfigurationError
from fastmcp_scopes.policy_hook import PolicyDenial, PolicyOperation

if TYPE_CHECKING:
    from fastmcp_scopes.policy import Caller

__all__ = ["CedarPolicyHook"]

logger = logging.getLogger("fastmcp_scopes")

_ENTITY_TYPES = {"tools": "Tool", "prompts": "Prompt", "resources": "Resource"}
_RESERVED = frozenset({"__entity", "__extn", "__expr"})
_MAX_DEPTH = 32
_LONG = range(-(2**63), 2**63)
_BASE = '\n@id("fastmcp-scopes: the scopes allowed this call")\npermit(principal, action, resource);\n'

UNREPRESENTABLE = "The request cannot be given to the policy engine"
NOT_EVALUATED = "A policy could not be evaluated"


def _cedarpy() -> Any:
    try:
        import cedarpy
    except ImportError:
        raise ConfigurationError(
            "FASTMCP_SCOPES_CEDAR_POLICIES needs the Cedar engine: pip install 'fastmcp-scopes[cedar]'"
        ) from None
    return cedarpy


class _Unrepresentable(Exception):
    pass


class CedarPolicyHook:
    """The policy hook that evaluates Cedar ``forbid`` rules (see the module docstring for the entity model).

    Raises:
        ConfigurationError: policies that do not parse (``source:line:column: message``), a ``permit`` or a
            template among them, or no ``cedarpy`` installed.
    """

    def __init__(
        self,
        policies: str | Mapping[str, str],
        *,
        source: str = "<policies>",
        clock: Callable[[], float] = time.time,
    ) -> None:
        cedarpy = _cedarpy()
        self._is_authorized = cedarpy.is_authorized
        files = {source: policies} if isinstance(policies, str) else dict(policies)
        self.source = ", ".join(files)
        self.clock = clock
        reasons: list[str] = []
        for name, text in files.items():  # each file on its own: an error names its own line and column
            reasons += _forbid_rules(text, name, cedarpy)
        combined = "\n".join(files.values()) + _BASE
        # Cedar numbers the policies of one text in order (policy0, policy1, ...): the files' rules, then ours.
        self._reasons = {f"policy{number}": reason for number, reason in enumerate(reasons)}
        self.rules = len(reasons)
        self._policies = cedarpy.PolicySet.from_str(combined)
        if len(self._policies) != self.rules + 1:
            raise ConfigurationError(f"{self.source}: the policies could not be combined")  # fail closed

    @classmethod
    def from_file(cls, path: str | Path, *, clock: Callable[[], float] = time.time) -> CedarPolicyHook:
        """The hook for the policies in ``path`` (UTF-8 Cedar text), or in every ``*.cedar`` file of the
        directory ``path``, in name order.

        Raises:
            ConfigurationError: a file that cannot be read, a directory without policy files, or policies that
                do not parse (see the class).
        """
        where = f"FASTMCP_SCOPES_CEDAR_POLICIES = {str(path)!r}"
        directory = Path(path)
        paths = sorted(directory.glob("*.cedar")) if directory.is_dir() else [directory]
        if not paths:
            raise ConfigurationError(f"{where}: the directory has no .cedar file")
        files: dict[str, str] = {}
        for file in paths:
            try:
                files[str(file)] = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                which = "it" if file == directory else repr(str(file))
                raise ConfigurationError(f"{where}: cannot read {which} ({err})") from None
        return cls(files, clock=clock)

    async def __call__(self, caller: Caller | None, operation: PolicyOperation) -> PolicyDenial | None:
        try:
            request, entities = self.request(caller, operation)
        except _Unrepresentable:
            return PolicyDenial(UNREPRESENTABLE)
        # Off the event loop: a large policy set or argument stalls no other request.
        result = await asyncio.to_thread(self._is_authorized, request, self._policies, entities)
        errors = result.diagnostics.errors
        if errors:
            logger.warning("fastmcp-scopes: Cedar could not evaluate %s: %s", self.source, "; ".join(errors))
            return PolicyDenial(NOT_EVALUATED)
        if result.allowed:
            return None
        reasons = [self._reasons[r] for r in result.diagnostics.reasons if r in self._reasons]
        return PolicyDenial("; ".join(reasons) or "Refused by policy")

    def request(self, caller: Caller | None, operation: PolicyOperation) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The Cedar request and entities for ``operation`` by ``caller`` (see the module docstring).

        Raises:
            _Unrepresentable: a value Cedar would read as something else.
        """
        principal = {"type": "Caller", "id": (caller.subject if caller else None) or ""}
        resource = {"type": _ENTITY_TYPES[operation.kind], "id": operation.name}
        now = self.clock()
        moment = datetime.fromtimestamp(now, UTC)
        scopes = sorted({s for alternative in operation.scopes for s in alternative})
        entities = [
            {
                "uid": principal,
                "attrs": {
                    "subject": (caller.subject if caller else None) or "",
                    "client_id": (caller.client_id if caller else None) or "",
                    "issuer": (caller.issuer if caller else None) or "",
                    "authenticated": caller is not None and not caller.anonymous,
                    "scopes": sorted(caller.scopes) if caller else [],
                    "claims": _value((caller.claims if caller else None) or {}, 0),
                },
                "parents": [],
            },
            {
                "uid": resource,
                "attrs": {
                    "name": operation.name,
                    "scopes": scopes,
                    "alternatives": [list(a) for a in operation.scopes],
                    "annotations": _value(operation.annotations, 0),
                },
                "parents": [],
            },
        ]
        context = {
            "arguments": _value(operation.arguments, 0),
            "target": operation.target,
            "method": operation.method,
            "now": {"__extn": {"fn": "datetime", "arg": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}},
            "epoch": int(now),
            "hour_utc": moment.hour,
            "minute_utc": moment.minute,
            "weekday_utc": moment.isoweekday(),
        }
        action = {"type": "Action", "id": operation.method}
        return {"principal": principal, "action": action, "resource": resource, "context": context}, entities


def _forbid_rules(text: str, source: str, cedarpy: Any) -> list[str]:
    """The reason of each rule of one file, in order.

    Raises:
        ConfigurationError: the text does not parse (``source:line:column: message``), or holds a permit or a
            template.
    """
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as err:
        line, column = _position(text, cedarpy, str(err))
        raise ConfigurationError(f"{source}:{line}:{column}: {err}") from None
    if parsed.get("templates"):
        raise ConfigurationError(f"{source}: policy templates are not supported (nothing would link them)")
    reasons = []
    # Cedar numbers the rules of a text in order: policy0, policy1, ... (the JSON's member order is not relied on)
    policies = sorted(parsed.get("staticPolicies", {}).items(), key=lambda item: int(item[0].removeprefix("policy")))
    for number, (_, policy) in enumerate(policies, start=1):
        annotations = policy.get("annotations") or {}
        named = annotations.get("id")
        if policy.get("effect") != "forbid":
            raise ConfigurationError(
                f"policy {number} of {source}" + (f" ({named!r})" if named else "") + " is a permit: the policy hook "
                "can only refuse, so write forbid rules only (scopes decide what is permitted)"
            )
        reasons.append(annotations.get("reason") or named or f"forbid rule {number} of {Path(source).name}")
    return reasons


def _value(value: Any, depth: int) -> Any:
    """``value`` as Cedar's JSON reads it faithfully (see the module docstring)."""
    if depth > _MAX_DEPTH:
        raise _Unrepresentable("too deep")
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if value in _LONG else str(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() and int(value) in _LONG else repr(value)
    if isinstance(value, Mapping):
        if any(k in _RESERVED for k in value):
            raise _Unrepresentable("reserved member")
        return {str(k): _value(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [_value(v, depth + 1) for v in value if v is not None]
    raise _Unrepresentable(type(value).__name__)


def _position(text: str, cedarpy: Any, message: str) -> tuple[int, int]:
    """The line and column (1-based) of the first parse error in ``text``, whose message is ``message``.

    cedarpy reports no position, so it is found from prefixes: a prefix ending before the error fails only for
    running out of input; the shortest one that fails otherwise ends at (or just after) the error. Prefixes
    ending inside a string or a comment are skipped (they fail for that alone). Then the token the message
    quotes, if any, is looked for back from there; a failing string literal is pointed at where it starts."""
    boundaries, strings = _boundaries(text)

    def fails_here(end: int) -> bool:
        try:
            cedarpy.policies_to_json_str(text[:end])
        except ValueError as err:
            return "unexpected end of input" not in str(err)
        return False

    low, high = 0, len(boundaries) - 1
    if not fails_here(boundaries[high]):
        offset = boundaries[high]  # only the whole text fails: an unterminated string or comment, from here
    else:
        while low < high:  # the first boundary whose prefix fails other than for its end
            middle = (low + high) // 2
            if fails_here(boundaries[middle]):
                high = middle
            else:
                low = middle + 1
        offset = max(boundaries[low] - 1, 0)
    if boundaries[low] in strings:
        offset = strings[boundaries[low]]
    else:
        quoted = re.search(r"'([^']+)'|`([^`]+)`|: (\w+)$", message)
        token = next((g for g in quoted.groups() if g), None) if quoted else None
        statement = text.rfind(";", 0, offset) + 1
        found = text.rfind(token, statement, offset + 1) if token else -1
        offset = found if found >= 0 else offset
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _boundaries(text: str) -> tuple[list[int], dict[int, int]]:
    """Every prefix length of ``text`` that ends outside a string literal and a ``//`` comment, and where each
    string literal that such a prefix ends with starts."""
    ends: list[int] = []
    strings: dict[int, int] = {}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            start = i
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i = min(i + 1, n)
            ends.append(i)
            strings[i] = start
            continue
        if text.startswith("//", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        i += 1
        ends.append(i)
    return ends or [0], strings
