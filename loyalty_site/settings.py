"""Settings for the loyalty portal, read from the environment.

Every setting has a default that lets a fresh clone run with no server at all:
SQLite, a Celery broker kept in files, e-mail printed to the console. Setting
``DATABASE_URL``, ``CELERY_BROKER_URL``/``REDIS_URL`` or ``EMAIL_URL`` switches
to the real service. With ``DEBUG`` off the process refuses to start without a
real ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

import os
from email.utils import getaddresses
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of a development run (SQLite file, Celery queue, beat schedule).
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(exist_ok=True)

# FileAwareEnv: every secret may also come from ``NAME_FILE`` (Docker/K8s secrets).
env = environ.FileAwareEnv()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A boolean that refuses anything it does not understand.

    django-environ reads every unknown word as False, so a typo such as
    ``DEBUG=Flase`` would silently flip a setting.
    """
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {raw!r}")


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"  # noqa: S105
# Keys copied from an example: this repository's, Django's own, the guide's placeholder.
KNOWN_EXAMPLE_KEYS = {
    "django-insecure-dev-only-key-never-use-in-production",
    "change-me",
    "changeme",
    "secret",
    "your-secret-key",
}
if not DEBUG and (
    len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
    or SECRET_KEY.lower() in KNOWN_EXAMPLE_KEYS
    or SECRET_KEY.startswith("django-insecure-")
    or "change-me" in SECRET_KEY.lower()
):
    # Every signed card link and QR code rests on it: refuse to start, not just warn.
    raise ImproperlyConfigured(
        "SECRET_KEY is weak: use at least 50 random characters, e.g. the output of "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Members' cards in phones' wallets: each wallet is offered once its certificates or keys are named.
# Apple Wallet: the pass type certificate and key (PEM) and Apple's WWDR intermediate certificate.
WALLET_APPLE_PASS_TYPE_ID = env.str("WALLET_APPLE_PASS_TYPE_ID", default="")
WALLET_APPLE_TEAM_ID = env.str("WALLET_APPLE_TEAM_ID", default="")
WALLET_APPLE_CERT_FILE = env.str("WALLET_APPLE_CERT_FILE", default="")
WALLET_APPLE_KEY_FILE = env.str("WALLET_APPLE_KEY_FILE", default="")
WALLET_APPLE_KEY_PASSWORD = env.str("WALLET_APPLE_KEY_PASSWORD", default="")
WALLET_APPLE_WWDR_FILE = env.str("WALLET_APPLE_WWDR_FILE", default="")
WALLET_APPLE_APNS_URL = env.str("WALLET_APPLE_APNS_URL", default="https://api.push.apple.com")
# The CA certificates (PEM) APNs' server certificate is verified with; empty: the system's (the tests'
# own fake APNs names its throwaway CA here).
WALLET_APPLE_APNS_CA_FILE = ""
# Google Wallet: the issuer account and a service account's JSON key.
WALLET_GOOGLE_ISSUER_ID = env.str("WALLET_GOOGLE_ISSUER_ID", default="")
WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = env.str("WALLET_GOOGLE_SERVICE_ACCOUNT_FILE", default="")
WALLET_GOOGLE_API_URL = env.str("WALLET_GOOGLE_API_URL", default="https://walletobjects.googleapis.com")
# A Fernet key that encrypts shops' LINE channel secrets and tokens at rest; empty: LINE cannot be connected.
LINE_CREDENTIALS_KEY = env.str("LINE_CREDENTIALS_KEY", default="")
# The LINE Messaging API the webhook replies through.
LINE_API_URL = env.str("LINE_API_URL", default="https://api.line.me").rstrip("/")
# LINE Login for customers (join and sign in with LINE), one channel for the whole installation;
# both empty: no LINE button anywhere. Under the same LINE provider as the shops' Messaging API
# channels, so that a customer's LINE user id is the same in both (docs/deploy.md).
LINE_LOGIN_CHANNEL_ID = env.str("LINE_LOGIN_CHANNEL_ID", default="")
LINE_LOGIN_CHANNEL_SECRET = env.str("LINE_LOGIN_CHANNEL_SECRET", default="")
LINE_LOGIN = bool(LINE_LOGIN_CHANNEL_ID and LINE_LOGIN_CHANNEL_SECRET)
# Shops' webhooks may go to private, loopback and link-local addresses (and plain HTTP to this machine):
# for tests and development only; never in production, where it would open the internal network.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)
# A bearer token that lets a monitoring tool read /status/ (signed-in superusers read it too).
STATUS_TOKEN = env.str("STATUS_TOKEN", default="")

# Where the portal's source code is offered (a footer link; see the AGPL's section 13).
SOURCE_URL = env.str("SOURCE_URL", default="")
# The public address of the site, used in links sent by e-mail and in QR codes.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    # Two-factor sign-in: an authenticator app, security keys and recovery codes.
    "allauth.mfa",
    # Sign-in with LINE (LINE Login), offered when LINE_LOGIN_CHANNEL_ID and _SECRET are set.
    "allauth.socialaccount",
    "allauth.socialaccount.providers.line",
    "django_htmx",
    "template_partials",
    "csp",
    # The REST API's browsable docs (/api/v1/docs) from ninja's own static files, not a CDN.
    "ninja",
    "members",
    "rewards",
    "campaigns",
    # The project itself, on top of the apps: the demo café command lives here, above every app it uses.
    "loyalty_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "loyalty_site.request_id.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "loyalty_site.middleware.RejectNulBytes",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "members.accounts.LockoutAnswers429",
]

