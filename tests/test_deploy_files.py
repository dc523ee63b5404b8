"""The files of deploy/ and the guide that uses them (docs/deploy.md) agree with the code: every
variable the settings read is in the environment example and the guide, and nothing else is; the
systemd units start modules that exist, as the dedicated user, hardened; the proxies send requests
to where gunicorn listens and serve no uploaded file but the public pictures; the scripts parse."""

import configparser
import os
import re
import secrets
import shlex
import subprocess
import sys
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

import pytest
from django.apps import apps
from django.db.models import FileField

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
GUIDE = ROOT / "docs" / "deploy.md"
SETTINGS = ROOT / "loyalty_site" / "settings.py"
EXAMPLE = DEPLOY / "loyalty.env.example"

SERVICES = ["loyalty-web.service", "loyalty-worker.service", "loyalty-beat.service", "loyalty-backup.service"]
SCRIPTS = ["backup.sh", "restore.sh"]
ENV_FILE = "/etc/loyalty/loyalty.env"
APP = "/srv/loyalty/app"
VENV_BIN = "/srv/loyalty/venv/bin/"

# Named by the deployment issue, read by settings as they land; the example documents them already.
ANNOUNCED = {
    "STATUS_TOKEN", "SENTRY_DSN", "SENTRY_ENVIRONMENT", "MEDIA_STORAGE", "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL", "AWS_S3_REGION_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_CUSTOM_DOMAIN",
}  # fmt: skip

