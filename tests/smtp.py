"""A real SMTP server on loopback for the tests: aiosmtpd, in a thread of the test process.

:class:`Mailbox` keeps every message it accepts, parsed, and can be told how to answer the
next RCPT TO or DATA commands (a 451 to try again later, a 550 for good) before it accepts
again, so the board's retries meet a server that refuses and then takes the mail.
"""
import email
import email.policy
import socket
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """The handler: what the server accepted, and the answers it gives before accepting."""

    def __init__(self):
        self.messages = []
        # Answers to give, in turn, to the next RCPT TO and DATA commands ("451 4.3.0 …").
        self.rcpt_answers = []
        self.data_answers = []
        # Every RCPT TO and DATA answered, refusals included: (command, answer).
        self.seen = []
        # The (name, password) a server with logins accepts, and the names it let in.
        self.account = None
        self.logins = []
        self._lock = threading.Lock()

    def refuse_rcpt(self, *answers):
        with self._lock:
            self.rcpt_answers.extend(answers)

    def refuse_data(self, *answers):
        with self._lock:
            self.data_answers.extend(answers)

    def _next(self, answers):
        with self._lock:
            return answers.pop(0) if answers else None

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        given = (auth_data.login.decode(), auth_data.password.decode())
        if given != self.account:
            return AuthResult(success=False, handled=False)
        self.logins.append(given[0])
        return AuthResult(success=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self._next(self.rcpt_answers)
        if answer is None:
            envelope.rcpt_tos.append(address)
            answer = "250 OK"
        self.seen.append(("RCPT", answer))
        return answer

    async def handle_DATA(self, server, session, envelope):
        answer = self._next(self.data_answers)
        if answer is None:
            message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            with self._lock:
                self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
            answer = "250 Message accepted for delivery"
        self.seen.append(("DATA", answer))
        return answer


class Received:
    """One accepted message: its envelope and the message parsed with the default policy."""

    def __init__(self, mail_from, rcpt_tos, message):
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.message = message
        # When the server accepted it, to measure how long mail takes to arrive.
        self.at = time.monotonic()

    @property
    def text(self):
        """Return the body, decoded from its transfer encoding and charset."""
        return self.message.get_content()

    def __getitem__(self, name):
        return self.message[name]


class Server:
    """An aiosmtpd server on a free loopback port, with its :class:`Mailbox`.

    With a ``tls_context`` it offers STARTTLS and takes no mail before it; with an
    ``account`` (name, password) it also asks for that login, over TLS only.
    """

    def __init__(self, tls_context=None, account=None):
        self.mailbox = Mailbox()
        self.port = free_port()
        options = {}
        if tls_context is not None:
            options.update(tls_context=tls_context, require_starttls=True)
        if account is not None:
            self.mailbox.account = account
            options.update(authenticator=self.mailbox.authenticate, auth_required=True)
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True, **options
        )

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def messages(self):
        return self.mailbox.messages
