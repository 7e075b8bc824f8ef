"""Who may use which route: every route of the board against four kinds of visitor.

Deny by default: ``ACCESS`` names who may use each endpoint and method, and a route missing
from it fails the suite. The visitors are someone anonymous, a submitter holding the tracking
token of their own submission, an editor and an admin, each signed in through the real login
form. Refused requests leave every table as it was, and so does every GET.
"""
import re
import secrets
import subprocess
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from conftest import EDITOR_PASSWORD
from conftest import seed_data
from jinja2 import FileSystemBytecodeCache
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed

from notices import accounts
from notices import create_app
from notices import documents
from notices import expiry
from notices import services
from notices.alerts import subscriptions as alerts
from notices.extensions import db
from notices.models import Notice
from notices.objections import records as objections

PUBLIC = "public"
TOKEN = "token holder"
EDITOR = "editor"
ADMIN = "admin"

VISITORS = ("anonymous", "submitter", "editor", "admin")
# Who each level of ACCESS admits.
ADMITS = {
    PUBLIC: set(VISITORS),
    TOKEN: {"submitter"},
    EDITOR: {"editor", "admin"},
    ADMIN: {"admin"},
}
# The least privileged visitor a level admits.
LEAST = {PUBLIC: "anonymous", TOKEN: "submitter", EDITOR: "editor", ADMIN: "admin"}

ACCESS = {
    ("public.healthz", "GET"): PUBLIC,
    ("public.index", "GET"): PUBLIC,
    ("public.kind", "GET"): PUBLIC,
    ("public.notice", "GET"): PUBLIC,
    ("public.archive", "GET"): PUBLIC,
    ("public.search_page", "GET"): PUBLIC,
    ("public.lost", "GET"): PUBLIC,
    ("feeds.notices", "GET"): PUBLIC,
    ("feeds.kind", "GET"): PUBLIC,
    ("feeds.searched", "GET"): PUBLIC,
    ("submit.choose", "GET"): PUBLIC,
    ("submit.new", "GET"): PUBLIC,
    ("submit.preview", "POST"): PUBLIC,
    ("submit.confirm", "POST"): PUBLIC,
    ("submit.track", "GET"): TOKEN,
    ("submit.confirm_withdraw", "GET"): TOKEN,
    ("submit.withdraw", "POST"): TOKEN,
    ("submit.resubmit", "GET"): TOKEN,
    ("submit.export", "GET"): TOKEN,
    ("privacy.notice", "GET"): PUBLIC,
    # Asking for a correction: the form, its preview and sending it, with the notice's token.
    ("submit.correct_form", "GET"): TOKEN,
    ("submit.correct", "POST"): TOKEN,
    ("submit.confirm_correction", "POST"): TOKEN,
    ("api.notices", "GET"): PUBLIC,
    ("api.notice", "GET"): PUBLIC,
    ("api.lost_documents", "GET"): PUBLIC,
    ("api.submissions", "POST"): PUBLIC,
    # Alerts: anyone may ask; the signed link in the mail is what confirms, manages and
    # unsubscribes (a made-up one finds nothing).
    ("alerts.new", "GET"): PUBLIC,
    ("alerts.new", "POST"): PUBLIC,
    ("alerts.watch", "GET"): PUBLIC,
    ("alerts.watch", "POST"): PUBLIC,
    ("alerts.confirm_page", "GET"): TOKEN,
    ("alerts.confirm", "POST"): TOKEN,
    ("alerts.manage", "GET"): TOKEN,
    ("alerts.change", "POST"): TOKEN,
    ("alerts.unsubscribe", "GET"): TOKEN,
    ("alerts.unsubscribe_now", "POST"): TOKEN,
    ("editor.login", "GET"): PUBLIC,
    ("editor.login", "POST"): PUBLIC,
    ("editor.logout", "POST"): EDITOR,
    ("editor.queue", "GET"): EDITOR,
    ("editor.notice", "GET"): EDITOR,
    # The confirm pages of approving and revoking: they only read.
    ("editor.approve", "GET"): EDITOR,
    ("editor.approve", "POST"): EDITOR,
    ("editor.reject", "POST"): EDITOR,
    ("editor.revoke", "GET"): EDITOR,
    ("editor.revoke", "POST"): EDITOR,
    ("editor.correct", "GET"): EDITOR,
    ("editor.correct", "POST"): EDITOR,
    ("editor.users", "GET"): ADMIN,
    ("editor.users", "POST"): ADMIN,
    ("editor.set_active", "POST"): ADMIN,
    ("editor.set_password", "POST"): ADMIN,
    # The day pages, their feed and print PDF; the export of a range for print.
    ("days.latest", "GET"): PUBLIC,
    ("days.day", "GET"): PUBLIC,
    ("days.day_pdf", "GET"): PUBLIC,
    ("feeds.day", "GET"): PUBLIC,
    ("days.export", "GET"): EDITOR,
    # Objections: anyone may object to a wage notice; the tracking page is the objector's;
    # the list, the detail and the handling are staff pages (authorities have tests of their
    # own in test_objections.py).
    ("objections.new", "GET"): PUBLIC,
    ("objections.new", "POST"): PUBLIC,
    ("objections.track", "GET"): TOKEN,
    ("objections.index", "GET"): EDITOR,
    ("objections.detail", "GET"): EDITOR,
    ("objections.handle", "POST"): EDITOR,
}

