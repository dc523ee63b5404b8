"""The OpenAPI schema and the browsable docs, under the site's own Content Security Policy."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from .conftest import openapi

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_with_bearer_keys():
    spec = openapi()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["version"] == "1"
    assert all(path.startswith("/api/v1/shops/{shop_slug}/") for path in spec["paths"])
    schemes = spec["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]


def test_the_docs_page_works_under_the_sites_csp():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    page = response.content.decode()
    # No inline script to allow: each runs from a file of ours (the settings are JSON, not run).
    for attributes in re.findall(r"<script([^>]*)>", page):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(settings.STATIC_URL), url
        assert finders.find(url.removeprefix(settings.STATIC_URL)), url
