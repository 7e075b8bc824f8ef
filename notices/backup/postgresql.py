"""Backups of a PostgreSQL database, and restoring one, through ``pg_dump`` and ``pg_restore``.

A backup is one file in pg_dump's custom format (``-Fc``): compressed, read back by
``pg_restore`` of the same or a later version, and consistent, since pg_dump reads every table
in one snapshot while the board's writers carry on.

The format has no checksum of its own. Reading the whole file back through ``pg_restore`` is
the integrity check: it parses every entry of the table of contents and decompresses every
table's data, whose zlib stream carries a checksum, so a truncated or overwritten file fails.
The definitions in the table of contents are stored as plain text, and a byte changed there
is found only when the restore runs it; the restore is one transaction, so it then fails and
changes nothing.

The tools are given the board's connection through libpq's environment variables
(``PGPASSWORD`` among them), never on their command line, where ``ps`` would show a password
to every user of the machine.
"""
import contextlib
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from dataclasses import field

import sqlalchemy as sa

from notices.backup.common import NOT_BACKED_UP
from notices.backup.common import BackupError
from notices.backup.common import check_revision
from notices.extensions import db

# libpq's environment variable for each connection parameter a database URL may carry in its
# query string (?host=/run/postgresql for a socket, ?sslmode=verify-full, ...).
_QUERY_ENVIRONMENT = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "gssencmode": "PGGSSENCMODE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}

# The line that begins a table's rows in pg_restore's script: COPY public."user" (id, ...) FROM stdin;
_COPY = re.compile(rb'^COPY (?:\w+\.)?"?([^"\s]+)"? \(.*\) FROM stdin;$')


@dataclass
class _Contents:
    """What a read through the whole archive found in it."""

    # Rows per table, for every table the archive holds the data of.
    rows: dict = field(default_factory=dict)
    # The rows of its alembic_version table, or None if it has none.
    versions: list | None = None


def dump(tmp):
    """Write the live database to ``tmp`` with pg_dump and read it back whole; return how many
    notices it holds."""
    # The tables whose rows stay out (common.NOT_BACKED_UP) are still made, empty, on restore.
    left_out = [f"--exclude-table-data={table}" for table in NOT_BACKED_UP]
    _run("pg_dump", "--format=custom", "--no-password", *left_out, f"--file={tmp}")
    contents = _read(tmp)
    if "notice" not in contents.rows:
        raise BackupError(
            "The database has no notice table: run `flask init-db` before backing it up."
        )
    return contents.rows["notice"]


def load(path):
    """Check the backup at ``path``, then restore it over the live database; return its revision.

    The file must read back whole through pg_restore and carry the schema revision of the
    code's migrations; anything else is refused before the live database is touched.

    The restore runs in the live database as one transaction that drops each table and makes
    it anew from the file. It is all or nothing: if any statement fails, or the file cannot be
    read to its end, nothing is committed and the old data stays. While it runs, it holds
    every table exclusively, so the board's readers and writers wait and then see the whole
    backup, never a mixture, as with SQLite. Restoring into a new database and renaming it
    into place was the other way: it would need the right to create databases, and a rename
    waits for every server's connections to the old database to close.
    """
    contents = _read(path)
    revision = check_revision(path, contents.versions, "a PostgreSQL backup")
    # Objects loaded before the restore describe rows that are about to be replaced, and this
    # session's transaction would hold locks the restore must wait for.
    db.session.remove()
    deadline = time.monotonic() + RESTORE_PATIENCE
    while True:
        try:
            _restore(path)
            return revision
        except _TablesBusy as busy:
            if time.monotonic() > deadline:
                raise BackupError(
                    f"Restoring {path} failed, and the database is as it was before: its "
                    f"tables stayed in use for {RESTORE_PATIENCE} s ({busy}). Try again when "
                    "the board is quieter, or stop its servers first."
                ) from None
            time.sleep(random.uniform(0.1, 0.5))


# How long a restore goes on trying to take every table while the board serves.
RESTORE_PATIENCE = 60
# How long one try waits for the tables. A board transaction that holds a table the restore
# waits for, and then waits for one the restore already holds, is a deadlock; PostgreSQL
# ends one of the two after its deadlock_timeout (1 s unless changed), which would fail the
# board's request. The restore gives up well before, and tries again once it has finished.
LOCK_PATIENCE = "300ms"


class _TablesBusy(Exception):
    """The restore could not take every table at once; it changed nothing."""


