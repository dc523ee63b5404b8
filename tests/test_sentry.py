"""Error reports: nothing is sent without SENTRY_DSN, and what is sent carries no personal data."""

from loyalty_site.sentry import scrub

from .test_settings import PRODUCTION, run_manage


def test_without_a_dsn_sentry_is_not_started():
    script = "import sentry_sdk; print(sentry_sdk.get_client().is_active())"
    result = run_manage("shell", "--no-imports", "-c", script, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_with_a_dsn_sentry_is_started_with_personal_data_off():
    dsn = "https://public@sentry.invalid/1"
    script = (
        "import sentry_sdk; c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options['send_default_pii'], c.options['include_local_variables'], "
        "c.options['before_send'].__name__)"
    )
    result = run_manage("shell", "--no-imports", "-c", script, **{**PRODUCTION, "SENTRY_DSN": dsn})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "False", "scrub"]


def test_an_event_leaves_without_who_what_was_typed_or_the_card_link():
    event = {
        "user": {"email": "mia@example.com", "ip_address": "203.0.113.9"},
        "request": {
            "url": "https://loyalty.example/s/cafe/counter/?q=0912345678",
            "query_string": "q=0912345678",
            "cookies": {"sessionid": "abc"},
            "data": {"name": "Mia Chen", "phone": "0912345678"},
            "env": {"REMOTE_ADDR": "203.0.113.9"},
            "headers": {"Cookie": "sessionid=abc", "User-Agent": "Till", "X-Request-Id": "3f2a", "Referer": "x"},
        },
        "exception": {"values": [{"stacktrace": {"frames": [{"function": "f", "vars": {"member": "Mia Chen"}}]}}]},
        "breadcrumbs": {"values": [{"category": "query", "data": {"params": ["0912345678"]}}]},
    }
    sent = scrub(event)
    text = repr(sent)
    for private in ("mia@example.com", "203.0.113.9", "0912345678", "Mia Chen", "sessionid", "abc"):
        assert private not in text, private
    assert sent["request"]["url"] == "https://loyalty.example/s/cafe/counter/"
    assert sent["request"]["headers"] == {"User-Agent": "Till", "X-Request-Id": "3f2a"}
    assert sent["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] == "f"