# env.str("X", env.int("X", env_bool("X", environ.Env().str("X", os.environ.get("X", os.getenv("X", …
_READ_CALL = re.compile(r"""\b\w*(?:env|Env|environ)\w*(?:\(\))?(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
_READ_ITEM = re.compile(r"""\benviron\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""")
# NAME=value, or "# NAME=value" for one left at its default.
_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
# What a shell and systemd read alike: a bare word, or anything but a quote in single quotes.
_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")
_QUOTED = re.compile(r"'[^']*'")


def settings_variables() -> set[str]:
    source = SETTINGS.read_text()
    return set(_READ_CALL.findall(source)) | set(_READ_ITEM.findall(source))


def example_lines() -> list[tuple[bool, str, str]]:
    """(set, name, raw value) for each assignment of the example, commented out or not."""
    found = []
    for line in EXAMPLE.read_text().splitlines():
        if match := _ASSIGNMENT.match(line.strip()):
            found.append((match.group(1) is None, match.group(2), match.group(3)))
    return found


def example_variables() -> set[str]:
    return {name for _set, name, _value in example_lines()}


def example_values() -> dict[str, str]:
    """The variables the example sets, as systemd and a shell read them."""
    return {name: value.strip("'") for is_set, name, value in example_lines() if is_set}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    with open(DEPLOY / name) as handle:
        parser.read_file(handle)
    return parser


def exec_start(name: str) -> list[str]:
    return shlex.split(unit(name)["Service"]["ExecStart"])


def option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def test_the_parser_finds_what_the_settings_read():
    """A broken pattern would find nothing and let every other test here pass."""
    found = settings_variables()
    for name in ("DEBUG", "SECRET_KEY", "VAR_DIR", "DATABASE_URL", "DATABASE_PREPARED_STATEMENTS", "EMAIL_URL",
                 "ADMINS", "SECURE_SSL_REDIRECT", "JOINS_PER_SHOP_PER_HOUR"):  # fmt: skip
        assert name in found, name


def test_every_variable_the_settings_read_is_in_the_example():
    missing = settings_variables() - example_variables()
    assert not missing, f"add to deploy/loyalty.env.example and docs/deploy.md: {sorted(missing)}"
    assert not ANNOUNCED - example_variables()


def test_every_variable_of_the_example_is_one_the_settings_read():
    read = settings_variables() | ANNOUNCED
    # FileAwareEnv: any variable the settings read may come from a file named by NAME_FILE.
    unknown = {name for name in example_variables() if name not in read and name.removesuffix("_FILE") not in read}
    assert not unknown, f"deploy/loyalty.env.example names variables nothing reads: {sorted(unknown)}"


def test_the_guide_explains_every_variable_of_the_example():
    guide = GUIDE.read_text()
    unexplained = sorted(name for name in example_variables() if f"`{name}`" not in guide)
    assert not unexplained, f"docs/deploy.md does not explain {unexplained}"


def test_systemd_and_a_shell_read_the_example_alike(tmp_path):
    values = example_values()
    for _set, name, value in example_lines():
        assert _BARE.fullmatch(value) or _QUOTED.fullmatch(value), f"{name}: quote the value in single quotes"
    names = " ".join(sorted(values))
    script = f'set -a; . "$1"; set +a; for n in {names}; do printf "%s=%s\\0" "$n" "${{!n}}"; done'
    result = subprocess.run(["bash", "-c", script, "bash", EXAMPLE], capture_output=True, text=True, env={})
    assert result.returncode == 0, result.stderr
    read = dict(item.split("=", 1) for item in result.stdout.split("\0") if item)
    assert read == values


def test_the_example_is_safe_for_production_once_its_placeholders_are_replaced():
    values = example_values()
    assert values["DEBUG"] == "false"
    assert values["BEHIND_PROXY"] == "true"
    assert values["SITE_URL"].startswith("https://")
    assert "change-me" in values["SECRET_KEY"] and "change-me" in values["STATUS_TOKEN"]
    # Nothing that weakens production is set; the HTTPS options stay at their defaults.
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD", "SENTRY_DSN"):
        assert name not in values, name


def _check_deploy(values: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """manage.py check --deploy with the example's environment, its folders moved into tmp_path."""
    # Nothing of the test run's own: its settings module, nor the browser tests' async switch, which
    # the deployment checks rightly refuse.
    left_out = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in example_variables() and k not in left_out}
    env = {**clean, **values, "DJANGO_SETTINGS_MODULE": "loyalty_site.settings"}
    for name in ("STATIC_ROOT", "VAR_DIR", "MEDIA_ROOT"):
        env[name] = str(tmp_path / name.lower())
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_as_written_does_not_start_and_with_real_secrets_passes_the_deployment_checks(tmp_path):
    values = example_values()
    as_written = _check_deploy(values, tmp_path)
    assert as_written.returncode != 0  # the placeholder secret key is refused
    real = {name: value.replace("change-me", secrets.token_urlsafe(50)) for name, value in values.items()}
    result = _check_deploy(real, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_unit_file_parses_with_its_sections():
    units = sorted(path.name for path in DEPLOY.iterdir() if path.suffix in {".service", ".timer"})
    assert units == sorted([*SERVICES, "loyalty-backup.timer"])
    for name in units:
        parsed = unit(name)
        assert parsed["Unit"]["Description"], name
        assert parsed.has_section("Service" if name.endswith(".service") else "Timer"), name
        # Started by systemctl enable, except the backup, which its timer starts.
        assert parsed.has_section("Install") == (name != "loyalty-backup.service"), name


@pytest.mark.parametrize("name", SERVICES)
def test_each_unit_runs_as_the_dedicated_user_with_the_environment_file_and_hardening(name):
    service = unit(name)["Service"]
    assert service["User"] == service["Group"] == "loyalty"
    assert service["WorkingDirectory"] == APP
    assert service["EnvironmentFile"] == ENV_FILE
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "true"
    assert service["ReadWritePaths"]


def writable(name: str) -> set[str]:
    return {path.removeprefix("-") for path in unit(name)["Service"]["ReadWritePaths"].split()}


def test_the_web_unit_runs_gunicorn_on_the_wsgi_module_and_reloads_with_hup():
    argv = exec_start("loyalty-web.service")
    assert argv[0] == VENV_BIN + "gunicorn"
    [app] = [arg for arg in argv[1:] if not arg.startswith("-") and arg == "loyalty_site.wsgi"]
    assert find_spec(app) is not None
    assert callable(import_module(app).application)
    assert option(argv, "--bind", "-b") == "127.0.0.1:8000"
    service = unit("loyalty-web.service")["Service"]
    assert service["ExecReload"] == "/bin/kill -s HUP $MAINPID"
    assert service["Type"] == "notify"


@pytest.mark.parametrize(("name", "command"), [("loyalty-worker.service", "worker"), ("loyalty-beat.service", "beat")])
def test_the_celery_units_start_the_projects_celery_app(name, command):
    argv = exec_start(name)
    assert argv[0] == VENV_BIN + "celery"
    app = option(argv, "-A", "--app")
    assert app == "loyalty_site"
    assert argv[argv.index(app) + 1] == command
    from celery import Celery

    assert isinstance(import_module(f"{app}.celery").app, Celery)
    assert import_module(app).celery_app is import_module(f"{app}.celery").app


def test_exactly_one_beat_is_said_and_no_other_unit_runs_one():
    assert "exactly one host" in (DEPLOY / "loyalty-beat.service").read_text().lower()
    for name in SERVICES:
        if name != "loyalty-beat.service":
            assert "beat" not in exec_start(name), name


def test_the_units_write_only_where_the_example_keeps_files():
    values = example_values()
    media, var = values["MEDIA_ROOT"], values["VAR_DIR"]
    assert writable("loyalty-web.service") == writable("loyalty-worker.service") == {media, var}
    assert writable("loyalty-beat.service") == {var}
    for path in (media, var, values["STATIC_ROOT"]):
        assert path.startswith("/srv/loyalty/") and not path.startswith(APP + "/")


def test_the_backup_unit_runs_the_backup_script_nightly():
    argv = exec_start("loyalty-backup.service")
    assert argv[0] == f"{APP}/deploy/backup.sh"
    assert os.access(ROOT / "deploy" / "backup.sh", os.X_OK)
    [backups] = argv[1:]
    assert writable("loyalty-backup.service") == {backups}
    assert unit("loyalty-backup.service")["Service"]["Type"] == "oneshot"
    timer = unit("loyalty-backup.timer")
    assert timer["Timer"]["OnCalendar"].startswith("*-*-* ")
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert timer["Timer"].get("Unit", "loyalty-backup.service") == "loyalty-backup.service"


def test_the_proxies_send_requests_where_gunicorn_listens():
    bind = option(exec_start("loyalty-web.service"), "--bind", "-b")
    assert re.search(rf"reverse_proxy {re.escape(bind)}\b", (DEPLOY / "Caddyfile").read_text())
    assert re.search(rf"server {re.escape(bind)};", (DEPLOY / "nginx.conf").read_text())


def test_the_proxies_serve_the_public_pictures_and_no_private_upload():
    """MEDIA_ROOT also holds shops' exports, members sheets and customers' copies of their data,
    which only the portal hands out; the proxies serve exactly the folders pictures go to."""
    pictures = {
        field.upload_to.strip("/")
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, FileField) and isinstance(field.upload_to, str)
    }
    private = {import_module(module).FOLDER for module in ("rewards.export", "rewards.data", "rewards.imports")}
    assert pictures and private and not pictures & private
    caddy = set(re.findall(r"/media/([\w-]+)/\*", (DEPLOY / "Caddyfile").read_text()))
    [nginx] = re.findall(r"location ~ \^/media/\(([^)]*)\)/", (DEPLOY / "nginx.conf").read_text())
    assert caddy == set(nginx.split("|")) == pictures
    assert "handle /media/* {\n\t\trespond 404" in (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"location /media/ \{\s*return 404;", (DEPLOY / "nginx.conf").read_text())


def test_the_guide_names_every_file_of_deploy_and_no_other():
    named = set(re.findall(r"\bdeploy/([\w.-]*\w)", GUIDE.read_text()))
    files = {path.name for path in DEPLOY.iterdir() if path.is_file()}
    assert named == files


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_scripts_parse_and_are_executable(name):
    script = DEPLOY / name
    result = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
