"""RFC 6750 challenges: exact header strings, parsing them back, and hostile input refused at construction."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastmcp_scopes import (
    BearerChallenge,
    ConfigurationError,
    InvalidScopeError,
    format_scope,
    parse_www_authenticate,
    validate_scope_token,
)

PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


# -- rendering -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenge", "header", "status"),
    [
        (BearerChallenge(), "Bearer", 401),
        (
            BearerChallenge(resource_metadata=PRM, scope=("mcp:connect",)),
            f'Bearer scope="mcp:connect", resource_metadata="{PRM}"',
            401,
        ),
        (
            BearerChallenge(error="invalid_token", error_description="The access token expired", resource_metadata=PRM),
            f'Bearer error="invalid_token", error_description="The access token expired", resource_metadata="{PRM}"',
            401,
        ),
        (
            BearerChallenge(
                error="insufficient_scope",
                error_description="Missing scopes: employees:write",
                scope=("mcp:tools:call", "employees:write", "mcp:connect", "employees:write"),
                resource_metadata=PRM,
                realm="employees",
            ),
            'Bearer realm="employees", error="insufficient_scope", error_description="Missing scopes: employees:write",'
            f' scope="employees:write mcp:connect mcp:tools:call", resource_metadata="{PRM}"',
            403,
        ),
        (BearerChallenge(error="invalid_request"), 'Bearer error="invalid_request"', 400),
    ],
)
def test_render_gives_the_exact_header(challenge: BearerChallenge, header: str, status: int) -> None:
    assert challenge.render() == header
    assert challenge.status_code == status


@pytest.mark.spec("rfc6750/no-credentials")
def test_no_credentials_challenge_has_no_error_attribute() -> None:
    params = parse_www_authenticate(BearerChallenge(resource_metadata=PRM, scope=("a",)).render())

    assert params == {"scope": "a", "resource_metadata": PRM}


# -- parsing ---------------------------------------------------------------------------------------


def test_parse_reads_the_rendered_insufficient_scope_challenge() -> None:
    header = BearerChallenge(
        error="insufficient_scope",
        error_description="Missing scopes: b",
        scope=("b", "a"),
        resource_metadata=PRM,
    ).render()

    assert parse_www_authenticate(header) == {
        "error": "insufficient_scope",
        "error_description": "Missing scopes: b",
        "scope": "a b",
        "resource_metadata": PRM,
    }


scope_tokens = st.text(
    alphabet=st.sampled_from([chr(c) for c in [0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)]]), min_size=1, max_size=12
)
quotable = st.text(alphabet=st.sampled_from([chr(c) for c in [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)]]))


@given(
    error=st.sampled_from([None, "invalid_request", "invalid_token", "insufficient_scope"]),
    description=st.none() | quotable,
    scopes=st.lists(scope_tokens, max_size=4),
    resource_metadata=st.none() | quotable,
    realm=st.none() | quotable,
)
def test_render_then_parse_round_trips(
    error: str | None,
    description: str | None,
    scopes: list[str],
    resource_metadata: str | None,
    realm: str | None,
) -> None:
    challenge = BearerChallenge(
        error=error,  # type: ignore[arg-type]
        error_description=description,
        scope=tuple(scopes),
        resource_metadata=resource_metadata,
        realm=realm,
    )

    expected = {
        "realm": realm,
        "error": error,
        "error_description": description,
        "scope": format_scope(scopes) if scopes else None,
        "resource_metadata": resource_metadata,
    }
    assert parse_www_authenticate(challenge.render()) == {k: v for k, v in expected.items() if v is not None}


def test_parse_accepts_tokens_escapes_and_any_scheme_case() -> None:
    assert parse_www_authenticate('bearer error=invalid_token, realm="a\\"b"') == {
        "error": "invalid_token",
        "realm": 'a"b',
    }


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ('Basic realm="x"', "not a Bearer challenge"),
        ('Bearer scope="a", scope="b"', "appears more than once"),
        ('Bearer scope="a", SCOPE="b"', "appears more than once"),
        ('Bearer scope="unterminated', "malformed auth-param"),
        ("Bearer =x", "malformed auth-param"),
    ],
)
def test_parse_rejects_bad_headers(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_www_authenticate(header)


# -- hostile input is refused when the challenge is built ------------------------------------------

HOSTILE = ['a"b', "a\\b", "a\r\nSet-Cookie: x=1", "a\nb", "caf\u00e9", "tab\there", "nul\x00"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("attribute", ["error_description", "resource_metadata", "realm"])
def test_hostile_quoted_values_are_refused(attribute: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{attribute} .* cannot appear in a WWW-Authenticate header"):
        BearerChallenge(**{attribute: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [*HOSTILE, "two words", ""])
def test_hostile_scopes_are_refused(value: str) -> None:
    with pytest.raises(InvalidScopeError) as raised:
        BearerChallenge(error="insufficient_scope", scope=("fine", value))

    assert raised.value.token == value


def test_unknown_error_codes_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown RFC 6750 error code 'access_denied'"):
        BearerChallenge(error="access_denied")  # type: ignore[arg-type]


# -- scope tokens ----------------------------------------------------------------------------------


@given(scope_tokens)
def test_every_rfc6749_scope_token_is_accepted(token: str) -> None:
    assert validate_scope_token(token) == token


@pytest.mark.spec("rfc6749/scope-token")
@pytest.mark.parametrize("token", ["", " ", "a b", '"', "\\", "\x7f", "\u00e9", None, 1, b"bytes"])
def test_anything_else_is_an_invalid_scope(token: object) -> None:
    with pytest.raises(InvalidScopeError, match=r"RFC 6749 §3\.3"):
        validate_scope_token(token, where="somewhere")


def test_format_scope_sorts_and_deduplicates() -> None:
    assert format_scope(["b", "a", "b"]) == "a b"
    assert format_scope([]) == ""
