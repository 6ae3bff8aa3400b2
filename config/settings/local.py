"""Development and `make demo`: embedded PostgreSQL unless DATABASE_URL says otherwise."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_settings, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="local-development-only-not-secret")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
DATABASES = {"default": database_settings()}
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="tsunagi-demo-client-secret")  # the demo provider's
