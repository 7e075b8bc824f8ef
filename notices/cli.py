"""Commands run as ``flask --app app COMMAND``: thin wrappers around services."""
import json
import secrets
import sys
import threading
import time

import click
import flask_migrate
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from notices import accounts
from notices import backup
from notices import board
from notices import expiry
from notices import imports
from notices import mail
from notices import search
from notices import seeds
from notices import services
from notices.alerts import subscriptions as alerts
from notices.extensions import db
from notices.extensions import reading
from notices.privacy import purge as privacy_purge

DEMO_EDITOR = "demo-editor"


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create the database or bring it up to the latest schema."""
    flask_migrate.upgrade(directory=current_app.extensions["migrate"].directory)
    try:
        services.check_number_key()
    except services.NumberKeyChanged as changed:
        raise click.ClickException(str(changed)) from None
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")
    search.prepare_index()
    if search.text_version() != search.TEXT_VERSION:
        # Made from older public text (numbers masked as pages once showed them): rebuilt,
        # or a search would still find what the pages no longer show.
        click.echo("The search index holds text as older pages showed it; rebuilding it.")
        _reindex()
    search.drain()
    click.echo(f"Search index ready: {search.location()}")


@click.command("reindex")
@with_appcontext
def reindex_command():
    """Rebuild the search index from the database."""
    _reindex()


def _reindex():
    # Counting is a read: it must not take the write lock (the rebuild reads in its own snapshot).
    reading()
    notices = board.public_notices()
    total = db.session.scalar(board.public_count())
    with click.progressbar(length=total, label="Indexing", file=sys.stderr) as bar:
        count = search.reindex(notices, progress=bar.update)
    click.echo(f"Indexed {count} public notices into {search.location()}.")


@click.command("check-index")
@with_appcontext
def check_index_command():
    """Compare the search index with the database; exit 1 if they differ."""
    reading()
    differences = search.check(board.public_state())
    for line in differences:
        click.echo(line)
    if differences:
        click.echo(f"{len(differences)} differences between the index and the database.")
        sys.exit(1)
    click.echo("The index matches the database.")


@click.command("index-outbox")
@click.option("--watch", is_flag=True, help="Keep draining every few seconds until stopped.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between drains with --watch.")
@with_appcontext
def index_outbox_command(watch, interval):
    """Index the changes waiting in the outbox (run with --watch as the board's indexer)."""
    while True:
        count = search.drain()
        if not watch:
            click.echo(f"Indexed {count} waiting changes.")
            return
        db.session.remove()
        time.sleep(interval)


@click.command("send-mail")
@click.option("--watch", is_flag=True, help="Keep sending every few seconds until stopped.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes with --watch.")
@with_appcontext
def send_mail_command(watch, interval):
    """Send the mail waiting in the outbox (run with --watch as the board's mail worker)."""
    config = current_app.config
    if mail.printing(config):
        click.echo(
            "FLASK_MAIL_SERVER is not set: each mail is printed here and counted as sent.",
            err=True,
        )
    while True:
        # Unconfirmed subscriptions expire, and yesterday's digests join the outbox.
        alerts.housekeeping(expiry.utcnow())
        done = mail.send_due()
        if not watch or done:
            click.echo(
                f"Sent {done.sent} mails; {done.retried} to try again later, "
                f"{done.failed} given up."
            )
        if not watch:
            return
        time.sleep(interval)


def _mail_in_background(app, interval=1.0):
    """Send (or print) the outbox's mail from a thread of this process, as `send-mail
    --watch` would: the demo's one process shows a newcomer the mail it causes."""

    def run():
        while True:
            with app.app_context():
                try:
                    alerts.housekeeping(expiry.utcnow())
                    mail.send_due()
                except Exception:
                    current_app.logger.exception("sending mail failed; trying again")
            time.sleep(interval)

    threading.Thread(target=run, name="send-mail", daemon=True).start()


@click.command("seed-demo")
@with_appcontext
@click.option(
    "--as-printed", is_flag=True, help="Keep the printed dates, which puts the notices in the archive."
)
def seed_demo_command(as_printed):
    """Load the newspaper's notices and print the demo admin's login."""
    password = _seed_demo(as_printed)
    click.echo(f"Admin login (reviews notices, manages editors): {DEMO_EDITOR} / {password}")


@click.command("serve-demo")
@with_appcontext
@click.option(
    "--as-printed", is_flag=True, help="Keep the printed dates, which puts the notices in the archive."
)
@click.option("--port", default=5000, show_default=True, help="The port on 127.0.0.1.")
def serve_demo_command(as_printed, port):
    """Load the newspaper's notices and serve the board on 127.0.0.1, its login printed last."""
    password = _seed_demo(as_printed)
    db.session.remove()
    try:
        # The development server flask run uses, without its banner: the login is the last
        # thing a newcomer reads before the requests' log.
        server = make_server("127.0.0.1", port, current_app._get_current_object(), threaded=True)
    except OSError as error:
        raise click.ClickException(
            f"Port {port} is in use ({error.strerror}): stop what serves there, or pick another "
            "port with --port."
        ) from None
    base = f"http://127.0.0.1:{port}"
    lines = [
        f"The notice board is serving at {base}",
        f"Admin login (reviews notices, manages editors): {base}/editor/login",
        f"    name      {DEMO_EDITOR}",
        f"    password  {password}",
        f"Submit a notice at {base}/submit",
        _demo_mail_line(current_app.config),
        "Ctrl-C stops it.",
    ]
    rule = "=" * max(len(line) for line in lines)
    click.echo("\n".join(["", rule, *lines, rule, ""]))
    _mail_in_background(current_app._get_current_object())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.server_close()


def _demo_mail_line(config):
    if mail.printing(config):
        return "Mail to submitters is printed here (FLASK_MAIL_SERVER is not set)."
    return f"Mail to submitters goes out through {config['MAIL_SERVER']}:{config['MAIL_PORT']}."


def _seed_demo(as_printed):
    """Load the seed notices and give the demo admin a new password; return it."""
    password = secrets.token_urlsafe(9)
    editor = accounts.set_password(DEMO_EDITOR, password, role="admin")
    loaded, present = seeds.load(editor, now=expiry.utcnow(), as_printed=as_printed)
    when = "as printed" if as_printed else "re-dated to today"
    click.echo(f"Loaded {loaded} seed notices ({when}); {present} were already on the board.")
    return password


@click.command("import-notices")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def import_notices_command(file):
    """Load published notices from a JSON Lines FILE (- for standard input)."""
    try:
        report = _import(file, expiry.utcnow())
    except search.IndexBusy as error:
        raise click.ClickException(f"{error}; nothing was imported, try again later") from None
    if report.refused:
        sys.exit(1)


def _import(file, now):
    # The index's write lock is held from the first batch to the last row indexed, so that no
    # web request takes on indexing the import (see search.held). IndexBusy comes, if at all,
    # before the first line is read.
    with search.held():
        with click.progressbar(
            file, length=_lines_in(file), label="Importing", file=sys.stderr
        ) as lines:
            report = imports.run(lines, now=now)
        for number, errors in report.refused:
            click.echo(f"line {number}: refused {json.dumps(errors, ensure_ascii=False)}")
        for number, ref in report.clashes:
            click.echo(f"line {number}: skipped, ref {ref} is on the board with other content")
        click.echo(
            f"Loaded {report.loaded}, skipped {report.skipped} (already on the board), "
            f"refused {len(report.refused)}."
        )
        if imports.rebuild_is_quicker():
            _reindex()
        else:
            click.echo(f"Indexed {search.drain()} waiting changes.")
    return report


def _lines_in(file):
    """Return how many lines ``file`` holds, or None if it cannot be read twice (a pipe)."""
    if not file.seekable():
        return None
    count, last = 0, b"\n"
    for chunk in iter(lambda: file.read(1 << 20), b""):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    file.seek(0)
    return count + (last != b"\n")


@click.command("create-user")
@with_appcontext
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), default="editor", show_default=True)
@click.option("--authority", help="The authority an authority account handles objections for, "
              "as wage notices name it (当地劳动局).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(name, role, authority, password_stdin):
    """Create an editor, admin or authority account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.create_user(name, password, role=role, authority=authority)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {role} {name}.")


def board_day_option(what):
    """The ``--today YYYY-MM-DD`` option of a daily command: the board's date ``what``."""
    return click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help=f"The board's date {what} (default: today in Asia/Shanghai).",
    )