def _restore(path):
    """Run pg_restore's script of ``path`` through psql as one transaction that first locks
    every table of the live database; raise _TablesBusy if that times out.

    pg_restore run on the database itself takes each table's lock only as it drops that
    table, one after the other, and a page view reading two tables meanwhile can deadlock
    with it. The script is run by psql instead, after one LOCK TABLE statement that takes
    them all or none. It is committed only once pg_restore has written all of it: a file
    that fails part way leaves psql at its end of input, and the transaction rolls back.
    """
    tables = db.session.scalars(sa.text(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
        " WHERE schemaname = current_schema() ORDER BY tablename"
    )).all()
    db.session.remove()
    opening = ["BEGIN;"]
    if tables:
        opening += [
            f"SET LOCAL statement_timeout = '{LOCK_PATIENCE}';",
            f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE;",
            "SET LOCAL statement_timeout = 0;",
        ]
    failed = f"Restoring {path} failed, and the database is as it was before"
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as run_errors:
        script = subprocess.Popen(
            # Every object is owned by the role the board connects as, whichever role owned
            # it in the database the backup was taken from.
            [_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file=-", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=script_errors,
        )
        run = subprocess.Popen(
            [_program("psql"), "--no-psqlrc", "--quiet", "--no-password",
             "--set=ON_ERROR_STOP=1"],
            env=_environment(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=run_errors,
        )
        try:
            run.stdin.write("\n".join(opening).encode() + b"\n")
            shutil.copyfileobj(script.stdout, run.stdin)
            if script.wait() == 0:
                run.stdin.write(b"COMMIT;\n")
        except BrokenPipeError:
            pass  # psql stopped at an error, read below
        finally:
            with contextlib.suppress(BrokenPipeError):
                run.stdin.close()
            if script.poll() is None:
                script.kill()
            script.wait()
            script.stdout.close()
            run.wait()
        if run.returncode:
            run_errors.seek(0)
            message = _message(run_errors.read())
            if "statement timeout" in message or "deadlock detected" in message:
                raise _TablesBusy(message)
            raise BackupError(f"{failed}: {message}")
        if script.returncode:
            script_errors.seek(0)
            raise BackupError(f"{failed}: {_message(script_errors.read())}")


def _read(path):
    """Read the archive at ``path`` whole through pg_restore; return its :class:`_Contents`."""
    contents = _Contents()
    table = None
    with tempfile.TemporaryFile() as errors:
        # The script pg_restore would run, read as it comes: the data of a large board would
        # not fit in memory. Its errors go to a file, as a full pipe would stop it.
        with subprocess.Popen(
            [_program("pg_restore"), "--file=-", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
        ) as process:
            for line in process.stdout:
                if table is None:
                    match = _COPY.match(line.rstrip(b"\n"))
                    if match:
                        table = match.group(1).decode()
                        contents.rows[table] = 0
                        if table == "alembic_version":
                            contents.versions = []
                elif line == b"\\.\n":
                    table = None
                else:
                    contents.rows[table] += 1
                    if table == "alembic_version":
                        contents.versions.append(line.decode().strip())
        if process.returncode:
            errors.seek(0)
            message = _message(errors.read())
            if process.returncode < 0:
                # Garbage in the table of contents can crash pg_restore before it says a word.
                message = f"pg_restore crashed reading it ({signal.Signals(-process.returncode).name})"
            if "valid archive" in message or "too short" in message:
                raise BackupError(f"{path} is not a PostgreSQL backup made by pg_dump -Fc.")
            raise BackupError(f"{path} is damaged or unreadable: {message}")
    return contents


def _run(program, *args):
    """Run ``program`` with the board's connection; raise BackupError with its message if it
    fails."""
    done = subprocess.run(
        [_program(program), *args], env=_environment(), stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    if done.returncode:
        raise BackupError(f"{program} failed: {_message(done.stderr)}")


def _message(stderr):
    # The first lines say what went wrong; a failed restore can add hundreds more.
    lines = stderr.decode(errors="replace").strip().splitlines()[:4]
    return "; ".join(lines) or "no message"


def _environment():
    """Return the environment that connects libpq's tools as the board connects."""
    url = db.engine.url
    given = {
        "PGHOST": url.host,
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for key, value in url.query.items():
        if key not in _QUERY_ENVIRONMENT:
            raise BackupError(
                f"The database URL's {key}=... cannot be handed to pg_dump and pg_restore: "
                "give the connection as host, port, user, password and database."
            )
        given[_QUERY_ENVIRONMENT[key]] = value
    # The board's own connection reads the rest of libpq's settings from the environment too.
    environment = dict(os.environ)
    environment.update({key: str(value) for key, value in given.items() if value is not None})
    return environment


def _program(name):
    """Return the path of PostgreSQL's client program ``name``."""
    # Debian puts pg_dump on the PATH (a wrapper choosing the newest version installed) with
    # postgresql-client, but only under /usr/lib/postgresql/ with the server alone.
    found = shutil.which(name) or max(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), default=None)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client programs "
            "(apt install postgresql-client), of the server's version or later."
        )
    return found
