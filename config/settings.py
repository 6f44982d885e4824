"""Settings come from the environment (and an optional .env file beside manage.py).

Every variable is documented in .env.example. With nothing set the console runs on its
embedded default: a SQLite file, a file-system Celery broker and a file cache under var/.
"""

import secrets
from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _number(name: str, cast, default):
    """An int or float setting; unset or empty means the default (as in .env.example)."""
    raw = env.str(name, default="").strip()
    return cast(raw) if raw else default


def _flag(name: str, default: bool) -> bool:
    """A true/false setting; unset or empty means the default."""
    return env.bool(name) if env.str(name, default="").strip() else default


VAR_DIR = Path(env.str("CONSOLE_VAR_DIR", default="") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(name: str, make) -> str:
    """A secret kept in var/ for the embedded default, so that a fresh checkout runs as is.

    Production sets the variable instead; `check --deploy` tells when it is missing.
    """
    path = VAR_DIR / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = env("SECRET_KEY", default=None) or _local_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
# Keys for secrets at rest (header values). Separate from SECRET_KEY; comma-separated,
# the first encrypts, all decrypt, so that a key can be rotated.
CONSOLE_ENCRYPTION_KEYS = env.list("CONSOLE_ENCRYPTION_KEYS", default=[]) or [
    _local_secret("encryption_key", _new_fernet_key)
]

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # First, so that its createsuperuser and changepassword (which record in the audit trail)
    # replace django.contrib.auth's.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "integrations",
    "prompts_library",
    "audit",
    "usage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "config.params.StrictParamsMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "config.cache.banner",
                "audit.context.chain_alert",
            ],
            "builtins": ["integrations.templatetags.console"],
        },
    },
]

DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker's threads write to one file: wait for the lock
    # instead of failing, and take it at BEGIN so that no transaction upgrades mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The worker process must see the test database: a file, not :memory:.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif _flag("DATABASE_POOL", True):
    # Each process keeps a pool of open connections (psycopg_pool) instead of opening one per
    # request or task. A process never holds more connections than it has threads, so across a
    # deployment: web processes x threads + workers x (concurrency + 2) <= max_connections
    # (README, "Database connections"). A connection is checked before it is handed out
    # (config.dbpool), so a restarted PostgreSQL costs one failed check, not a failed request.
    from config import dbpool

    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, Django does not
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": _number("DATABASE_POOL_MIN_SIZE", int, 1),
        "max_size": _number("DATABASE_POOL_MAX_SIZE", int, 64),
        # A request waits this long for a free connection before failing (503).
        "timeout": _number("DATABASE_POOL_TIMEOUT", float, 10.0),
        "max_idle": _number("DATABASE_POOL_MAX_IDLE", float, 300.0),
        "check": dbpool.check,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", _number("CONN_MAX_AGE", int, 0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
# After Redis could not be reached, a process works without it for this many seconds before it
# tries again (config.cache): pages never wait on a dead Redis, and recover by themselves.
REDIS_RETRY_SECONDS = _number("REDIS_RETRY_SECONDS", float, 2.0)
# Seconds to wait for Redis to accept a connection or answer a command.
REDIS_TIMEOUT = _number("REDIS_TIMEOUT", float, 0.5)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="console"),
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
                "health_check_interval": 30,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# After this many failed logins for one user name from one address, that user name is refused
