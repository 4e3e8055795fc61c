"""Keep credentials out of every output.

MLflow puts the tracking URI, password included, into its exception
messages (and prints it in its "View run ... at:" line); anything printed from
MLflow goes through :func:`redact`.

A URI's user info ends at the **last** ``@`` of its authority. A password
given unencoded may hold ``@``, ``#``, ``/`` or ``?``, and then urllib (and
requests) read the URI differently: ``http://alice:pa#ss@host`` parses as
host ``alice``, port ``pa`` and fragment ``ss@host``. Whichever way a library
cut it, the text it prints still holds everything between ``scheme://`` and
that last ``@``; so that whole stretch is masked, up to the last ``@`` before
the next blank. (A path that itself holds an ``@`` is masked too: more than
needed, never less.)

The secrets of the URIs registry-ops was given are also remembered
(:func:`remember`) and masked wherever they appear whole, in whatever shape a
message quotes them.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

# scheme://user:password@host -> scheme://user:***@host; scheme://token@host -> scheme://***@host.
# Greedy up to the last '@' before a blank: '#', '/', '?' and '@' in an unencoded
# password must not leave its tail visible.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>\S*)@")
_SECRET_KEYS = r"(?:password|passwd|pwd|token|access_token|api_key|apikey|secret)"
# ?token=...&password=... style secrets in query strings
_QUERY_SECRET = re.compile(rf"(?P<key>[?&]{_SECRET_KEYS}=)[^&\s'\"]+", re.IGNORECASE)
# Shorter strings are too likely to be ordinary words to mask wherever they appear.
_MIN_REMEMBERED = 6
_remembered: set[str] = set()


def remember(uri: str | None) -> None:
    """Note the password (or token) and secret query values of ``uri``, a URI
    registry-ops connects with: :func:`redact` masks them wherever they appear."""
    if not uri:
        return
    secrets = []
    _, slashes, rest = uri.strip().partition("://")
    userinfo, at, _ = rest.rpartition("@")  # the URI alone: its last '@' ends the user info
    user, colon, password = userinfo.partition(":")
    # A '/' before any ':' is a path (sqlite:////tmp/a@b.db), not user info.
    if slashes and at and userinfo and "/" not in user:
        secrets.append(password if colon else user)
    secrets += re.findall(rf"[?&]{_SECRET_KEYS}=([^&\s]+)", uri, flags=re.IGNORECASE)
    for secret in secrets:
        for shape in (secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret))):
            if len(shape) >= _MIN_REMEMBERED:
                _remembered.add(shape)


def redact(text: str) -> str:
    """``text`` with URI passwords and secret query parameters replaced by ``***``."""
    text = _USERINFO.sub(_userinfo, text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['key']}***", text)
    for secret in sorted(_remembered, key=len, reverse=True):  # longest first: no tails left
        text = text.replace(secret, "***")
    return text


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
    uri = re.sub(rf"([?&]){_SECRET_KEYS}=[^&\s]*&?", r"\1", uri, flags=re.IGNORECASE)
    return uri.rstrip("?&")