ROOT_URLCONF = "loyalty_site.urls"
WSGI_APPLICATION = "loyalty_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        # template_partials wraps the loaders itself, so APP_DIRS is left to it.
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "members.context_processors.portal",
            ],
            # {% partialdef %} is built into Django 6; as a builtin here the
            # templates need no {% load %} that would break on the upgrade.
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# Databases: SQLite in var/ unless DATABASE_URL says otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Persistent connections: one query per request went from 92 to 1,305
# requests/s with them in our measurements.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # PostgreSQL keeps the plan of a query the connection has run five times: planning the
    # counter's joins took longer than running them (a look-up 9.9 -> 8.3 ms, the recent activity
    # 9.6 -> 6.5 ms on the million-member benchmark shop). Off behind a pooler in transaction mode
    # that cannot keep prepared statements (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that a Celery worker started by a test sees the
    # same test database.
    # One file per test run, so two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "members.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Cache and sessions: Redis when REDIS_URL is set, so web processes stay
# stateless behind a load balancer; otherwise the database-less local cache.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# django-allauth: e-mail is the identity; owners verify it; customers may log
# in with a one-time code sent by e-mail instead of a password.
ACCOUNT_ADAPTER = "members.accounts.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Loyalty] "
LOGIN_REDIRECT_URL = "members:home"
LOGIN_URL = "account_login"
# Two-factor sign-in (allauth.mfa), optional for everyone and required at a shop that asks it of
# its owners and managers (Shop.require_mfa, checked by members.tenancy.shop_view). Security keys
# need HTTPS, or http://localhost in development: browsers refuse them on any other plain address.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# A code typed as it turns over (or on a phone whose clock is a little off) is still accepted.
MFA_TOTP_TOLERANCE = 1
# Sign-in with LINE: the app comes from the settings (no SocialApp row), and only when both the
# channel id and secret are set; without them the provider has no app and its pages answer 404
# (members.accounts.SocialAccountAdapter). LINE's id_token e-mail is one LINE verified: with it a new
# customer's account is made at once; without it allauth's form asks for an address, verified by
# e-mail. An address that is already an account's never signs into that account (allauth's default,
# SOCIALACCOUNT_EMAIL_AUTHENTICATION off): its owner signs in and then connects LINE.
SOCIALACCOUNT_ADAPTER = "members.accounts.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {
    "line": {
        "APPS": [{"client_id": LINE_LOGIN_CHANNEL_ID, "secret": LINE_LOGIN_CHANNEL_SECRET}] if LINE_LOGIN else [],
        "SCOPE": ["profile", "openid", "email"],
        "VERIFIED_EMAIL": True,
        "OAUTH_PKCE_ENABLED": True,
    },
}
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = True
# The tokens LINE gives are not used after sign-in: not kept.
SOCIALACCOUNT_STORE_TOKENS = False