# from that address for LOGIN_LOCKOUT_SECONDS (accounts.throttle): never from everywhere.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
# After this many failed logins from one address, whatever the user names, that address is
# refused for LOGIN_LOCKOUT_SECONDS too (accounts.throttle).
LOGIN_ADDRESS_FAILURE_LIMIT = _number("LOGIN_ADDRESS_FAILURE_LIMIT", int, 20)
# How many reverse proxies in front of the console append to X-Forwarded-For: the client's
# address is the entry the outermost of them appended. 0: REMOTE_ADDR (no proxy).
TRUSTED_PROXY_COUNT = _number("TRUSTED_PROXY_COUNT", int, 0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Security headers. The console runs without inline scripts or styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Celery. With REDIS_URL unset, the broker is kombu's file-system transport under var/:
# a real separate worker process, no server needed.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A lost worker's tests are ended by their heartbeats (integrations.runs), not by the
    # visibility timeout; a message handed out again finds its test ended and does nothing.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": 600,
        "socket_connect_timeout": REDIS_TIMEOUT,
    }
    # With Redis down, Test answers within about a second instead of retrying for long.
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="console")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A test that a dying worker held is delivered again and finished (or failed with a reason).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tests wait on the network, not the CPU: threads let one small worker run many at once.
CELERY_WORKER_POOL = env("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=48)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=150)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic tasks, run by `celery -A config beat` (`CELERY_BEAT=1 ./console up`).
CANARY_ENABLED = env.bool("CANARY_ENABLED", default=False)
CANARY_INTERVAL_SECONDS = env.int("CANARY_INTERVAL_SECONDS", default=900)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "reap-stale-tests": {"task": "integrations.tasks.reap_stale_tests", "schedule": 60.0},
    "usage-retention": {"task": "usage.tasks.apply_retention", "schedule": 3600.0},
    # What a process that stopped left in the usage journal (usage.journal).
    "usage-journal": {"task": "usage.tasks.drain_journal", "schedule": 10.0},
    # The same for the audit journal's token uses (audit.journal).
    "audit-journal": {"task": "audit.tasks.drain_journal", "schedule": 10.0},
}
# The audit chain is verified this often (audit.tasks); the audit list shows the result.
AUDIT_VERIFY_INTERVAL_SECONDS = _number("AUDIT_VERIFY_INTERVAL_SECONDS", float, 3600.0)
CELERY_BEAT_SCHEDULE["verify-audit-chain"] = {
    "task": "audit.tasks.verify_audit_chain",
    "schedule": AUDIT_VERIFY_INTERVAL_SECONDS,
}
# Audit events older than this many days are archived to AUDIT_ARCHIVE_DIR (JSON Lines) and
# removed, leaving a signed checkpoint (audit.archive; daily, by beat). Empty: keep forever.
AUDIT_RETENTION_DAYS = _number("AUDIT_RETENTION_DAYS", int, None)
AUDIT_ARCHIVE_DIR = Path(env.str("AUDIT_ARCHIVE_DIR", default="") or VAR_DIR / "audit-archive")
if AUDIT_RETENTION_DAYS:
    CELERY_BEAT_SCHEDULE["archive-audit-trail"] = {
        "task": "audit.tasks.archive_audit_trail",
        "schedule": 24 * 3600.0,
    }
if CANARY_ENABLED:
    # Re-tests every saved integration, so a revoked role shows before a feature breaks.
    CELERY_BEAT_SCHEDULE["health-canary"] = {
        "task": "integrations.tasks.run_health_canary",
        "schedule": float(CANARY_INTERVAL_SECONDS),
    }

