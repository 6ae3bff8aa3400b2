"""Settings come from the environment; production refuses to start without what it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from config.embedded_db import embedded_database_url, stop_embedded_database

PROJECT = Path(__file__).resolve().parent.parent.parent


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    unset = ("DATABASE_URL", "SECRET_KEY", "OIDC_ISSUER", "OIDC_RP_CLIENT_SECRET")
    clean = {key: value for key, value in os.environ.items() if key not in unset}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_name_every_missing_variable():
    result = run_python(
        "import django; django.setup()",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )

    assert result.returncode != 0
    assert "SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS, OIDC_ISSUER, OIDC_RP_CLIENT_SECRET" in result.stderr


def test_production_settings_start_when_the_environment_is_complete():
    result = run_python(
        "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['NAME'])",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://someone@db.internal:5432/tsunagi_prod",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="fhir.example.jp",
        OIDC_ISSUER="https://id.example.jp/realms/region",
        OIDC_RP_CLIENT_SECRET="y" * 32,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tsunagi_prod"


def test_celery_app_uses_the_django_settings():
    result = run_python(
        "from config import celery_app; print(celery_app.conf.broker_url)",
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/7",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "redis://127.0.0.1:6379/7"


def test_embedded_postgres_starts_in_a_folder_of_its_own(tmp_path):
    data_dir = tmp_path / "pgdata"
    try:
        url = embedded_database_url(data_dir)
        with psycopg.connect(url) as connection:
            version = connection.execute("SHOW server_version").fetchone()
            database = connection.execute("SELECT current_database()").fetchone()
        assert version is not None
        assert database == ("tsunagi",)
        assert (data_dir / "PG_VERSION").exists()
    finally:
        stop_embedded_database(data_dir)
    assert not (data_dir / "postmaster.pid").exists()


def test_statements_are_bound_by_the_server_and_prepared_after_five_runs_unless_turned_off():
    code = "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS']; print(o)"
    on = run_python(code, DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL="postgres://db/x")
    off = run_python(
        code,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL="postgres://db/x",
        DATABASE_PREPARE_THRESHOLD="",
    )
    assert "'server_side_binding': True, 'prepare_threshold': 5" in on.stdout, on.stderr
    assert "'server_side_binding': True, 'prepare_threshold': None" in off.stdout, off.stderr
