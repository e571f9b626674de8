"""Settings shared by every environment; integration settings are imported at the end."""

from datetime import timedelta

from settings.env import BASE_DIR, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "hub.apps.HubAdminConfig",  # django.contrib.admin with the hub's admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "hub.apps.HubConfig",
    "cpo_gateway.apps.CpoGatewayConfig",
    "emsp_gateway.apps.EmspGatewayConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, dashboard charts, API docs) under gunicorn, DEBUG on or off: from
    # STATIC_ROOT (`collectstatic`, which `manage.py hub_run` and the image run), or with
    # DEBUG on from the apps' folders directly.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hub.ocpi.middleware.OcpiExchangeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"
# OCPI URLs are published without a trailing slash; never redirect a partner's POST.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default so that `make run` needs nothing but Python; WAL and a busy
# timeout let the web server, the Celery worker and beat share one file.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # No JIT for the hub's statements: they are short OLTP queries, and on a table whose
    # statistics lag a bulk load PostgreSQL's estimate crosses jit_above_cost and compiles for
    # longer than the query runs (issue 14: a GET-all count over 100,000 fresh locations spent
    # 368 of 397 ms compiling). DJANGO_DB_JIT=true keeps the server's setting (a pooler that
    # refuses the `options` startup parameter, or a reason to want JIT).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool(
        "DJANGO_DB_JIT", default=False
    ):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = " ".join(filter(None, [options.get("options"), "-c jit=off"]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Staff login (the admin is the only password login; partners authenticate with OCPI tokens,
# which never reach these backends). Axes first: it refuses a locked-out username+address
# before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "hub.auth.StaffLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# The operator says a proxy in front of gunicorn terminates TLS and sets X-Forwarded-Proto
# and X-Forwarded-For (settings/production.py, docker-compose.yml `proxy`); only then are
# those headers believed.
HUB_BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
# django-axes: after AXES_FAILURE_LIMIT failed logins for one username from one address, that
# pair is locked out for the cool-off (a success resets the count). Per pair, so an attacker
# guessing from one address cannot lock a colleague out from everywhere.
AXES_FAILURE_LIMIT = env.int("HUB_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("HUB_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "hub.auth.staff_client_ip"
# No start-up banner on every manage.py command; lockouts are still logged as warnings.
AXES_VERBOSE = False
# Admin sessions: a working day at most, and gone with the browser unless the operator opts
# out (the hub has no other sessions: partners use tokens).
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("DJANGO_SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_HTTPONLY = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A partner can send a large location list, but never megabytes in one object: cap the body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("OCPI_MAX_BODY_BYTES", default=1_048_576)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["hub.ocpi.authentication.CredentialsTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["hub.ocpi.permissions.IsRegisteredParty"],
    "DEFAULT_PAGINATION_CLASS": "hub.ocpi.pagination.OcpiPagination",
    "DEFAULT_RENDERER_CLASSES": ["hub.ocpi.renderers.OcpiJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["hub.ocpi.parsers.OcpiJSONParser"],
    "EXCEPTION_HANDLER": "hub.ocpi.exceptions.ocpi_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "hub.ocpi.schema.OcpiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OCPI 2.2.1 roaming hub",
    "DESCRIPTION": (
        "The OCPI interfaces of the hub. Every response is an OCPI envelope "
        "(`data`, `status_code`, `status_message`, `timestamp`). Authenticate with "
        "`Authorization: Token <base64(token)>`; functional modules carry the "
        "`OCPI-from-*`/`OCPI-to-*` routing headers."
    ),
    "VERSION": "2.2.1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI's default validator badge is an image from validator.swagger.io: off, so the
    # docs page loads nothing from outside the hub.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # The default enum hook, then the hub's guide and named components (envelope, status
    # codes, OCPI DateTime): hub.ocpi.schema_docs.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hub.ocpi.schema_docs.ocpi_postprocess",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "hub.models.parties.Role",
        "InterfaceRoleEnum": "hub.models.parties.InterfaceRole",
        "ConnectionStatusEnum": "hub.models.parties.ConnectionStatus",
    },
}

# The cache holds counters every web process must share (the unauthenticated-request limit):
# Redis when REDIS_URL is set; process-local memory on the embedded default (one machine, where
# the limit is then per web process).
_cache_redis_url: str | None = env("REDIS_URL", default=None)
CACHES: dict[str, dict[str, object]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_redis_url,
            "KEY_PREFIX": "hub",
        }
        if _cache_redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # The generation of the per-process directory copies (hub.ocpi.directory_cache): it must
    # be shared by every process, so the copies are on only with Redis (OCPI_DIRECTORY_CACHE_S).
    "directory": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_redis_url,
            "KEY_PREFIX": "hub",
        }
        if _cache_redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "directory"}
    ),
}

from settings.celery import *  # noqa: E402,F403
from settings.logging import *  # noqa: E402,F403
from settings.monitoring import *  # noqa: E402,F403
from settings.ocpi import *  # noqa: E402,F403
