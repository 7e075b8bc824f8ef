"""A throwaway PostgreSQL cluster for the tests, from Debian's ``postgresql`` package.

The suite runs on PostgreSQL when ``BOARD_TEST_DATABASE=postgresql`` (``make test`` runs it that
way after the SQLite run). :class:`Cluster` creates a cluster in a temporary folder, serves it
on a free loopback port with fsync off (its data is thrown away), and makes each test a
database of its own by copying a migrated template, as the SQLite tests copy a file.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

# The role the tests connect as; trust authentication on loopback only.
ROLE = "board"
# Where a running cluster tells the processes a test starts its port.
PORT_VARIABLE = "BOARD_TEST_POSTGRESQL_PORT"


def url(port, name):
    return f"postgresql+psycopg://{ROLE}@127.0.0.1:{port}/{name}"


def bin_dir():
    """Return the folder of Debian's PostgreSQL server programs (initdb, pg_ctl)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: make system installs Debian's postgresql")
    return Path(found[-1]).parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL server of its own in a new temporary folder, removed by :meth:`stop`."""

    def __init__(self):
        # Not under pytest's folders: as root, the server's user must be able to reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="board-postgresql-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._bin = bin_dir()
        # The server refuses to run as root; as root, it runs as Debian's postgres user.
        self._as = [] if os.geteuid() else ["runuser", "-u", "postgres", "--"]

    def _run(self, program, *args):
        subprocess.run(
            [*self._as, str(self._bin / program), *args],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self):
        if self._as:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.folder, postgres.pw_uid, postgres.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", ROLE, "-E", "UTF8",
                  "--locale", "C.UTF-8", "--no-sync")
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "start",
            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                  "-c max_connections=300",
        )
        # Reading, as the board calls it: it never waits for a board's write lock.
        self.admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT",
                                      poolclass=sa.pool.NullPool,
                                      execution_options={"board_reading": True})
        os.environ[PORT_VARIABLE] = str(self.port)
        return self

    def stop(self):
        if self.data.exists():
            subprocess.run([*self._as, str(self._bin / "pg_ctl"), "-D", str(self.data), "-m",
                            "immediate", "-w", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(self.folder, ignore_errors=True)
        os.environ.pop(PORT_VARIABLE, None)

    def url(self, name):
        return url(self.port, name)

    def create(self, name, template=None):
        """Create the database ``name`` (a copy of ``template``'s); return its URL."""
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            copied = f' TEMPLATE "{template}"' if template else ""
            for attempt in range(50):
                try:
                    connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copied}')
                    break
                except sa.exc.OperationalError as error:
                    # A template still has a connection closing: wait for it to go.
                    if "is being accessed by other users" not in str(error) or attempt == 49:
                        raise
                    time.sleep(0.1)
        return self.url(name)

    def drop(self, name):
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