# Requests that change the database when an admitted visitor sends them as below.
WRITES = {
    ("submit.confirm", "POST"),
    ("submit.withdraw", "POST"),
    ("api.submissions", "POST"),
    ("editor.approve", "POST"),
    ("editor.reject", "POST"),
    ("editor.revoke", "POST"),
    ("editor.users", "POST"),
    ("editor.set_active", "POST"),
    ("editor.set_password", "POST"),
    ("alerts.new", "POST"),
    ("alerts.watch", "POST"),
    ("alerts.confirm", "POST"),
    ("alerts.change", "POST"),
    ("alerts.unsubscribe_now", "POST"),
    ("objections.new", "POST"),
    ("objections.handle", "POST"),
}
# Posts that carry no CSRF token by design: RFC 8058's one-click unsubscribe comes from a mail
# program, authenticated by the signed token in its address.
CSRF_EXEMPT = {"alerts.unsubscribe_now"}

ADMIN_PASSWORD = "chief-password-1"
CREDENTIALS = {"editor": ("editor", EDITOR_PASSWORD), "admin": ("chief", ADMIN_PASSWORD)}
# What a visitor without the submitter's link puts in a tracking address.
MADE_UP_TOKEN = "bm90LWEtcmVhbC10cmFja2luZy10b2tlbg"

# Endpoints whose <ref> is the published notice; every other <ref> is the pending one.
ON_PUBLISHED = {"public.notice", "api.notice", "editor.revoke"}
# Query strings that give a route something to find.
QUERIES = {
    "public.search_page": {"q": "达娃曲珍"},
    "public.lost": {"number": "S540022253"},
    "feeds.searched": {"q": "达娃曲珍"},
    "api.lost_documents": {"number": "S540022253"},
    "api.notices": {"status": "all"},
    "alerts.new": {"type": "loss_declaration"},
}
LOSS_FORM = MultiDict(services.flatten(seed_data("loss_declaration", 2)))
BODIES = {
    "editor.login": {"data": {"username": "editor", "password": EDITOR_PASSWORD}},
    # Approving and revoking act once confirmed (the field their confirm pages post).
    "editor.approve": {"data": {"confirm": "1"}},
    "editor.reject": {"data": {"reason": "材料不全"}},
    "editor.revoke": {"data": {"reason": "重复刊登", "confirm": "1"}},
    "editor.users": {
        "data": {"username": "dorje", "role": "editor", "password": "dorje-password-1"}
    },
    "editor.set_active": {"data": {"active": "0"}},
    "editor.set_password": {"data": {"password": "new-pema-password"}},
    "submit.preview": {"data": LOSS_FORM},
    "submit.confirm": {"data": LOSS_FORM},
    "api.submissions": {"json": {"type": "loss_declaration", **seed_data("loss_declaration", 2)}},
    "alerts.new": {"data": {"type": "loss_declaration", "email": "a@example.cn", "frequency": "daily"}},
    "alerts.watch": {"data": {"number": "T540059774", "email": "a@example.cn"}},
    "alerts.change": {"data": {"frequency": "immediate"}},
    "objections.new": {"data": {"name": "次仁", "phone": "13908901234", "amount": "8000",
                                "period": "2026年3月", "work": "木工"}},
    "objections.handle": {"data": {"action": "accepted", "note": "已受理"}},
}

