"""Production settings for serving the board: gunicorn -c gunicorn.conf.py app:app"""
import os

import jieba

from notices import INSTANCE_PATH
from notices import search

# Two cores here; sync workers, one request each, are the simplest safe choice for Flask.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
bind = os.environ.get("BIND", "127.0.0.1:8000")
timeout = 30
# The app (and jieba's dictionary, below) load once in the master and are shared by the
# forked workers: faster start, less memory per worker.
preload_app = True
accesslog = None
# Files for the access and error logs, rotated by deploy/logrotate.conf (which signals the
# master through PIDFILE); unset, no access log and errors to standard error.
if os.environ.get("ACCESS_LOG"):
    accesslog = os.environ["ACCESS_LOG"]
errorlog = os.environ.get("ERROR_LOG", "-")
pidfile = os.environ.get("PIDFILE") or None
# Access and error logs go through notices.logs, which keeps tokens and ID numbers out.
logger_class = "notices.logs.GunicornLogger"
# Requests larger than this are refused before Flask sees them.
limit_request_line = 8190
# gunicorn takes X-Forwarded-Proto and a SCRIPT_NAME header on trust from these addresses, by
# default 127.0.0.1: every local client, so one request could move the board's links to
# another site. Nobody is trusted unless FORWARDED_ALLOW_IPS names the proxy; X-Forwarded-For
# and -Proto reach the app through FLASK_TRUSTED_PROXIES instead.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "")
# Not even a trusted proxy (or a client on a Unix socket, which gunicorn always trusts) sets
# SCRIPT_NAME: the board's place in the site is FLASK_APPLICATION_ROOT, never a header.
forwarder_headers = ""

# jieba's dictionary cache lives in the instance folder, as the app keeps it, never in the
# shared temporary folder.
search.use_dictionary_cache(INSTANCE_PATH)
jieba.initialize()

# Rate limits count per process in memory://, so four workers would each allow the full
# number of login attempts. Refuse to start that way; an explicit FLASK_RATELIMIT_ENABLED=false
# (benchmarks of page speed) is the only way round.
_limits = os.environ.get("FLASK_RATELIMIT_STORAGE_URI", "memory://")
_limited = os.environ.get("FLASK_RATELIMIT_ENABLED", "true").lower() != "false"
if workers > 1 and _limited and _limits.startswith("memory"):
    raise SystemExit(
        "gunicorn.conf.py: set FLASK_RATELIMIT_STORAGE_URI to a shared store such as "
        "redis://localhost:6379 so that all workers count logins and submissions together."
    )

# Absolute URLs (the API's tracking_url and url) are built from FLASK_PUBLIC_URL, never from a
# request's Host; without it they would name make demo's http://127.0.0.1:5000.
_public = os.environ.get("FLASK_PUBLIC_URL") or os.environ.get("FLASK_SERVER_NAME")
if workers > 1 and not _public:
    raise SystemExit(
        "gunicorn.conf.py: set FLASK_PUBLIC_URL to the board's public address, such as "
        "https://notices.example.cn, so that the links it writes point there."
    )


def post_fork(server, worker):
    """Give each worker database connections of its own.

    A connection the master opened while loading the app (preload_app) would otherwise be
    one socket shared by every worker, their queries and answers interleaved; on SQLite it
    would be a file handle whose locks the fork does not carry over. The pool forgets it
    without closing it, which would end it for the master too.
    """
    from notices.extensions import db

    app = server.app.callable  # the app the master loaded; None unless preloaded
    if app is not None:
        with app.app_context():
            db.engine.dispose(close=False)