LANGUAGE_CODE = "en"
# Unambiguous English dates (loyalty_site/formats/en).
FORMAT_MODULE_PATH = ["loyalty_site.formats"]
LANGUAGES = [
    ("en", _("English")),
    ("zh-hant", _("Traditional Chinese")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploaded files (logos, pictures, exports, imports) on S3-compatible storage shared by every web
# server and worker: MEDIA_STORAGE=s3 and the bucket's settings (django-storages).
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="file")
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None,
            # Private by default: files are served through signed, expiring links.
            "default_acl": None,
            "querystring_auth": not env.str("AWS_S3_CUSTOM_DOMAIN", default=""),
            "file_overwrite": False,
        },
    }
elif MEDIA_STORAGE != "file":
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be file or s3, got {MEDIA_STORAGE!r}")
# Uploaded logos are read into memory to be validated; keep them small.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# E-mail: console by default, SMTP (or anything django-environ parses) by EMAIL_URL.
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Loyalty <noreply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Who gets an e-mail for every server error: "Name <a@b>, c@d" (none by default).
ADMINS = getaddresses(env.list("ADMINS", default=[]))

# Celery. With no broker configured, messages go through files under var/ so
# that a worker and beat in other processes work with no server running.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# Tasks are idempotent, so acknowledging after the work and re-running a task
# whose worker died is safe and loses nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With the broker down, a request that queues a task waits well under a second
# before giving up; the outbox and beat send what could not be queued.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "purge-expired-invitations": {
        "task": "members.tasks.purge_expired_invitations",
        "schedule": 60 * 60 * 24,
    },
    # Shops that remove inactive members: the reminder a month before, then the erasure.
    "retention": {
        "task": "members.tasks.run_retention",
        "schedule": 60 * 60 * 24,
    },
    "review-tiers": {
        "task": "rewards.tasks.review_tiers",
        "schedule": 60 * 60 * 24,
    },
    # Hourly: memberships that end, monthly vouchers at each shop's month start, reminders, prices.
    "memberships": {
        "task": "rewards.tasks.run_memberships",
        "schedule": 60 * 60,
    },
    "expire-points": {
        "task": "rewards.tasks.expire_points",
        "schedule": 60 * 60 * 24,
    },
    "flush-outbox": {
        "task": "members.tasks.flush_outbox",
        "schedule": 60,
    },
    # Shops' webhook deliveries that wait (broker was down) or are due a retry.
    "flush-webhooks": {
        "task": "members.tasks.flush_webhooks",
        "schedule": 60,
    },
    # Apple Wallet's "this pass changed" pushes that wait (broker was down) or are due a retry.
    "flush-wallet-pushes": {
        "task": "rewards.tasks.flush_wallet_pushes",
        "schedule": 60,
    },
    "expire-vouchers": {
        "task": "rewards.tasks.expire_vouchers",
        "schedule": 60 * 60,
    },
    # Hourly, so every shop's morning comes round in its own time zone.
    "birthday-gifts": {
        "task": "campaigns.tasks.run_birthdays",
        "schedule": 60 * 60,
    },
    "win-back": {
        "task": "campaigns.tasks.run_winback",
        "schedule": 60 * 60,
    },
    "anniversaries": {
        "task": "campaigns.tasks.run_anniversaries",
        "schedule": 60 * 60,
    },
    # Events: the day-before reminders in each shop's daytime, and invitations or news a lost task missed.
    "events": {
        "task": "campaigns.tasks.run_events",
        "schedule": 60 * 60,
    },
    "scheduled-announcements": {
        "task": "campaigns.tasks.send_announcements",
        "schedule": 5 * 60,
    },
    "expiring-voucher-reminders": {
        "task": "campaigns.tasks.remind_expiring_vouchers",
        "schedule": 60 * 60,
    },
    # Hourly, so every shop's night comes round in its own time zone; a counted day is skipped.
    "insights-roll-up": {
        "task": "campaigns.tasks.roll_up_days",
        "schedule": 60 * 60,
    },
    "campaign-figures": {
        "task": "campaigns.tasks.refresh_figures",
        "schedule": 15 * 60,
    },
    # Customers' copies of their data: prepared if the request's own task was lost, removed when old.
    "data-downloads": {
        "task": "rewards.tasks.prepare_data_downloads",
        "schedule": 15 * 60,
    },
    # Shops' exports of members and the ledger: the same, for requests whose task was lost.
    "shop-exports": {
        "task": "rewards.tasks.prepare_shop_exports",
        "schedule": 15 * 60,
    },
    # Members files: uploads never imported, and rejected rows, removed when old.
    "member-imports": {
        "task": "rewards.tasks.purge_member_imports",
        "schedule": 24 * 60 * 60,
    },
    # The API's kept answers to Idempotency-Key retries, after their day.
    "api-requests": {
        "task": "rewards.tasks.purge_api_requests",
        "schedule": 24 * 60 * 60,
    },
}

INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)
# How long the link to a customer's copy of their data works before the file is deleted.
DATA_DOWNLOAD_DAYS = env.int("DATA_DOWNLOAD_DAYS", default=7)

# Content Security Policy: only our own scripts and styles; the one inline
# <style> that carries a shop's brand colour gets the request's nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        # The LINE buttons post to our LINE login, which redirects to LINE's authorize page: browsers
        # hold that redirect to form-action too.
        "form-action": [SELF, *(["https://access.line.me"] if LINE_LOGIN else [])],
        "frame-ancestors": [NONE],
    },
}

# Security headers; the HTTPS ones follow SECURE_SSL_REDIRECT so a local
# production-mode run over plain HTTP still works when asked to.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SECURE_SSL_REDIRECT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# The header only allows preloading; the list entry needs a submission by the operator.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS >= 31536000)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The client's address is the last X-Forwarded-For entry, the one our own proxy wrote (the
    # guide's proxies replace the header); without this every visitor is the proxy to the limits.
    ALLAUTH_TRUSTED_PROXY_COUNT = 1
X_FRAME_OPTIONS = "DENY"

# Logs go to standard error, one line each, with the request's reference (shown on the error
# page), the shop and the path; server errors are also e-mailed to ADMINS when it is set.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request": {"()": "loyalty_site.request_id.RequestContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s shop=%(shop)s %(path)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["request"]},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "request"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"handlers": ["console", "mail_admins"], "level": "WARNING", "propagate": False},
        # httpx logs each request's URL at INFO: for APNs that is a device's push token.
        "httpx": {"level": "WARNING"},
    },
}
COUNTER_UNDO_MINUTES = env.int("COUNTER_UNDO_MINUTES", default=5)
# Stamps and purchases within this many minutes of the visit's first are the same visit.
VISIT_MINUTES = env.int("VISIT_MINUTES", default=60)
# A member QR code older than this is refused at the counter, so a screenshot
# passed around cannot collect stamps; the card page refreshes it sooner.
MEMBER_QR_MAX_AGE_SECONDS = env.int("MEMBER_QR_MAX_AGE_SECONDS", default=180)
# Sign-ups on the join page per client address and per shop in an hour; a shop whose customers
# share one address (a market stall's Wi-Fi) raises the first.
# Counter look-ups per staff account in a minute: a busy till does a few; a burst past it (paging
# through the members) is slowed and written in the shop's audit trail.
COUNTER_LOOKUPS_PER_MINUTE = env.int("COUNTER_LOOKUPS_PER_MINUTE", default=60)
# Requests per API key in a minute (rewards.api): past it, 429 with Retry-After.
API_REQUESTS_PER_MINUTE = env.int("API_REQUESTS_PER_MINUTE", default=120)
JOINS_PER_IP_PER_HOUR = env.int("JOINS_PER_IP_PER_HOUR", default=20)
JOINS_PER_SHOP_PER_HOUR = env.int("JOINS_PER_SHOP_PER_HOUR", default=300)

# Error reports to Sentry when SENTRY_DSN is set (nothing is sent otherwise), with personal data
# left out: no user, no cookies, no request body, no local variables (loyalty_site.sentry).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from loyalty_site.sentry import sentry_init

    sentry_init(SENTRY_DSN, environment=env.str("SENTRY_ENVIRONMENT", default="production"))
