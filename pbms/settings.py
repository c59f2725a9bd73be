"""Django settings for PBMS.

Everything a deployment changes comes from the environment (or ``odoo.conf``, see
:mod:`pbms.config`); the defaults serve a demo on http://localhost:8069.
"""

from __future__ import annotations

import os
from pathlib import Path

import pghistory
import pgtrigger
import psycopg

from pbms import config

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("G2P_DEBUG", "").lower() in ("1", "true", "yes")
SECRET_KEY = os.environ.get("SECRET_KEY") or config.secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "pgtrigger",
    "pghistory",
    "procrastinate.contrib.django",
    "g2p_registry_base",
    "g2p_programs",
    "addons.g2p_rest",
    "addons.g2p_rpc",
    "g2p_payment_files",
    "g2p_pmt",
    "addons.g2p_entitlement_in_kind",
    "g2p_entitlement_voucher",
    # Last: its ready() freezes the manager registry once every app has registered its managers.
    "pbms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pbms.urls"
WSGI_APPLICATION = "pbms.wsgi.application"
ASGI_APPLICATION = "pbms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "pbms" / "templates"],
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


# Audit triggers read the session settings ``pgtrigger.ignore`` (and pghistory's context);
# an undefined setting makes every row of a bulk write raise and catch an error inside the
# trigger, which turns large writes quadratic. Define it for every session.
# The application's statements are short keyset chunks and lookups: JIT compilation costs more
# than it saves on them (over 100 ms per 10,000-row chunk), and on SSD storage an index probe
# is nearly as cheap as a sequential page read (random_page_cost 1.1 instead of the 4.0 of
# spinning disks), so chunks probe the rows they concern instead of scanning whole tables.
_DB_OPTIONS = {"options": "-c pgtrigger.ignore={} -c jit=off -c random_page_cost=1.1"}


def _database() -> dict[str, object]:
    url = config.external_database_url()
    if url:
        params = psycopg.conninfo.conninfo_to_dict(url)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": params.get("dbname") or "pbms",
            "USER": params.get("user") or "postgres",
            "PASSWORD": params.get("password") or "",
            "HOST": params.get("host") or "",
            "PORT": str(params.get("port") or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": _DB_OPTIONS,
            "TEST": {"NAME": os.environ.get("G2P_TEST_DB_NAME") or None},
        }
    from pbms import embedded_pg

    embedded = embedded_pg.start(config.data_dir())
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": embedded["NAME"],
        "USER": embedded["USER"],
        "PASSWORD": "",
        "HOST": embedded["HOST"],
        "PORT": embedded["PORT"],
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": _DB_OPTIONS,
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("es", "Español")]
TIME_ZONE = os.environ.get("TZ_NAME", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = config.data_dir() / "static"
# WhiteNoise serves app static files straight from the installed packages (no collectstatic
# step on a fresh machine); it expects the root folder to exist.
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:
    pass
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20000

LOGIN_URL = "/admin/login/"

# Default region for phone numbers written without a country prefix (ISO 3166-1 alpha-2).
G2P_DEFAULT_PHONE_REGION = os.environ.get("G2P_DEFAULT_PHONE_REGION", "KE")

# Registry operations above this many rows run as background jobs (upstream: 200).
G2P_MAX_ROWS_INLINE = int(os.environ.get("G2P_MAX_ROWS_INLINE", "200"))

PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "jobs"

PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"
# Audit triggers fire once per statement and record every row it changed from the transition
# tables (one INSERT … SELECT), so a set-based write of a million rows is audited set-based too;
# row-level triggers would run two PL/pgSQL calls and a subtransaction per row.
PGHISTORY_LEVEL = pgtrigger.Statement
# Event tables are read by object (pgh_obj) and by context; the copies of the tracked rows'
# other foreign keys are not indexed, because every audited bulk write would maintain each of
# those indexes too. The registry's event models index the columns the registrant History page
# looks events up by (their ``meta``).
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("G2P_LOG_LEVEL", "INFO")},
    "loggers": {"procrastinate": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}

from pbms.unfold_conf import UNFOLD  # noqa: E402,F401
