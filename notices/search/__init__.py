"""Full-text search of published notices.

``analysis`` reads what notices say and what people type, the same way for any engine. Two
engines keep the same contract (the same query rules, filters, facets and highlighting;
ranking may differ), and the rest of the board uses only the names below, never knowing which
one runs:

- ``engine``, Whoosh, for a board on one server: two tiers (live and archive) in a folder,
  kept up to date from an outbox. Services write an outbox row in the transaction that
  publishes or revokes a notice; :func:`drain` moves outbox rows into the index under the
  index's own locks, in whichever process gets them first, so concurrent workers never lose
  an update to a LockError and a killed worker leaves its rows for the next drain.
- ``postgres_engine``, for a board on several servers sharing one PostgreSQL database: a
  table of the database, written in the very transaction that changes the notice, so every
  server sees the change the moment it commits.

``SEARCH_ENGINE`` (``FLASK_SEARCH_ENGINE``) chooses, once, when the app is made: ``whoosh``
or ``postgresql``; unset, the database's own on PostgreSQL and Whoosh on SQLite. Either way
the database is the source of truth, and ``flask reindex`` rebuilds the index from it.
"""
from flask import current_app

from notices.search import engine as whoosh_engine
from notices.search import postgres_engine
from notices.search.analysis import MAX_QUERY  # noqa: F401
from notices.search.analysis import MAX_WORDS  # noqa: F401
from notices.search.analysis import grams  # noqa: F401
from notices.search.analysis import highlight  # noqa: F401
from notices.search.analysis import numbers_in  # noqa: F401
from notices.search.analysis import split_query  # noqa: F401
from notices.search.analysis import use_dictionary_cache  # noqa: F401
from notices.search.analysis import words  # noqa: F401
from notices.search.engine import ARCHIVE  # noqa: F401
from notices.search.engine import LIVE  # noqa: F401
from notices.search.engine import TEXT_VERSION  # noqa: F401
from notices.search.engine import Hit  # noqa: F401
from notices.search.engine import IndexBusy  # noqa: F401
from notices.search.engine import Results  # noqa: F401
from notices.search.engine import build_query  # noqa: F401
from notices.search.engine import open_index  # noqa: F401
from notices.search.engine import whole_searcher  # noqa: F401

# The engines by the name SEARCH_ENGINE gives them.
ENGINES = {"whoosh": whoosh_engine, "postgresql": postgres_engine}


def init_app(app):
    """Choose the app's search engine, and refuse one its database cannot serve."""
    name = app.config.get("SEARCH_ENGINE")
    if not name:
        url = str(app.config["SQLALCHEMY_DATABASE_URI"])
        name = "postgresql" if url.startswith("postgresql") else "whoosh"
    if name not in ENGINES:
        raise RuntimeError(
            f"SEARCH_ENGINE must be one of {', '.join(ENGINES)}, not {name!r}"
        )
    app.config["SEARCH_ENGINE"] = name
    # Whoosh's folder and jieba's dictionary cache are set up whichever engine searches:
    # tests and benchmarks compare the two on one board.
    whoosh_engine.init_app(app)
    if name == "postgresql":
        postgres_engine.init_app(app)
    app.extensions["search_engine"] = ENGINES[name]


def _engine():
    return current_app.extensions["search_engine"]


def search(q, **options):
    """Return :class:`Results` of a search (see ``engine.search`` for the options)."""
    return _engine().search(q, **options)


def record(notice, now):
    """Have ``notice``'s change reach the search, in the transaction that makes the change."""
    return _engine().record(notice, now)


def drain(limit=None):
    """Index what the outbox holds; return how many changes were settled."""
    return _engine().drain() if limit is None else _engine().drain(limit)


def drain_quietly():
    """Index what the outbox holds after a commit, never failing the request for it."""
    return _engine().drain_quietly()


def reindex(notices, progress=None):
    """Rebuild the index from ``notices`` (read lazily); return how many were read."""
    return _engine().reindex(notices, progress=progress)


def check(public):
    """Return the differences between the index and ``public`` ({ref: (status, window_end)})."""
    return _engine().check(public)


def indexed():
    """Return {ref: (status, window_end as YYYYMMDD)} of every notice the index holds."""
    return _engine().indexed()


def move_expired(today):
    """Move notices whose window ended before ``today`` out of the live search; return how many."""
    return _engine().move_expired(today)


def held(timeout=60):
    """Return a context holding the index for a bulk change (see ``engine.held``)."""
    return _engine().held(timeout=timeout)


def prepare_index():
    """Make the index ready to use, creating what is missing."""
    return _engine().prepare_index()


def location():
    """Return where the index is, as a person reads it in a command's output."""
    return _engine().location()


def create_index():
    """Make the index empty."""
    return _engine().create_index()


def text_version():
    """Return the version of public text the index was built from."""
    return _engine().text_version()


def forget_readers():
    """Close what this process keeps open of an index replaced under it."""
    return _engine().forget_readers()


def generation():
    """Return what changes whenever the index's answers may change without the data generation
    changing (board.touch_generation): the Whoosh tiers' generations, which move in the drain
    after a commit and in the day's move of ended notices; None for PostgreSQL, whose table is
    written in the transaction that touches the data generation."""
    return whoosh_engine.generation() if _engine() is whoosh_engine else None