MATRIX = [(endpoint, method, visitor) for endpoint, method in ACCESS for visitor in VISITORS]
POSTS = [endpoint for endpoint, method in ACCESS if method == "POST"]
FORM_POSTS = [
    endpoint for endpoint in POSTS if not endpoint.startswith("api.") and endpoint not in CSRF_EXEMPT
]


@dataclass
class World:
    pending: Notice  # a submission waiting for review; its token is the submitter's
    published: Notice  # a notice on the board
    colleague_id: int  # an editor account for the admin to manage
    # Signed alert links of two subscriptions: one waiting for confirmation, one confirmed
    # (daily); what the mail gives the person who subscribed.
    alert_tokens: dict
    wage: Notice  # a published wage notice, which takes objections
    # An objection to it, and its tracking token (the objector's).
    objection_ref: str
    objection_token: str


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """Argon2id at its lowest cost: the matrix signs in hundreds of times."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "hasher", cheap)


@pytest.fixture(scope="module")
def compiled_templates(tmp_path_factory):
    """Templates compiled once for the module instead of once per app."""
    return FileSystemBytecodeCache(str(tmp_path_factory.mktemp("templates")))


@pytest.fixture(autouse=True)
def quick_pages(app, compiled_templates):
    """Let every app of a test share the compiled templates."""
    app.jinja_env.bytecode_cache = compiled_templates


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


@pytest.fixture
def world(app, make_notice, today):
    """Two loss declarations, one waiting and one published, an admin, and an editor to manage."""
    pending = make_notice("loss_declaration", status="submitted", day=today)
    published = make_notice("loss_declaration", index=1, day=today)
    with app.app_context():
        accounts.create_user("chief", ADMIN_PASSWORD, role="admin")
        colleague_id = accounts.create_user("pema", "pema-password-1").id
        now = expiry.utcnow()
        waiting = alerts.subscribe("a@example.cn", now=now, notice_kind="supplier_call")
        following = alerts.subscribe("b@example.cn", now=now, q="工资", frequency="daily")
        alerts.confirm(following, now=now)
        alert_tokens = {"confirm": alerts.token(waiting, "confirm"),
                        "manage": alerts.token(following, "manage")}
    wage = make_notice("wage_clearance", day=today)
    with app.app_context():
        objection, objection_token = objections.submit(
            db.session.get(Notice, wage.id), name="次仁", phone="13908901234", amount_fen=800000,
            period="2026年3月", work="木工", now=expiry.utcnow(),
        )
        objection_ref = objection.ref
    return World(pending, published, colleague_id, alert_tokens, wage, objection_ref, objection_token)


@pytest.fixture
def csrf_app(app, compiled_templates):
    """The same board and database with CSRF protection on, as in production."""
    shared = {
        key: app.config[key]
        for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR",
                    "RATELIMIT_ENABLED")
    }
    protected = create_app({**shared, "WTF_CSRF_ENABLED": True})
    protected.jinja_env.bytecode_cache = compiled_templates
    yield protected
    with protected.app_context():
        db.engine.dispose()


def snapshot(app):
    """Return every row of every table, to compare before and after a request."""
    with app.app_context():
        return {
            table.name: [tuple(row) for row in db.session.execute(
                table.select().order_by(*table.primary_key.columns)
            )]
            for table in db.metadata.sorted_tables
        }


def csrf_token_in(page):
    """Return the CSRF token of the first form on ``page``, or None if it has none."""
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    return match.group(1) if match else None


def form_token(client):
    """Return the CSRF token the submission form hands this client."""
    return csrf_token_in(client.get("/submit/loss_declaration").get_data(as_text=True))


def log_in(client, username, password):
    """Sign in through the login form, its CSRF token included when it carries one."""
    data = {"username": username, "password": password}
    token = csrf_token_in(client.get("/editor/login").get_data(as_text=True))
    if token:
        data["csrf_token"] = token
    response = client.post("/editor/login", data=data)
    assert response.status_code == 302 and urlsplit(response.location).path == "/editor/"


def visit_as(app, world, visitor):
    """Return a client that is ``visitor``: anonymous, the submitter, or signed in as staff."""
    client = app.test_client()
    if visitor == "submitter":
        assert client.get(f"/track/{world.pending.token}").status_code == 200
    if visitor in CREDENTIALS:
        log_in(client, *CREDENTIALS[visitor])
    return client


ARGUMENTS = {
    "ref": lambda world, endpoint, visitor: (
        world.wage.ref if endpoint == "objections.new"
        else world.objection_ref if endpoint.startswith("objections.")
        else (world.published if endpoint in ON_PUBLISHED else world.pending).ref
    ),
    "token": lambda world, endpoint, visitor: (
        MADE_UP_TOKEN if visitor != "submitter"
        else world.objection_token if endpoint == "objections.track"
        else world.alert_tokens["confirm" if endpoint.startswith("alerts.confirm") else "manage"]
        if endpoint.startswith("alerts.") else world.pending.token
    ),
    "code": lambda world, endpoint, visitor: "loss_declaration",
    "user_id": lambda world, endpoint, visitor: world.colleague_id,
    "day": lambda world, endpoint, visitor: world.published.published_on.isoformat(),
}


def url(app, world, endpoint, method, visitor):
    """Return the address ``visitor`` would use for ``endpoint``, with real refs, tokens and ids."""
    (rule,) = app.url_map.iter_rules(endpoint)
    values = {name: ARGUMENTS[name](world, endpoint, visitor) for name in rule.arguments}
    return app.url_map.bind("localhost").build(
        endpoint, {**values, **QUERIES.get(endpoint, {})}, method=method
    )


def send(app, client, world, endpoint, method, visitor, csrf_token=None):
    """Send ``visitor``'s request to ``endpoint``, with the body an admitted visitor would post."""
    body = dict(BODIES.get(endpoint, {})) if method == "POST" else {}
    if csrf_token is not None:
        body["data"] = MultiDict(body.get("data", {}))
        body["data"]["csrf_token"] = csrf_token
    return client.open(url(app, world, endpoint, method, visitor), method=method, **body)


