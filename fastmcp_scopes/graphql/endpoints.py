"""Where GraphQL operations run: the :class:`GraphQLEndpoint` protocol, graphql-core in process
(:class:`GraphQLCoreEndpoint`) and GraphQL over HTTP (:class:`HTTPGraphQLEndpoint`).

The upstream call never carries the caller's token: MCP forbids token passthrough (MCP authorization,
"Access Token Privilege Restriction"). Upstream credentials are configured separately (``headers=``).

Like the rest of :mod:`fastmcp_scopes.graphql`, this module does not import the MCP SDK (``httpx2`` is
imported on the first HTTP call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from graphql import GraphQLSchema, graphql

from fastmcp_scopes.errors import ConfigurationError, GraphQLUpstreamError

__all__ = [
    "GraphQLCoreEndpoint",
    "GraphQLEndpoint",
    "HTTPGraphQLEndpoint",
]


class GraphQLEndpoint(Protocol):
    """Where operations run: ``await endpoint(query, operation_name, variables)`` returns a GraphQL
    response (``{"data": ..., "errors": [...]}``), or raises :class:`GraphQLUpstreamError`."""

    async def __call__(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any]
    ) -> Mapping[str, Any]: ...


class GraphQLCoreEndpoint:
    """An in-process endpoint: graphql-core executes against ``schema`` (tests, demos, embedded APIs)."""

    def __init__(self, schema: GraphQLSchema, *, root_value: Any = None, context_value: Any = None) -> None:
        self.schema = schema
        self.root_value = root_value
        self.context_value = context_value

    async def __call__(self, query: str, operation_name: str | None, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        result = await graphql(
            self.schema,
            query,
            root_value=self.root_value,
            context_value=self.context_value,
            variable_values=dict(variables),
            operation_name=operation_name,
        )
        return result.formatted


class HTTPGraphQLEndpoint:
    """A GraphQL-over-HTTP endpoint: ``POST {"query", "operationName", "variables"}`` as JSON.

    ``headers`` are the upstream credentials and the only ones sent: the caller's ``Authorization``
    is never forwarded (MCP forbids token passthrough). Redirects are not followed, so the headers
    go to ``url`` only.
    """

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"a GraphQL endpoint URL must be http(s), got {url!r}")
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HTTPGraphQLEndpoint({self.url!r}, headers=[{', '.join(sorted(self.headers))}])"  # names, not values

    async def __call__(self, query: str, operation_name: str | None, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        import httpx2

        payload = {"query": query, "operationName": operation_name, "variables": dict(variables)}
        headers = {"accept": "application/graphql-response+json, application/json", **self.headers}
        try:
            # A client per call: nothing to close at shutdown, and no state shared between callers.
            async with httpx2.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx2.HTTPError:
            raise GraphQLUpstreamError("the GraphQL endpoint could not be reached") from None
        if not 200 <= response.status_code < 300:
            # The status only: an error page may describe the upstream's internals.
            status = response.status_code
            raise GraphQLUpstreamError(f"the GraphQL endpoint answered HTTP {status}", status=status)
        try:
            body = response.json()
        except ValueError:
            raise GraphQLUpstreamError("the GraphQL endpoint did not answer with JSON") from None
        if not isinstance(body, Mapping):
            raise GraphQLUpstreamError("the GraphQL endpoint did not answer with a GraphQL response")
        return body
