"""The notice board: public notices submitted online, approved by editors, read by everyone."""
import os
import secrets

from flask import Flask
from sqlalchemy.engine import make_url

from notices import alerts
from notices import api
from notices import cli
from notices import days
from notices import editor
from notices import errors
from notices import feeds
from notices import logs
from notices import mail
from notices import objections
from notices import pages
from notices import privacy
from notices import public
from notices import search
from notices import security
from notices import submit
from notices import templating
from notices import urls
from notices.extensions import csrf
from notices.extensions import db
from notices.extensions import limiter
from notices.extensions import login_manager
from notices.extensions import migrate

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
# Where the database, the secret key and jieba's dictionary cache live; git ignores it.
INSTANCE_PATH = os.path.join(REPO_ROOT, "instance")


def create_app(test_config=None, instance_path=None):
    """Create and configure an instance of the notice board."""
    app = Flask(
        __name__,
        instance_path=instance_path or INSTANCE_PATH,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(
        # Relative SQLite paths are resolved inside instance/.
        SQLALCHEMY_DATABASE_URI="sqlite:///notices.db",
        # "whoosh" or "postgresql" (notices/search); unset, PostgreSQL's own search on a
        # PostgreSQL database and Whoosh on SQLite.
        SEARCH_ENGINE=None,
        # The Whoosh index directory; git keeps the folder but not its contents.
        SEARCH_INDEX_DIR=os.path.join(REPO_ROOT, "search_index"),
        # Index each publication right after its commit; bulk loads turn it off and reindex.
        SEARCH_INDEX_ON_COMMIT=True,
        # Length of every notice's window (collection or objection period), in days.
        NOTICE_WINDOW_DAYS=30,
        # Notices per page on listings and in the API unless the client asks otherwise.
        PER_PAGE=20,
        # Rendered pages each worker keeps for anonymous readers (notices/pages.py): at most
        # this many, and this many bytes of them (a permalink is 2 to 3 KB, a listing up to
        # 25 KB, an API page of 100 notices about 120 KB).
        PAGE_CACHE_ENTRIES=4096,
        PAGE_CACHE_BYTES=32 * 1024 * 1024,
        # Notices as shown (worded, masked, dated) each worker keeps for search results.
        SHOWN_CACHE_ENTRIES=4096,
        # Search pages each worker keeps (notices/pages.py), apart from the pages above so
        # that searches nobody repeats never push a listing out: a page of 20 results takes
        # 60 to 100 KB of a worker's memory.
        SEARCH_CACHE_ENTRIES=1024,
        SEARCH_CACHE_BYTES=24 * 1024 * 1024,
        # Flask-WTF would look for Flask-Babel; WTForms' own Chinese messages are used instead.
        WTF_I18N_ENABLED=False,
        # Errors from the database never quote the values they were given (phone numbers,
        # ID numbers) into a log.
        SQLALCHEMY_ENGINE_OPTIONS={"hide_parameters": True},
        # Reverse proxies in front of the board (nginx terminating HTTPS: 1) whose
        # X-Forwarded-For tells the client's address; 0 when clients connect directly.
        TRUSTED_PROXIES=0,
        # Where Flask-Limiter counts. memory:// serves one process (flask run); gunicorn's
        # workers must share counts, so gunicorn.conf.py insists on redis://… there.
        RATELIMIT_STORAGE_URI="memory://",
        # If Redis goes away, count in each worker's memory until it is back, rather than
        # answer every login with an error.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        # Submissions one address may make, on the form and through the API.
        SUBMIT_RATE_LIMIT="20 per hour",
        # Exact document-number lookups (/lost, the API's lost-documents, a search for a
        # number) one address may make, and the misses the whole board answers in a day: each
        # lookup tells whether one candidate number was declared, so they must not be
        # enumerable (see notices/lookups.py).
        LOOKUP_RATE_LIMIT="10 per minute;30 per hour",
        LOOKUP_DAILY_MISSES=2000,
        # Previews (and added or removed loss rows) one address may ask for: each parses and
        # validates a whole submission, so they are limited too, well above what a person
        # correcting a form a few times needs.
        PREVIEW_RATE_LIMIT="60 per hour",
        # Login attempts one address may make.
        LOGIN_RATE_LIMIT="10 per minute;50 per day",
        # Alert subscriptions (notices/alerts): the requests one client address may make, the
        # confirmation mails one e-mail address may be sent (counted by a keyed hash of it),
        # and the days a confirmation link lasts before an unconfirmed subscription is deleted.
        ALERT_SUBSCRIBE_RATE_LIMIT="10 per hour;30 per day",
        ALERT_CONFIRM_ADDRESS_LIMIT="1 per day",
        ALERT_CONFIRM_DAYS=3,
        # Session cookies are never readable from scripts, never sent cross-site and never
        # sent over plain HTTP (browsers make an exception for 127.0.0.1 and localhost).
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=True,
        # Hours an editor's login lasts before asking for the password again.
        LOGIN_SESSION_HOURS=12,
        # The board's public address (https://notices.example.cn), the start of every
        # absolute URL it writes; never taken from a request. Unset: SERVER_NAME's, else
        # http://127.0.0.1:5000 where `make demo` serves it (see notices/urls.py).
        PUBLIC_URL=None,
        # Request bodies above this are refused with 413 before anything reads them; the
        # longest submission the forms accept is a small fraction of it.
        MAX_CONTENT_LENGTH=256 * 1024,
        # The SMTP server `flask send-mail` sends through. Unset, the worker prints each mail
        # to its standard output instead and counts it sent: what `make demo` shows.
        MAIL_SERVER=None,
        # Unset: 465 with MAIL_USE_SSL, 587 with MAIL_USE_TLS, else 25.
        MAIL_PORT=None,
        # STARTTLS after connecting (port 587), or TLS from the first byte (465); not both.
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        # The login on the server, if it asks for one.
        MAIL_USERNAME=None,
        MAIL_PASSWORD=None,
        # From: of every mail, e.g. "西藏公告栏 <notices@example.cn>". Unset: noreply at
        # PUBLIC_URL's host.
        MAIL_SENDER=None,
        # Seconds one SMTP command may wait for the server's answer.
        MAIL_TIMEOUT=30,
        # How long a worker holds a mail it claimed: far longer than sending one takes. A
        # killed worker's mail is sent by another once this has passed.
        MAIL_LEASE_SECONDS=600,
        # Tries of one mail before it is given up: the first, then retries after 1, 2, 4 …
        # minutes (MAIL_RETRY_SECONDS doubled each time, at most MAIL_RETRY_MAX_SECONDS),
        # about 17 hours of a server refusing or unreachable in all.
        MAIL_MAX_ATTEMPTS=12,
        MAIL_RETRY_SECONDS=60,
        MAIL_RETRY_MAX_SECONDS=4 * 3600,
        # Retention (notices/privacy, `flask purge`), in board days. A published notice's
        # submitter contacts: a year after its window ends, so an editor can still reach the
        # submitter about an objection or a correction through the one-year limitation of a
        # labour arbitration over wages (劳动争议调解仲裁法 Art. 27), then only the public
        # record and the audit trail remain.
        RETAIN_CONTACTS_DAYS=365,
        # A rejected or withdrawn submission's personal data (contacts, names, document
        # numbers, text): long enough to resubmit it corrected from the tracking page or to
        # ask about the decision; nothing of it was published, so no longer.
        RETAIN_UNPUBLISHED_DAYS=90,
        # The mail log (a keyed hash of each address) and mail never sent: enough to answer
        # "did you write to me?" for a season; the log only stops duplicates, which no one
        # sends months later.
        RETAIN_MAIL_DAYS=90,
        # An objector's name, phone and what they wrote, after the objection is resolved:
        # time to ask the authority again about its handling; the amount, the handling and
        # the public counts stay.
        RETAIN_OBJECTIONS_DAYS=90,
        # Where people write about their data; unset: privacy@ the host of PUBLIC_URL.
        PRIVACY_CONTACT=None,
    )
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)

    urls.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(REPO_ROOT, "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    templating.init_app(app)
    pages.init_app(app)
    security.init_app(app)
    logs.init_app(app)
    errors.init_app(app)
    search.init_app(app)
    mail.init_app(app)
    alerts.init_app(app)
    privacy.init_app(app)
    cli.init_app(app)

    app.register_blueprint(public.bp)
    app.register_blueprint(submit.bp)
    app.register_blueprint(editor.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(alerts.bp)
    days.init_app(app)
    app.register_blueprint(objections.bp)
    app.register_blueprint(privacy.bp)
    # The API authenticates nothing by cookie, so a cross-site form cannot act through it.
    csrf.exempt(api.bp)
    return app


def _instance_secret(app):
    """Return the secret key kept in instance/, creating it on first start.

    Every worker of one installation reads the same file, so sessions survive restarts and
    work across processes without anyone having to invent a key. That holds on one machine
    only: a board on a server database (PostgreSQL) may run on several, and each would invent
    a key of its own, so logins, form tokens and the API's Idempotency-Keys made on one would
    mean nothing on the next. There the key must be given, and the board refuses to start
    without it.
    """
    backend = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()
    if backend != "sqlite":
        raise RuntimeError(
            f"FLASK_SECRET_KEY is not set, and the database ({backend}) is a server database "
            "the board may share among several servers: set FLASK_SECRET_KEY to the same "
            "value on every server, a long random one such as "
            "`python -c 'import secrets; print(secrets.token_hex(32))'` prints."
        )
    path = os.path.join(app.instance_path, "secret_key")
    if not os.path.exists(path):
        # Written aside and linked into place, so a worker starting at the same moment
        # never reads a half-written key: the first link wins, the others read it.
        tmp = f"{path}.{os.getpid()}"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path) as f:
        return f.read().strip()
