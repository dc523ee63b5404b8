"""Production mode refuses to start half-configured, and passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "SECURE_SSL_REDIRECT",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "loyalty_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3J9-production-like-secret-0f8b2a7c5d1e4f6a9b8c7d6e5f4a3b2c1d0e9f8a",
    "ALLOWED_HOSTS": "loyalty.example.com",
}


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = run_manage("check", **{**PRODUCTION, "ALLOWED_HOSTS": ""})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_a_misspelt_boolean_is_an_error_not_false():
    result = run_manage("check", **{**PRODUCTION, "DEBUG": "Flase"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_secret_key_may_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(PRODUCTION["SECRET_KEY"])
    env = {**PRODUCTION, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret)}
    env.pop("SECRET_KEY")
    result = run_manage("check", **env)
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'deploy.sqlite3'}"
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DATABASE_URL=database_url, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_database_url_switches_to_postgresql():
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={
            **os.environ,
            **PRODUCTION,
            "DJANGO_SETTINGS_MODULE": "loyalty_site.settings",
            "DATABASE_URL": "postgres://loyalty@db.example:5432/loyalty",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "django.db.backends.postgresql", result.stderr


def test_the_source_link_is_in_every_footer_when_set(db, client, settings):
    assert "Source code of this portal" not in client.get("/").content.decode()
    settings.SOURCE_URL = "https://example.org/loyalty-portal"
    assert 'href="https://example.org/loyalty-portal"' in client.get("/").content.decode()


def test_production_refuses_a_weak_secret_key():
    for weak in (
        "short-key",
        "django-insecure-dev-only-key-never-use-in-production",
        "django-insecure-" + "x" * 60,
        "a" * 64,
        "change-me-change-me-change-me-change-me-change-me-change-me",
    ):
        result = run_manage("check", **{**PRODUCTION, "SECRET_KEY": weak})
        assert result.returncode != 0, weak
        assert "SECRET_KEY is weak" in result.stderr, weak


def test_media_on_s3_compatible_storage_is_configured_by_the_environment():
    s3 = {
        **PRODUCTION, "MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "loyalty-media",
        "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_S3_REGION_NAME": "eu-west-1",
    }  # fmt: skip
    script = (
        "from django.core.files.storage import storages; s = storages['default']; "
        "print(type(s).__name__, s.bucket_name, s.endpoint_url, s.querystring_auth)"
    )
    result = run_manage("shell", "--no-imports", "-c", script, **s3)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["S3Storage", "loyalty-media", "http://127.0.0.1:9000", "True"]
    result = run_manage("check", **{**PRODUCTION, "MEDIA_STORAGE": "ftp"})
    assert result.returncode != 0 and "MEDIA_STORAGE must be file or s3" in result.stderr
