"""Full-text search of published notices.

``analysis`` reads what notices say and what people type, the same way for any engine;
``engine`` is the Whoosh engine: its two tiers (live and archive), the outbox drain that keeps
them up to date, rebuilds and checks, and the queries. The rest of the board uses only the
names below.

The database is the source of truth. Services write an outbox row in the transaction that
publishes or revokes a notice; :func:`drain` moves outbox rows into the index under the
index's own locks, in whichever process gets them first, so concurrent workers never lose an
update to a LockError and a killed worker leaves its rows for the next drain.
"""
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
from notices.search.engine import check  # noqa: F401
from notices.search.engine import create_index  # noqa: F401
from notices.search.engine import drain  # noqa: F401
from notices.search.engine import drain_quietly  # noqa: F401
from notices.search.engine import forget_readers  # noqa: F401
from notices.search.engine import held  # noqa: F401
from notices.search.engine import indexed  # noqa: F401
from notices.search.engine import init_app  # noqa: F401
from notices.search.engine import move_expired  # noqa: F401
from notices.search.engine import open_index  # noqa: F401
from notices.search.engine import reindex  # noqa: F401
from notices.search.engine import search  # noqa: F401
from notices.search.engine import text_version  # noqa: F401
from notices.search.engine import whole_searcher  # noqa: F401
