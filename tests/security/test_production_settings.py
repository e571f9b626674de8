"""settings.production: `manage.py check --deploy` is clean with the documented environment
(docker-compose.yml), and a missing OCPI_BASE_URL stops the hub with a clear error."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# What docker-compose.yml documents for a deployment behind the TLS proxy.
DOCUMENTED_ENV = {
    "DJANGO_SETTINGS_MODULE": "settings.production",
    "DJANGO_ALLOWED_HOSTS": "hub.example.com",
    "DATABASE_URL": "sqlite:////tmp/hub-deploy-check.sqlite3",
    "OCPI_BASE_URL": "https://hub.example.com",
    "DJANGO_BEHIND_PROXY": "true",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://hub.example.com",
}


def manage(
    *args: str, drop: tuple[str, ...] = (), **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        # Only what a process needs to run: none of the test settings' variables.
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        **DOCUMENTED_ENV,
        **extra,
    }
    for name in drop:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_the_documented_environment() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secure_defaults_and_proxy_header_only_when_declared() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_PROXY_SSL_HEADER)"
    )
    behind = manage("shell", "--verbosity", "0", "-c", code)
    assert behind.stdout.split() == [
        "True",
        "True",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ], behind.stderr
    direct = manage("shell", "--verbosity", "0", "-c", code, drop=("DJANGO_BEHIND_PROXY",))
    assert direct.stdout.split() == ["True", "True", "True", "True", "None"], direct.stderr


def test_probes_are_not_redirected_to_https_the_rest_is() -> None:
    # given: plain HTTP straight to gunicorn, as a probe or a scraper on the private network
    code = (
        "from django.test import Client; c = Client(HTTP_HOST='hub.example.com');"
        "print(c.get('/healthz').status_code, c.get('/metrics').status_code,"
        " c.get('/admin/').status_code, c.get('/ocpi/versions').status_code)"
    )
    # when
    result = manage("shell", "--verbosity", "0", "--no-imports", "-c", code)
    # then: the probes answer (503: nothing runs here), everything else is sent to https
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["503", "200", "301", "301"]


@pytest.mark.parametrize(
    ("drop", "extra", "message"),
    [
        (("OCPI_BASE_URL",), {}, "OCPI_BASE_URL must be set in production"),
        ((), {"OCPI_BASE_URL": "http://hub.example.com"}, "OCPI_BASE_URL must be an https URL"),
        (("DJANGO_SECRET_KEY",), {}, "DJANGO_SECRET_KEY must be set in production"),
    ],
)
def test_missing_or_plain_http_settings_fail_clearly(
    drop: tuple[str, ...], extra: dict[str, str], message: str
) -> None:
    result = manage("check", "--deploy", drop=drop, **extra)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