def board_day(today, now):
    """Return the board's date a daily command runs for: ``--today``, or now's in Lhasa."""
    return today.date() if today else expiry.board_today(now)


@click.command("expire")
@with_appcontext
@board_day_option("to expire against")
def expire_command(today):
    """Record the expiry of every notice whose window has ended."""
    now = expiry.utcnow()
    day = board_day(today, now)
    count = services.expire_due(day, now=now)
    click.echo(f"Recorded expiry of {count} notices (board date {day.isoformat()}).")
    moved = search.move_expired(day)
    click.echo(f"Moved {moved} notices from the live search tier to the archive.")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def backup_command(path):
    """Write a consistent copy of the database to PATH, which must not exist yet."""
    try:
        made = backup.backup(path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Backed up {db.engine.url.render_as_string(hide_password=True)} to {made.path}: "
        f"{made.size:,} bytes, {made.notices} notices, integrity ok, "
        f"in {made.seconds:.2f} s."
    )


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the current data without asking.")
@with_appcontext
def restore_command(path, yes):
    """Replace the database with the backup at PATH and rebuild the search index."""
    url = db.engine.url.render_as_string(hide_password=True)
    if not yes:
        click.confirm(
            f"Replace every notice, account and audit entry in {url} with {path}?", abort=True
        )
    try:
        done = backup.restore(path)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Restored {done.path} into {url} (schema {done.revision}): notices {done.notices} "
        f"({done.public} public), loss items {done.loss_items}, audit entries "
        f"{done.audit_entries}, accounts {done.users}."
    )
    # Accounts come back as they were: one disabled, or a password changed, since the backup
    # is active again with its old password.
    click.echo(
        f"Every login has ended. Active accounts as of the backup: {', '.join(done.active_users)}"
        " (disable any that should no longer be, at /editor/users)."
    )
    click.echo(f"Indexed {done.indexed} public notices into {search.location()}.")


def init_app(app):
    """Register the board's commands with the app's CLI."""
    for command in (
        init_db_command, seed_demo_command, serve_demo_command, create_user_command, expire_command,
        reindex_command, check_index_command, index_outbox_command, send_mail_command,
        import_notices_command, backup_command, restore_command, purge_command,
    ):
        app.cli.add_command(command)


@click.command("purge")
@with_appcontext
@board_day_option("to count retention periods to")
def purge_command(today):
    """Remove the personal data whose retention period has ended."""
    now = expiry.utcnow()
    day = board_day(today, now)
    counts = privacy_purge.purge(day, now=now)
    removed = ", ".join(f"{what} {count}" for what, count in counts.items()) or "nothing due"
    click.echo(f"Purged (board date {day.isoformat()}): {removed}.")
