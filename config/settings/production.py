"""Production: every secret and connection must come from the environment, or start-up fails."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import database_settings, env

REQUIRED_VARIABLES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "ALLOWED_HOSTS",
    "OIDC_ISSUER",
    "OIDC_RP_CLIENT_SECRET",
)
_missing = [name for name in REQUIRED_VARIABLES if not env.str(name, default="")]
if _missing:
    raise ImproperlyConfigured("Production settings need these environment variables: " + ", ".join(_missing))

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": database_settings(allow_embedded=False)}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