def is_login_redirect(response):
    """Tell whether ``response`` sends the visitor to the login page."""
    redirected = response.status_code in (302, 303)
    return redirected and urlsplit(response.location).path == "/editor/login"


def test_every_route_is_classified(app):
    """Each endpoint and method in the URL map has a row in ACCESS, and each row a route."""
    routed = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert sorted(routed - ACCESS.keys()) == [], "routes nobody has said who may use"
    assert sorted(ACCESS.keys() - routed) == [], "rows for routes that no longer exist"


@pytest.mark.parametrize(("endpoint", "method", "visitor"), MATRIX)
def test_access_matrix(app, world, endpoint, method, visitor):
    """Admitted visitors are served; others are sent to log in, refused or not found, changing
    nothing."""
    client = visit_as(app, world, visitor)
    level = ACCESS[endpoint, method]
    before = snapshot(app)
    response = send(app, client, world, endpoint, method, visitor)
    after = snapshot(app)
    assert response.status_code < 500
    if visitor in ADMITS[level]:
        assert 200 <= response.status_code < 400, response.status_code
        assert not is_login_redirect(response)
        if (endpoint, method) in WRITES:
            assert after != before, "the admitted request should have done its work"
    else:
        if level == TOKEN:
            assert response.status_code == 404
        elif visitor in ("anonymous", "submitter"):
            assert is_login_redirect(response), (response.status_code, response.location)
        else:
            assert response.status_code == 403
        assert after == before
    if method == "GET":
        assert after == before