# AWS. The platform's own identity comes from boto3's default credential chain.
AWS_REGION = env("AWS_REGION", default=env("AWS_DEFAULT_REGION", default="us-east-1"))
AWS_CONNECT_TIMEOUT = env.float("AWS_CONNECT_TIMEOUT", default=5.0)
AWS_READ_TIMEOUT = env.float("AWS_READ_TIMEOUT", default=60.0)
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=3)
ASSUME_ROLE_DURATION = env.int("ASSUME_ROLE_DURATION", default=3600)
# Assumed credentials are reused until this many seconds before they expire.
ASSUME_ROLE_REFRESH_MARGIN = env.int("ASSUME_ROLE_REFRESH_MARGIN", default=300)
# Origins that may be called besides AWS's own hosts: the sandbox, proxies, emulators.
EXTRA_AWS_ENDPOINTS = env.list("EXTRA_AWS_ENDPOINTS", default=[])
# A test that has not finished this long after it started is ended as failed.
CONNECTION_TEST_DEADLINE = env.int("CONNECTION_TEST_DEADLINE", default=240)
# A worker writes a heartbeat on each test it runs this often; a running test whose heartbeat is
# older than TEST_LOST_AFTER_SECONDS lost its worker and is ended as failed ("The worker stopped").
TEST_HEARTBEAT_SECONDS = _number("TEST_HEARTBEAT_SECONDS", float, 2.0)
TEST_LOST_AFTER_SECONDS = _number("TEST_LOST_AFTER_SECONDS", float, 10.0)
# A test that no worker has taken this long after it was queued is ended as failed.
CONNECTION_TEST_QUEUE_DEADLINE = env.int("CONNECTION_TEST_QUEUE_DEADLINE", default=600)
RAW_RESPONSE_LIMIT = env.int("RAW_RESPONSE_LIMIT", default=64 * 1024)
# How long the Invoke API waits for the model before answering upstream_timeout.
PROMPTS_INVOKE_TIMEOUT = env.float("PROMPTS_INVOKE_TIMEOUT", default=30.0)
# Fallbacks (bedrock.fallbacks, integrations.cooldown): an integration that failed this many
# times in a row (throttled, timed out, server errors) is skipped for this many seconds, in every
# process; an answer or a successful health canary takes it back early.
FALLBACK_FAILURES_BEFORE_COOLDOWN = _number("FALLBACK_FAILURES_BEFORE_COOLDOWN", int, 3)
FALLBACK_COOLDOWN_SECONDS = _number("FALLBACK_COOLDOWN_SECONDS", float, 60.0)
# The Invoke API keeps tokens and published prompts in process memory this long. A change made
# in this process (revoke, publish, edit) takes effect at once; other processes see it within
# this many seconds. 0 turns the cache off.
API_CACHE_SECONDS = _number("API_CACHE_SECONDS", float, 5.0)
# Token-use events are written without the audit chain's lock and chained in batches, at most
# this often per process (and always before the trail is read or verified).
AUDIT_CHAIN_INTERVAL = env.float("AUDIT_CHAIN_INTERVAL", default=0.5)
# Each new audit event also written as one JSON line, after its transaction commits, to
# "stdout" or to this file path (README, "Audit trail"). Empty: only the database.
AUDIT_LOG_STREAM = env.str("AUDIT_LOG_STREAM", default="")

# Usage (usage/): call records are kept this many days, the hourly rollups the charts read this
# many; a prompt that keeps bodies keeps at most USAGE_BODY_LIMIT characters of each.
USAGE_RETENTION_DAYS = _number("USAGE_RETENTION_DAYS", int, 30)
USAGE_ROLLUP_RETENTION_DAYS = _number("USAGE_ROLLUP_RETENTION_DAYS", int, 400)
USAGE_BODY_LIMIT = _number("USAGE_BODY_LIMIT", int, 16 * 1024)
# A changed price applies to the cost of calls made by other processes within this many seconds.
USAGE_PRICE_CACHE_SECONDS = _number("USAGE_PRICE_CACHE_SECONDS", float, 5.0)
# PostgreSQL: true makes each usage record's commit wait for the disk (one fsync per call); by
# default it does not (asynchronous commit: a database-server crash may lose the last moment).
USAGE_DURABLE_RECORDS = _flag("USAGE_DURABLE_RECORDS", False)
# PostgreSQL with Redis: a call's record is pushed to a journal in Redis and moved to the
# database in batches of up to USAGE_JOURNAL_BATCH (usage.journal); the process that pushed
# drains after USAGE_JOURNAL_WINDOW_SECONDS, any process every USAGE_JOURNAL_IDLE_SECONDS while
# records wait. false: each record is written by its call (one statement per call).
USAGE_JOURNAL = _flag("USAGE_JOURNAL", True)
USAGE_JOURNAL_BATCH = _number("USAGE_JOURNAL_BATCH", int, 500)
USAGE_JOURNAL_WINDOW_SECONDS = _number("USAGE_JOURNAL_WINDOW_SECONDS", float, 0.5)
USAGE_JOURNAL_IDLE_SECONDS = _number("USAGE_JOURNAL_IDLE_SECONDS", float, 2.0)
# PostgreSQL: true makes the audit event of each API token use wait for the disk when it is
# written (one fsync per API call); by default it commits asynchronously, like the usage record.
AUDIT_DURABLE_TOKEN_USE = _flag("AUDIT_DURABLE_TOKEN_USE", False)
# PostgreSQL with Redis: the audit event of each API token use is pushed to a journal in Redis
# and chained in batches (audit.journal), like usage records; the process that pushed chains
# after AUDIT_CHAIN_INTERVAL. false: each event is written by its call as a pending event.
AUDIT_JOURNAL = _flag("AUDIT_JOURNAL", True)
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset, /metrics is off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
