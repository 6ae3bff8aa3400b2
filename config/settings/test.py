"""The test suite: real PostgreSQL (DATABASE_URL or the embedded one)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_settings, env

DEBUG = False
SECRET_KEY = "test-only-not-secret"  # noqa: S105 - fixed key for reproducible tests
ALLOWED_HOSTS = ["*"]
DATABASES = {"default": database_settings()}
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FHIR_MAX_BODY_BYTES = env.int("FHIR_MAX_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = FHIR_MAX_BODY_BYTES
OIDC_RP_CLIENT_SECRET = "tsunagi-test-client-secret"  # noqa: S105 - the test provider is started with it
FHIR_TOKEN_RATE = ""  # throttling is tested by overriding this; other tests send many requests per token
