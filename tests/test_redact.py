"""Credentials never leave in output: URIs and query secrets are redacted."""

from __future__ import annotations

import pytest

from registry_ops.core.redact import redact


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
