"""Settings of the demo OpenID provider; nothing here is shared with the platform's settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from idp.keys import signing_key

DATA_DIR = Path(os.environ.get("IDP_DATA_DIR", Path(__file__).resolve().parent.parent / ".local" / "idp"))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("IDP_SECRET_KEY") or secrets.token_urlsafe(50)  # sessions last one process
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", *os.environ.get("IDP_ALLOWED_HOSTS", "").split()]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "oauth2_provider",
    "idp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "idp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "idp.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
LANGUAGE_CODE = "ja"
LOGIN_URL = "/login/"
SESSION_COOKIE_NAME = "idp_session"  # the platform on the same host has its own session cookie
CSRF_COOKIE_NAME = "idp_csrftoken"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": signing_key(DATA_DIR),
    "OAUTH2_VALIDATOR_CLASS": "idp.claims.DemoClaimsValidator",
    "PKCE_REQUIRED": True,
    "SCOPES": {"openid": "OpenID Connect", "profile": "Name", "email": "E-mail address"},
    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
}
