"""What backups on either database share: the error, the schema check and the file's placement."""
import os
import tempfile
from contextlib import contextmanager

from alembic.script import ScriptDirectory
from flask import current_app

# Tables a backup holds empty. The mail outbox: a waiting mail may carry a secret (a receipt's
# tracking address), and a restored backup would send again every mail that was waiting when
# it was taken, though the live board sent it long since. Its sent or given-up mail is in
# mail_log, which is backed up. What a restore loses is mail still waiting at the backup (a
# server refusing it for hours): the log shows that it never went out.
NOT_BACKED_UP = ("mail_outbox",)


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why, for the operator."""


def check_revision(path, found, what):
    """Return the file's schema revision if it is the code's; refuse any other.

    :param found: the rows of the file's ``alembic_version`` table, or None if it has none.
    :param what: what the file was found to be ("a SQLite database"), for the message.
    """
    if found is None:
        raise BackupError(f"{path} is {what} but not the board's: it has no alembic_version table.")
    found = sorted(found)
    migrate = current_app.extensions["migrate"]
    scripts = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    heads = sorted(scripts.get_heads())
    if found != heads:
        raise BackupError(
            f"{path} is at schema revision {', '.join(found) or '(none)'}, but this code is at "
            f"{', '.join(heads)}: restore it with the code of its own revision."
        )
    return ", ".join(found)


@contextmanager
def written(path):
    """Yield a temporary file beside ``path`` for the backup; give it ``path`` once the block
    ends without error, and remove it otherwise.

    ``path`` must not exist: a file bearing it is always a whole, checked backup, and an
    existing one is never replaced. Return the absolute path.
    """
    if os.path.lexists(path):
        raise BackupError(f"{path} already exists; a backup never replaces a file.")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise BackupError(f"No such directory: {directory}")
    # mkstemp creates the file readable by its owner only, which suits a copy holding
    # submitters' phone numbers and the editors' password hashes.
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        _place(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


_APPEARED = "{path} appeared while the backup was written; it was left alone."


def _place(tmp, path):
    """Give the checked copy its name, never replacing a file that appeared meanwhile."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise BackupError(_APPEARED.format(path=path)) from None
    except OSError:
        # A file system without hard links (FAT, some network shares): rename instead, which
        # would replace a file of that name, so look once more just before.
        if os.path.lexists(path):
            raise BackupError(_APPEARED.format(path=path)) from None
        os.rename(tmp, path)
    else:
        os.unlink(tmp)
    # The directory entry is what makes the name survive a power cut.
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(tmp):
    # SQLite may have left its journal files beside a copy it was writing.
    for name in (tmp, f"{tmp}-journal", f"{tmp}-wal", f"{tmp}-shm"):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
