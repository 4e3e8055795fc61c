"""Credentials never leave in output: URIs and query secrets are redacted."""

from __future__ import annotations

import pytest

from registry_ops.core.redact import redact, remember, without_credentials


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://alice:s3cret@mlflow.example.com", "https://alice:***@mlflow.example.com"),
        (
            "http://alice:s3cret@10.0.0.1:5000/api/2.0/mlflow",
            "http://alice:***@10.0.0.1:5000/api/2.0/mlflow",
        ),
        ("postgresql://u:p%40ss@db/mlflow", "postgresql://u:***@db/mlflow"),
        ("https://user:pa:ss@host/", "https://user:***@host/"),
        ("https://user:@host/", "https://user:***@host/"),
        ("mysql+pymysql://root:pw@localhost/db", "mysql+pymysql://root:***@localhost/db"),
    ],
)
def test_user_password_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://ghp_abcdef123456@host/x", "https://***@host/x"),
        ("databricks://dapi0123456789@workspace", "databricks://***@workspace"),
    ],
)
def test_token_only_userinfo_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://h/api?token=abc123", "https://h/api?token=***"),
        ("https://h/api?x=1&password=hunter2&y=2", "https://h/api?x=1&password=***&y=2"),
        ("https://h/?API_KEY=k1&Access_Token=t2", "https://h/?API_KEY=***&Access_Token=***"),
        (
            "https://h/?secret=s&pwd=p&passwd=q&apikey=a",
            "https://h/?secret=***&pwd=***&passwd=***&apikey=***",
        ),
        ("'https://h/?token=abc' failed", "'https://h/?token=***' failed"),
    ],
)
def test_query_secrets_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///mlflow.db",
        "sqlite:////tmp/pytest/mlflow.db",
        "sqlite:///C:/Users/me/mlflow.db",
        "http://127.0.0.1:5000",
        "https://mlflow.example.com/#/models?tab=1&tokens=ok",
        "file:///tmp/mlruns",
        "databricks",
        "mail me at alice@example.com",
        "no uri here: just a message with user:pass text",
        "",
    ],
)
def test_plain_text_and_uris_without_secrets_are_untouched(text: str) -> None:
    assert redact(text) == text


def test_every_uri_in_a_longer_message_is_redacted() -> None:
    message = (
        "API request to https://alice:pw1@a.example/api failed; "
        "retried via http://tok2@b.example?token=tok3 then gave up"
    )
    out = redact(message)
    for secret in ("pw1", "tok2", "tok3"):
        assert secret not in out
    assert "alice:***@a.example" in out and "http://***@b.example" in out
    assert out.endswith("then gave up")


def test_redaction_is_idempotent() -> None:
    once = redact("https://alice:pw@h/?token=t")
    assert redact(once) == once


def test_password_with_raw_at_sign_is_fully_redacted() -> None:
    out = redact("https://alice:p@ss@host/api")
    assert out == "https://alice:***@host/api"


# Unencoded passwords with the characters that make urllib cut the URI elsewhere:
# http://alice:pa#ss@host parses as host 'alice', port 'pa', fragment 'ss@host'.
SHAPES = [
    ("http://alice:pa#ss@h:5000/api", "pa#ss"),
    ("http://alice:pa/ss@h:5000/api", "pa/ss"),
    ("http://alice:pa?ss@h:5000/api", "pa?ss"),
    ("http://alice:p@s#s/w?d@h:5000", "p@s#s/w?d"),
    ("https://alice:#/?@h", "#/?"),
    ("https://alice:pw%23x@h/#/experiments/1", "pw%23x"),
    ("http://tok/en#x?y@h:5000/api", "tok/en#x?y"),
    ("http://ghp_#/tok@h", "ghp_#/tok"),
    ("http://alice:pa:ss@h", "pa:ss"),
]


@pytest.mark.parametrize(("uri", "secret"), SHAPES)
def test_whole_userinfo_is_masked_whatever_it_contains(uri: str, secret: str) -> None:
    for message in (
        uri,
        f"Invalid url: {uri}/api/2.0/mlflow/registered-models/search",
        f"🏃 View run r at: {uri}/#/experiments/1/runs/abc",
        f"'{uri}' refused (retried {uri})",
    ):
        out = redact(message)
        assert secret not in out, out
        assert "***@h" in out
    # what a saved plan records: the registry, without the credentials
    assert secret not in without_credentials(uri) and "@" not in without_credentials(uri)


def test_a_remembered_password_is_masked_wherever_it_appears() -> None:
    remember("http://alice:Zq9#pw/x?y@127.0.0.1:5000")
    for quoted in ("Zq9#pw/x?y", "Zq9%23pw%2Fx%3Fy"):
        out = redact(f"HTTPConnectionPool(host='alice', port='{quoted}'): failed")
        assert "Zq9" not in out, out
    remember("sqlite:////tmp/at@sign/mlflow.db")  # a path, not user info
    assert redact("/tmp/at") == "/tmp/at"
