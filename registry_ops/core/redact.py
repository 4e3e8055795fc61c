"""Keep credentials out of every output.

MLflow puts the tracking URI, password included, into its exception
messages; anything printed from an exception goes through :func:`redact`.
"""

from __future__ import annotations

import re

# scheme://user:password@host -> scheme://user:***@host; scheme://token@host -> scheme://***@host.
# Greedy up to the last '@' before the path, as urllib parses it: a raw '@'
# inside a password must not leave its tail visible.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")
# ?token=...&password=... style secrets in query strings
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:password|passwd|pwd|token|access_token|api_key|apikey|secret)=)[^&\s'\"]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with URI passwords and secret query parameters replaced by ``***``."""
    text = _USERINFO.sub(_userinfo, text)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}***", text)


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    if not colon:  # a bare token used as the user name is a secret too
        return f"{match['scheme']}***@"
    return f"{match['scheme']}{user}:***@"


def without_credentials(uri: str) -> str:
    """``uri`` with user info and secret query parameters removed (not masked).

    What a saved plan records as its target, and compares at apply: the same
    registry reached with other credentials is still the same registry.
    """
    uri = _USERINFO.sub(lambda m: m["scheme"], uri)
    uri = re.sub(
        r"([?&])(?:password|passwd|pwd|token|access_token|api_key|apikey|secret)=[^&\s]*&?",
        r"\1",
        uri,
        flags=re.IGNORECASE,
    )
    return uri.rstrip("?&")
