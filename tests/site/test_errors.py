"""A server error is humane for the visitor and findable for the operator: a page in the portal's
layout with a reference, the same reference in the response header and in the log line, with the
shop and the path, and an e-mail to ADMINS."""

import logging

import pytest
from django.core import mail
from django.template import loader
from django.test import Client
from django.urls import include, path

from members.tenancy import shop_view


@shop_view("shop.view")
def broken(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("s/<slug:shop_slug>/broken/", broken),
    path("", include("loyalty_site.urls")),
]
handler500 = "loyalty_site.errors.server_error"


@pytest.fixture
def broken_site(settings):
    settings.ROOT_URLCONF = __name__


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
    record = next(r for r in caplog.records if r.name == "django.request")
    assert (record.request_id, record.shop, record.path) == (reference, "alices-cafe", "/s/alices-cafe/broken/")
    assert "secret@example.com" not in record.path


def test_the_page_speaks_the_visitors_language(world, broken_site):
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-hant")
    client.force_login(world.carol)
    assert "出了問題" in client.get("/s/alices-cafe/broken/").content.decode()


def test_admins_get_an_e_mail_for_each_server_error(world, broken_site, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    client = Client(raise_request_exception=False)
    client.force_login(world.carol)
    client.get("/s/alices-cafe/broken/")
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


@pytest.mark.parametrize("given", ["has spaces in it", "x" * 500, "abc\x00def", "short"])
def test_a_strange_request_id_from_outside_is_replaced(db, client, given):
    response = client.get("/", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] != given and len(response["X-Request-ID"]) == 32


def test_a_proxys_request_id_is_kept(db, client):
    response = client.get("/", HTTP_X_REQUEST_ID="f3c1a8d2-7b1e-4c55-9f00-1234567890ab")
    assert response["X-Request-ID"] == "f3c1a8d2-7b1e-4c55-9f00-1234567890ab"


def test_the_error_page_needs_nothing_but_its_reference():
    """No request, no context processors, no database: whatever broke may be among them."""
    assert "—" in loader.get_template("500.html").render({"request_id": ""})


def test_log_lines_outside_a_request_still_format(caplog):
    from loyalty_site.request_id import RequestContextFilter

    record = logging.LogRecord("celery", logging.INFO, __file__, 1, "task done", None, None)
    RequestContextFilter().filter(record)
    assert (record.request_id, record.shop, record.path) == ("-", "-", "-")