@pytest.mark.parametrize("endpoint", POSTS)
def test_get_never_acts(app, world, endpoint):
    """GET on an action's address is 405, or reaches a page that only reads."""
    visitor = LEAST[ACCESS[endpoint, "POST"]]
    client = visit_as(app, world, visitor)
    address = url(app, world, endpoint, "POST", visitor)
    before = snapshot(app)
    response = client.get(address)
    assert snapshot(app) == before
    try:
        shown, _ = app.url_map.bind("localhost").match(urlsplit(address).path, method="GET")
    except MethodNotAllowed:
        assert response.status_code == 405
    else:
        assert (shown, "GET") in ACCESS and (shown, "GET") not in WRITES
        assert response.status_code < 500


@pytest.mark.parametrize("endpoint", FORM_POSTS)
def test_forms_refuse_a_bad_csrf_token(app, csrf_app, world, endpoint):
    """With CSRF on, an admitted visitor's post without its own token is a 400, changing nothing."""
    visitor = LEAST[ACCESS[endpoint, "POST"]]
    client = visit_as(csrf_app, world, visitor)
    bad_tokens = {
        "missing": None,
        "forged": "IjAwMDAi.forged.signature",
        "another session's": form_token(csrf_app.test_client()),
    }
    for name, token in bad_tokens.items():
        before = snapshot(app)
        response = send(csrf_app, client, world, endpoint, "POST", visitor, csrf_token=token)
        assert response.status_code == 400, name
        assert "页面已过期或来源不明" in response.get_data(as_text=True)
        assert snapshot(app) == before, name


@pytest.mark.parametrize("endpoint", FORM_POSTS)
def test_forms_accept_their_own_csrf_token(app, csrf_app, world, endpoint):
    """The same posts with the visitor's own token go through, so the refusals above are CSRF's."""
    visitor = LEAST[ACCESS[endpoint, "POST"]]
    client = visit_as(csrf_app, world, visitor)
    before = snapshot(app)
    token = form_token(client)
    response = send(csrf_app, client, world, endpoint, "POST", visitor, csrf_token=token)
    assert 200 <= response.status_code < 400, response.status_code
    assert not is_login_redirect(response)
    if (endpoint, "POST") in WRITES:
        assert snapshot(app) != before


# --- Tracking tokens --------------------------------------------------------------------------

CONTACTS_B = {
    "submitter_name": "代理人乙",
    "submitter_phone": "13900002222",
    "submitter_email": "second@private.example",
}


def status_of(app, ref):
    with app.app_context():
        return db.session.scalar(db.select(Notice.status).where(Notice.ref == ref))


def test_a_token_shows_its_own_submission_and_nothing_of_another(client, make_notice, today):
    """Token A's pages show notice A, and neither notice B nor B's submitter."""
    a = make_notice("loss_declaration", status="submitted", day=today)
    b = make_notice("loss_declaration", index=1, status="submitted", day=today, **CONTACTS_B)
    for address in (f"/track/{a.token}", f"/track/{a.token}/withdraw"):
        response = client.get(address)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and a.ref in page
        for other in (b.ref, "达娃曲珍", "S540022253", *CONTACTS_B.values()):
            assert other not in page, (address, other)
    own = client.get(f"/track/{a.token}").get_data(as_text=True)
    assert "扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失" in own


