"""Pages kept as rendered, in each worker, for readers who are not logged in.

The front page, each type's list, the archive and the API's list are the same for every
anonymous reader until the data changes or the board's day turns, and making one (dozens of
notices worded, masked and dated, their counts) costs many times what sending a kept copy does.
Each worker keeps recent pages under the data generation, the board's day and the page's
arguments. Anything that changes what the listings show gives the board a new generation in
its own transaction (board.touch_generation), and every request reads it, so a change committed
through one worker is seen on the next request to any other.

A page is kept only for a reader who is not logged in and has no flashed message waiting. It is
rendered in a request of its own at the board's public address (urls.board_request) carrying
the page's validated arguments and nothing else: no Host, scheme, script root, cookie or query
parameter of the request that asked first reaches a page served to others. The caches are
bounded, so query strings nobody else asks for cannot grow them.
"""
import dataclasses
import hashlib
import secrets
import sys
import threading
from collections import OrderedDict
from datetime import datetime

from flask import Response
from flask import current_app
from flask import request
from flask import session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from notices import board
from notices import expiry
from notices import search
from notices import urls
from notices.models import PUBLIC_STATUSES


class LRU:
    """A mapping that keeps at most ``entries`` values (and ``size`` bytes of them, if given),
    forgetting the least recently used first."""

    def __init__(self, entries, size=None):
        self.entries = entries
        self.size = size
        self.used = 0
        self._items = OrderedDict()
        # flask run answers requests in threads; gunicorn's sync workers one at a time.
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._items)

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key, value, size=0):
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self._items[key] = (value, size)
            self.used += size
            while len(self._items) > self.entries or (
                self.size is not None and self.used > self.size
            ):
                _, (_, dropped) = self._items.popitem(last=False)
                self.used -= dropped


@dataclasses.dataclass(frozen=True)
class Kept:
    """A page as rendered for everyone: its body, type, entity tag and, for a page that
    says when it last changed (a feed), that time."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime | None = None

    def response(self):
        """Return the page for this request: 304 if the reader already holds it."""
        response = Response(self.body, content_type=self.content_type)
        response.set_etag(self.etag)
        response.last_modified = self.last_modified
        return response.make_conditional(request)


def init_app(app):
    app.extensions["pages"] = LRU(app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_CACHE_BYTES"])
    app.extensions["shown"] = LRU(app.config["SHOWN_CACHE_ENTRIES"])
    app.extensions["searches"] = LRU(
        app.config["SEARCH_CACHE_ENTRIES"], app.config["SEARCH_CACHE_BYTES"]
    )


def serve(render, depends_on=None, **args):
    """Answer with ``render(today, **args)``, kept in this worker for anonymous readers.

    ``args`` are the page's arguments as the view validated and normalized them (a type code,
    a page number, never the raw query string): they name the page in the cache and are the
    only values the request it is rendered in carries, as its path and query. ``depends_on``
    is what else the page is made from besides its arguments and the day; by default the data
    generation, which any change to the listings replaces.
    """
    today = expiry.board_today(expiry.utcnow())
    if current_user.is_authenticated or session.get("_flashes"):
        return render(today, **args)
    if depends_on is None:
        # Read before the page's own queries, so that no page is kept under a generation
        # newer than the data it was made from.
        depends_on = board.generation()
        if depends_on is None:
            return render(today, **args)
    endpoint = request.endpoint
    key = (endpoint, depends_on, today, *sorted(args.items()))
    cache = current_app.extensions["pages"]
    kept = cache.get(key)
    if kept is None:
        with urls.board_request(endpoint, **args):
            response = current_app.make_response(render(today, **args))
        if response.status_code != 200:
            return response
        body = response.get_data()
        kept = Kept(body, response.content_type, hashlib.blake2b(body, digest_size=16).hexdigest(),
                    response.last_modified)
        cache.put(key, kept, len(body))
    return kept.response()


def show(notice, today):
    """Return ``board.show(notice, today)``, kept in this worker for public notices.

    A published notice never changes except by revocation, so what the public sees of it
    depends on its ref, its status and the day alone. Only the wording, fields and lines are
    kept; each answer carries the row it was asked for.
    """
    if notice.status not in PUBLIC_STATUSES:
        return board.show(notice, today)
    shown = current_app.extensions["shown"]
    key = (notice.ref, notice.status, today)
    kept = shown.get(key)
    if kept is None:
        made = board.show(notice, today)
        shown.put(key, dataclasses.replace(made, notice=None))
        return made
    return dataclasses.replace(kept, notice=notice)


# --- search pages ---------------------------------------------------------------------------
#
# A search page is kept like a listing, under the data generation, the search index's own
# generation (a Whoosh index changes in the drain after the commit that touched the data, and
# in `flask expire`'s move of the day's ended notices), the board's day and the search's
# validated arguments, in a cache of its own: queries nobody asks twice must not push the
# front page out. One thing on it belongs to its reader: the CSRF token of the form that asks
# for mail alerts. The kept page holds a placeholder in its place, filled in for each reader.

# Unguessable, so that no query typed into the page can spell it.
CSRF_PLACEHOLDER = "csrf-" + secrets.token_hex(16)


@dataclasses.dataclass(frozen=True)
class KeptSearch:
    """A search page as rendered for everyone, and how many notices the search found."""

    body: str
    content_type: str
    total: int


def serve_search(render, **args):
    """Return (response, total) for the search page ``render(today, token, **args)`` makes.

    ``render`` returns (page, total), the page None if there is none (past the last page:
    the caller answers 404, and nothing is kept). ``args`` are the search's validated
    arguments, as for :func:`serve`; ``token`` is what the page writes as its form's CSRF token. For an anonymous
    reader with no flashed message the page is kept in this worker, rendered in a request of
    its own with the placeholder for a token, and each reader's answer carries their own.
    """
    today = expiry.board_today(expiry.utcnow())
    if current_user.is_authenticated or session.get("_flashes"):
        return render(today, None, **args)
    # Read before the search, so that no page is kept under generations newer than its data.
    data = board.generation()
    if data is None:
        return render(today, None, **args)
    key = (data, search.generation(), today, *sorted(args.items()))
    cache = current_app.extensions["searches"]
    kept = cache.get(key)
    if kept is None:
        with urls.board_request(request.endpoint, **args):
            page, total = render(today, CSRF_PLACEHOLDER, **args)
            if page is None:
                return None, total
            response = current_app.make_response(page)
        if response.status_code != 200:
            return response, total
        body = response.get_data(as_text=True)
        kept = KeptSearch(body, response.content_type, total)
        # What the text takes in this worker's memory, not its length in UTF-8.
        cache.put(key, kept, sys.getsizeof(body))
    body = kept.body
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, str(escape(generate_csrf())))
    return Response(body, content_type=kept.content_type), kept.total
