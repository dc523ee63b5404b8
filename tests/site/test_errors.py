"""A server error is humane for the visitor and findable for the operator: a page in the portal's
layout with a reference, the same reference in the response header and in the log line, with the
shop and the path (never a query string, an e-mail or a link's secret), and an e-mail to ADMINS."""

import logging

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.template import loader
from django.test import Client
from django.urls import include, path

from loyalty_site.request_id import RequestContextFilter
from members.tenancy import shop_view


@shop_view("shop.view")
def broken(request):
    raise RuntimeError("boom")


def broken_in_public(request, **kwargs):
    raise RuntimeError("boom")


urlpatterns = [
    path("s/<slug:shop_slug>/broken/", broken),
    # A shop page outside /s/, as the join page /j/<shop_slug>/.
    path("j/<slug:shop_slug>/broken/", broken_in_public),
    # A link whose path is a credential, as a member's card /c/<token>/.
    path("c/<str:token>/broken/", broken_in_public),
    path("", include("loyalty_site.urls")),
]
handler500 = "loyalty_site.errors.server_error"


@pytest.fixture
def broken_site(settings):
    settings.ROOT_URLCONF = __name__


def request_log(caplog):
    return next(r for r in caplog.records if r.name == "django.request")


def log_line(record) -> str:
    """The line as the console handler writes it."""
    RequestContextFilter().filter(record)
    return logging.Formatter(django_settings.LOGGING["formatters"]["line"]["format"]).format(record)


@pytest.mark.parametrize("language", ["en", "zh-hant", "zh-hans"])
def test_a_server_error_shows_a_page_with_its_reference(world, broken_site, caplog, language):
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(world.carol)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/s/alices-cafe/broken/?email=secret@example.com")
    assert response.status_code == 500
    reference = response["X-Request-ID"]
    page = response.content.decode()
    assert reference in page
    assert f'lang="{language}"' in page
    record = request_log(caplog)
    assert (record.request_id, record.shop, record.path) == (reference, "alices-cafe", "/s/alices-cafe/broken/")
    assert "secret@example.com" not in log_line(record)


def test_the_language_cookie_chooses_the_pages_language(world, broken_site):
    client = Client(raise_request_exception=False)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    client.force_login(world.carol)
    response = client.get("/s/alices-cafe/broken/")
    assert response.status_code == 500
    assert response["X-Request-ID"] in response.content.decode()
    assert 'lang="zh-hant"' in response.content.decode()


def test_the_shop_of_a_page_outside_s_is_logged(db, broken_site, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get("/j/alices-cafe/broken/")
    assert response.status_code == 500
    assert (request_log(caplog).shop, request_log(caplog).path) == ("alices-cafe", "/j/alices-cafe/broken/")


def test_a_links_secret_stays_out_of_the_log(db, broken_site, caplog):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get("/c/SeCrEtCaRdToKeN:1abc:sig/broken/")
    assert response.status_code == 500
    record = request_log(caplog)
    assert record.path == "/c/<hidden>/broken/"
    line = log_line(record)
    assert "SeCrEtCaRdToKeN" not in line
    assert "Internal Server Error: /c/<hidden>/broken/" in line
    assert response["X-Request-ID"] in line


def test_a_line_break_in_the_path_cannot_forge_a_log_line(db, broken_site, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get("/s/alices-cafe/x%0A2026-01-01 ERROR forged/")
    assert response.status_code == 404
    record = request_log(caplog)
    assert record.shop == "alices-cafe"
    assert "\n" not in log_line(record)


def test_a_refusal_without_an_exception_is_logged_with_its_reference(db, caplog):
    """Django logs such responses after the middleware has returned; the line keeps its request id."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get("/", {"q": "a\x00b"})
    assert response.status_code == 400
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert (records[0].request_id, records[0].path) == (response["X-Request-ID"], "/")


def test_admins_get_an_e_mail_for_each_server_error(world, broken_site, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    client = Client(raise_request_exception=False)
    client.force_login(world.carol)
    client.get("/s/alices-cafe/broken/")
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


def test_no_e_mail_without_admins(world, broken_site, settings):
    settings.ADMINS = []
    client = Client(raise_request_exception=False)
    client.force_login(world.carol)
    assert client.get("/s/alices-cafe/broken/").status_code == 500
    assert mail.outbox == []


@pytest.mark.parametrize("given", ["has spaces in it", "x" * 500, "abc\x00def", "short"])
def test_a_strange_request_id_from_outside_is_replaced(db, client, given):
    response = client.get("/", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] != given and len(response["X-Request-ID"]) == 32


def test_a_proxys_request_id_is_kept(db, client):
    response = client.get("/", HTTP_X_REQUEST_ID="f3c1a8d2-7b1e-4c55-9f00-1234567890ab")
    assert response["X-Request-ID"] == "f3c1a8d2-7b1e-4c55-9f00-1234567890ab"


def test_the_error_page_renders_with_an_empty_context():
    """As Django's own server_error renders it: no request, no context processors, no database."""
    page = loader.get_template("500.html").render({})
    assert "<h1>" in page and "—" in page


def test_the_error_page_shows_the_reference_it_is_given():
    assert "<code>abc123</code>" in loader.get_template("500.html").render({"request_id": "abc123"})


def test_log_lines_outside_a_request_still_format():
    record = logging.LogRecord("celery", logging.INFO, __file__, 1, "task done", None, None)
    assert log_line(record).endswith(" INFO celery [- shop=- -] task done")