@pytest.mark.parametrize("guess", ["made up", "truncated", "ref", "stored hash"])
def test_a_token_that_was_not_issued_finds_nothing(app, client, make_notice, today, guess):
    """Anything but the token itself, even its stored hash or the notice's ref, is a 404."""
    notice = make_notice("loss_declaration", status="submitted", day=today)
    token = {
        "made up": secrets.token_urlsafe(24),
        "truncated": notice.token[:-1],
        "ref": notice.ref,
        "stored hash": services.hash_token(notice.token),
    }[guess]
    before = snapshot(app)
    tracking = [("GET", "/track/{}"), ("GET", "/track/{}/withdraw"), ("POST", "/track/{}/withdraw")]
    for method, path in tracking:
        assert client.open(path.format(token), method=method).status_code == 404, (method, path)
    assert snapshot(app) == before


def test_token_a_cannot_withdraw_b(app, client, make_notice, today):
    """Withdrawing with token A withdraws A, whatever else the form names, and leaves B waiting."""
    a = make_notice("loss_declaration", status="submitted", day=today)
    b = make_notice("loss_declaration", index=1, status="submitted", day=today)
    response = client.post(f"/track/{a.token}/withdraw", data={"ref": b.ref, "token": b.token})
    assert response.status_code == 302
    assert status_of(app, a.ref) == "withdrawn"
    assert status_of(app, b.ref) == "submitted"


# --- What the public never sees ---------------------------------------------------------------


def id_number(first17):
    """Return a valid 居民身份证 number from its first 17 characters."""
    return first17 + documents.id_card_check_char(first17)


STATES = [
    ("published", None),
    ("published", date(2024, 3, 8)),  # expired, in the archive
    ("submitted", None),
    ("rejected", None),
    ("withdrawn", None),
    ("revoked", None),
]
ID_NUMBER = id_number("54010219900101100")
PRIVATE = {
    "submitter_name": "代理人甲",
    "submitter_phone": "13900001111",
    "submitter_email": "first@private.example",
}
# Values of the same shape that no notice holds, to measure what a page echoes of a query.
NOBODYS = {
    "number": id_number("54010219800202000"),
    "submitter_name": "代理人丙",
    "submitter_phone": "13900003333",
    "submitter_email": "third@private.example",
}
PUBLIC_GETS = sorted(e for (e, m), level in ACCESS.items() if level == PUBLIC and m == "GET")
# Query strings under which a public route lists the declaration being checked.
LISTING = {
    "public.archive": {"type": "loss_declaration"},
    "public.search_page": {"q": "扎西央珍", "status": "all"},
    "feeds.searched": {"q": "扎西央珍", "status": "all"},
    "api.notices": {"type": "loss_declaration", "status": "all", "per_page": 100},
    "api.lost_documents": {"number": "T540059774"},
}
# Public lookups a visitor types into, and the parameter it goes in.
LOOKUPS = [
    ("public.search_page", "q", {"status": "all"}),
    ("public.lost", "number", {}),
    ("feeds.searched", "q", {"status": "all"}),
    ("api.notices", "q", {"status": "all"}),
    ("api.lost_documents", "number", {}),
]


def declaration(make_notice, status, day):
    """Make a loss declaration of a full ID number, with private contacts, in ``status``."""
    item = {"owner_name": "", "document_type": "id_card", "document_number": ID_NUMBER}
    return make_notice("loss_declaration", status=status, day=day, items=[item], **PRIVATE)


def public_addresses(app, ref, day):
    """Return an address of every public GET route, pointed at notice ``ref`` (and the ``day``
    it was made on) where one is taken."""
    addresses = []
    for endpoint in PUBLIC_GETS:
        (rule,) = app.url_map.iter_rules(endpoint)
        arguments = {"ref": ref, "code": "loss_declaration", "day": day.isoformat()}
        values = {name: arguments[name] for name in rule.arguments}
        query = LISTING.get(endpoint, {})
        addresses.append(app.url_map.bind("localhost").build(endpoint, {**values, **query}))
    return addresses


