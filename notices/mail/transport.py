"""Mail as it leaves the board: an outbox row made into a MIME message, and two ways to send it.

:class:`SMTPTransport` speaks to MAIL_SERVER with the standard library's smtplib;
:class:`ConsoleTransport` prints each message instead, for a board with no mail server (the
demo). Both raise :class:`Failure`, which tells the worker whether trying again later may
help and whether the connection is still good for the next mail.
"""
import email.policy
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import parseaddr

from notices import expiry


class Failure(Exception):
    """A message that was not sent.

    ``permanent``: the server refused it for good (5xx for the recipient or the content), and
    trying again would only be refused again. ``broken``: the connection or the board's own
    settings failed (refused, timed out, login or sender refused), not this message: the
    worker stops until its next pass.
    """

    def __init__(self, reply, *, permanent=False, broken=False):
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent
        self.broken = broken


def compose(row, sender):
    """Return the outbox ``row`` as a message from ``sender``, or raise a permanent Failure.

    Date and Message-ID were fixed when the row was queued, so every try sends the very same
    message. Headers that are not ASCII are encoded (RFC 2047), the body is UTF-8 in base64,
    which any server carries; an address that is not ASCII needs a server with SMTPUTF8.
    """
    international = not row.recipient.isascii()
    message = EmailMessage(policy=email.policy.SMTPUTF8 if international else email.policy.SMTP)
    try:
        message["From"] = sender
        message["To"] = row.recipient
        message["Subject"] = row.subject
        message["Date"] = format_datetime(row.created_at.astimezone(expiry.BOARD_TZ))
        message["Message-ID"] = row.message_id
        # RFC 3834: holiday replies and other robots do not answer it.
        message["Auto-Submitted"] = "auto-generated"
        for name, value in (row.headers or {}).items():
            message[name] = value
        message.set_content(row.body, charset="utf-8", cte="base64")
    except (ValueError, TypeError) as error:
        # A header the email package refuses (a line break in an address, say).
        raise Failure(f"the message cannot be written: {error}", permanent=True) from None
    return message


def envelope(message):
    """Return (sender, [recipient]) of a composed message, for the SMTP envelope."""
    return parseaddr(str(message["From"]))[1], [parseaddr(str(message["To"]))[1]]


def failure(error):
    """Return the :class:`Failure` an exception from smtplib or the network amounts to."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
        # 421: the server is closing the connection; the next mail needs a new one.
        return Failure(_reply(code, reply), permanent=500 <= code < 600, broken=code == 421)
    if isinstance(error, smtplib.SMTPDataError):
        code = error.smtp_code
        return Failure(_reply(code, error.smtp_error), permanent=500 <= code < 600,
                       broken=code == 421)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # The address is not ASCII and the server cannot carry it (no SMTPUTF8).
        return Failure(str(error), permanent=True)
    if isinstance(error, smtplib.SMTPResponseException):
        # Greeting, login or sender refused: the board's settings, not this mail.
        return Failure(_reply(error.smtp_code, error.smtp_error), broken=True)
    if isinstance(error, (smtplib.SMTPException, OSError)):
        # Refused, reset, timed out, TLS failed: the server or the way to it.
        return Failure(f"{type(error).__name__}: {error}", broken=True)
    raise error


def _reply(code, text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}"


class SMTPTransport:
    """Sends through the configured server, over one connection for as long as it serves."""

    def __init__(self, config):
        self.config = config
        self.smtp = None

    def send(self, message):
        sender, recipients = envelope(message)
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            self.smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        except Exception as error:
            failed = failure(error)
            if failed.broken:
                self.close()
            raise failed from None

    def _connect(self):
        config = self.config
        host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
        context = ssl.create_default_context()
        if config["MAIL_USE_SSL"]:
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=context)
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], str(config["MAIL_PASSWORD"] or ""))
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self):
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        self.smtp = None


class ConsoleTransport:
    """Prints each message, decoded, to ``stream``: the demo's mail, and a board's with no
    MAIL_SERVER. Printed counts as sent."""

    SHOWN = ("From", "To", "Subject", "Date", "Message-ID")

    def __init__(self, stream):
        self.stream = stream

    def send(self, message):
        extra = [name for name in message.keys() if name not in self.SHOWN
                 and not name.startswith(("Content-", "MIME-"))]
        lines = [f"{name}: {message[name]}" for name in (*self.SHOWN, *extra)]
        rule = "-" * 72
        self.stream.write("\n".join([rule, *lines, "", message.get_content().rstrip(), rule, ""]))
        self.stream.flush()

    def close(self):
        pass


def from_config(config, stream):
    """Return the transport the settings ask for: SMTP, or printing to ``stream``."""
    return SMTPTransport(config) if config.get("MAIL_SERVER") else ConsoleTransport(stream)