@pytest.mark.parametrize(("status", "day"), STATES, ids=str)
def test_public_pages_never_show_contacts_or_full_id_numbers(app, client, make_notice, today,
                                                             status, day):
    """No public page or API answer carries a submitter's contacts or a full ID number, and none
    lists an unpublished notice."""
    notice = declaration(make_notice, status, day or today)
    for address in public_addresses(app, notice.ref, day or today):
        response = client.get(address)
        assert response.status_code < 500, address
        body = readable(response)
        for secret in (ID_NUMBER, *PRIVATE.values()):
            assert secret not in body, (address, secret)
        if not notice.is_public:
            # An unpublished notice is not found at its own address and not listed anywhere.
            if notice.ref in address:
                assert response.status_code == 404, address
            else:
                assert notice.ref not in body, address
    if notice.status in ("published", "revoked"):
        masked = documents.mask_number("id_card", ID_NUMBER)
        assert masked in client.get(f"/notices/{notice.ref}").get_data(as_text=True)


def readable(response):
    """Return what a reader reads of a response: its text, or the text of a PDF."""
    if response.mimetype != "application/pdf":
        return response.get_data(as_text=True)
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=response.get_data(),
                          capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


def outside_links(response):
    """Return the body without links and field values, where a results page repeats its query."""
    return re.sub(r'\b(?:href|value)="[^"]*"', "", response.get_data(as_text=True))


@pytest.mark.parametrize(("status", "day"), STATES, ids=str)
def test_lookups_echo_only_what_was_typed(app, client, make_notice, today, status, day):
    """Looking up a full ID number or a contact repeats it, outside links, no more often than a
    value nobody holds; and a search by contact finds nothing."""
    declaration(make_notice, status, day or today)
    adapter = app.url_map.bind("localhost")
    for name, secret in [("number", ID_NUMBER), *PRIVATE.items()]:
        for endpoint, param, extra in LOOKUPS:
            asked = client.get(adapter.build(endpoint, {param: secret, **extra}))
            nobodys = client.get(adapter.build(endpoint, {param: NOBODYS[name], **extra}))
            assert asked.status_code == nobodys.status_code, (endpoint, name)
            echoes = outside_links(nobodys).count(NOBODYS[name])
            assert outside_links(asked).count(secret) <= echoes, (endpoint, name)
    for contact in PRIVATE.values():
        found = client.get(adapter.build("api.notices", {"q": contact, "status": "all"})).get_json()
        assert found["total"] == 0, f"searching for {contact} finds the notice it submitted"


# --- What no cache keeps ----------------------------------------------------------------------

# Addresses whose every answer belongs to one person: an editor's pages, a submitter's key.
PRIVATE_PREFIXES = ("/editor/", "/track/")


def private_routes(app):
    """Return the (endpoint, method) rows of ACCESS served under a private prefix."""
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    return [(e, m) for e, m in ACCESS if rules[e].startswith(PRIVATE_PREFIXES)]


@pytest.mark.parametrize("visitor", VISITORS)
def test_editor_and_tracking_answers_are_never_stored(app, world, visitor):
    """Every answer under /editor/ and /track/ carries Cache-Control: no-store, to every visitor:
    pages, redirects, refusals, wrong methods and addresses that do not exist."""
    routes = private_routes(app)
    assert len(routes) >= 15
    statuses = set()
    for endpoint, method in routes:
        client = visit_as(app, world, visitor)
        answers = [send(app, client, world, endpoint, method, visitor)]
        other = "GET" if method == "POST" else "DELETE"
        answers.append(client.open(url(app, world, endpoint, method, visitor), method=other))
        for response in answers:
            statuses.add(response.status_code)
            assert response.headers.get("Cache-Control") == "no-store", (
                endpoint, method, response.status_code)
    client = visit_as(app, world, visitor)
    for address in ("/editor", "/editor/no/such/page", "/track/", f"/track/{MADE_UP_TOKEN}/x"):
        response = client.get(address)
        statuses.add(response.status_code)
        assert response.headers.get("Cache-Control") == "no-store", address
    assert {302, 404, 405} <= statuses
    # Pages that are nobody's in particular may still be kept.
    assert "no-store" not in (client.get("/").headers.get("Cache-Control") or "")
