"""Fields, validators and base forms shared by the notice types.

Field names equal the API's field names. Validators are thin wrappers around the pure rules
in ``documents`` and ``wording``, so the HTML forms, the API and the seed loader refuse the
same input with the same Chinese message.

Every field a person types into is :class:`Bounded`: it has a maximum length, checked on the
text as posted before anything parses, filters or validates it, and loses its invisible
characters (``wording.visible``) before anything else reads it.
"""
import re
from typing import NamedTuple

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import FieldList
from wtforms import FormField
from wtforms import SelectChoice
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TelField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.utils import unset_value
from wtforms.validators import Email
from wtforms.validators import InputRequired
from wtforms.validators import Optional
from wtforms.validators import StopValidation
from wtforms.validators import ValidationError

from notices import wording

MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code (3 or 4 digits starting with 0, as 0891 for Lhasa), number, optional extension.
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def normalize_phone(value):
    """Return a phone number as printed: no spaces, and a landline's area code set off by -.

    Area codes of Beijing, Tianjin, Shanghai and the 02x cities have three digits, all others
    (0891 for Lhasa) four.
    """
    if not isinstance(value, str):
        return value
    value = re.sub(r"[\s()()]", "", value).replace("—", "-").replace("－", "-")
    if re.fullmatch(r"0\d{9,11}", value):
        split = 3 if value[1] in "12" else 4
        value = f"{value[:split]}-{value[split:]}"
    return value


def phone(form, field):
    """Accept a mainland mobile number or a landline with its area code."""
    if field.data and not (MOBILE.fullmatch(field.data) or LANDLINE.fullmatch(field.data)):
        raise ValidationError("请填写11位手机号,或带区号的固定电话(如0891-6321234)")


class Required(InputRequired):
    """InputRequired that also refuses whitespace and says what is missing in Chinese."""

    def __init__(self, what):
        super().__init__(message=f"请填写{what}")

    def __call__(self, form, field):
        super().__call__(form, field)
        data = field.data
        # Blank after stripping, or a list that cleaned down to nothing (only "；；").
        if isinstance(data, (str, list)) and not (data.strip() if isinstance(data, str) else data):
            field.errors[:] = []
            raise StopValidation(self.message)


def required_choice(what):
    def check(form, field):
        if not field.data:
            raise StopValidation(f"请至少选择一项{what}")

    return check


class Bounded:
    """A text field that refuses more than ``max_length`` characters before reading them.

    The bound is checked on the text as posted, before the field parses it (LinesField,
    SitesField) and before any filter or validator sees it, so no parser or pattern ever reads
    more than the bound, whatever a request carries. Text over the bound stays unread, to be
    shown again in the form beside the error.
    """

    def __init__(self, label=None, validators=None, *, max_length, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.max_length = max_length
        # Rendered as maxlength, so a browser stops the typing there too.
        self.flags.maxlength = max_length
        self.too_long = False

    def accepted(self, valuelist):
        """Return the posted values without invisible characters, or None if over the bound.

        The one filter every text field applies, before its own parsing, filters and
        validators: a zero-width space or a bidi override in a name would hide the notice
        from search and show one text while storing another.
        """
        text = "\n".join(valuelist)
        # Browsers send a textarea's line breaks as CR LF but count each as one character.
        self.too_long = len(text) - text.count("\r\n") > self.max_length
        return None if self.too_long else [wording.visible(value) for value in valuelist]

    def process_formdata(self, valuelist):
        valuelist = self.accepted(valuelist)
        if valuelist is not None:
            super().process_formdata(valuelist)

    def pre_validate(self, form):
        if self.too_long:
            raise StopValidation(f"不能超过{self.max_length}个字")
        super().pre_validate(form)

    def _value(self):
        if self.too_long:
            return "\n".join(self.raw_data)
        return super()._value()


class TextField(Bounded, StringField):
    """One line of text."""


class ParagraphField(Bounded, TextAreaField):
    """A textarea kept as one text, line breaks and all."""


class PhoneField(Bounded, TelField):
    """A phone number."""


class EmailAddressField(Bounded, EmailField):
    """An email address."""


class LinesField(Bounded, TextAreaField):
    """A textarea whose data is the list of its lines, bare of numbering and closing marks."""

    def process_formdata(self, valuelist):
        valuelist = self.accepted(valuelist)
        if valuelist is not None:
            # The API may send a list of lines instead of one text.
            self.data = wording.clean_lines("\n".join(valuelist))

    def _value(self):
        return super()._value() if self.too_long else "\n".join(self.data or [])


class SitesField(Bounded, TextAreaField):
    """A textarea of sites, one per line: a name and an optional http/https URL."""

    # The text as accepted, for the check of every link in it.
    text = ""

    def process_formdata(self, valuelist):
        valuelist = self.accepted(valuelist)
        if valuelist is not None:
            self.text = "\n".join(valuelist)
            self.data = wording.parse_sites(self.text)

    def _value(self):
        return super()._value() if self.too_long else wording.sites_text(self.data or [])

    def pre_validate(self, form):
        super().pre_validate(form)
        for site in self.data or []:
            if not site["name"]:
                raise ValidationError("每行先写网站名称,再写网址(可省略)")
            if len(site["name"]) > 100:
                raise ValidationError("网站名称不能超过100个字")
            if len(site["url"]) > 300:
                raise ValidationError("网址不能超过300个字符")
        # Anywhere in the text, not only in the URLs parse_sites found: javascript:alert(1)
        # after a name is no URL to it, but a link all the same.
        if wording.foreign_scheme(self.text):
            raise ValidationError("网址只能以 http:// 或 https:// 开头")


def row_number(text):
    """Return the row a form field's index names (the 3 of items-3-owner_name), or None.

    Only the plain numbers a form writes: int() raises on thousands of digits, and on ²,
    which str.isdigit() accepts.
    """
    if text.isascii() and text.isdigit() and len(text) <= 6:
        return int(text)
    return None


class ItemList(FieldList):
    """A FieldList that refuses more than ``max_entries`` rows instead of dropping the rest.

    WTForms reads the first ``max_entries`` rows and ignores the others without a word: a
    declaration of 25 documents would be published with 20. Rows beyond the limit are counted,
    never read.
    """

    def __init__(self, *args, too_many, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_many = too_many
        self.posted = 0

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.posted = len(set(self._extract_indices(self.name, formdata))) if formdata else 0
        super().process(formdata, data, extra_filters)

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = row_number(key[offset:].split(self._field_separator, 1)[0])
                if index is not None:
                    yield index

    def validate(self, form, extra_validators=()):
        valid = super().validate(form, extra_validators)
        if self.posted > self.max_entries:
            self.errors.append(self.too_many)
            return False
        return valid


def max_lines(count, line_length):
    def check(form, field):
        if len(field.data or []) > count:
            raise ValidationError(f"最多{count}条")
        if any(len(line) > line_length for line in field.data or []):
            raise ValidationError(f"每条不超过{line_length}个字")

    return check


def choices(mapping):
    """Return {code: label} as WTForms choices."""
    return [SelectChoice(code, label) for code, label in mapping.items()]


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes rather than a multiple select."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def process_formdata(self, valuelist):
        # An API client may send "" for none chosen; that is no choice, not a bad one.
        super().process_formdata([v for v in valuelist if v.strip()])

    def pre_validate(self, form):
        offered = {choice.value for choice in self.choices}
        unknown = [value for value in self.data or [] if value not in offered]
        if unknown:
            # Quoted short: a posted value can be as long as the request.
            raise ValidationError(f"“{unknown[0][:20]}”不是可选的项目")


class BoardDateField(Bounded, DateField):
    """A date typed as 2024-03-08 (or picked); blank means missing, not malformed."""

    def __init__(self, label=None, validators=None, max_length=20, **kwargs):
        super().__init__(label, validators, max_length=max_length, **kwargs)

    def process_formdata(self, valuelist):
        valuelist = self.accepted(valuelist)
        if valuelist is None:
            return
        if not "".join(valuelist).strip():
            self.data = None
            return
        try:
            DateField.process_formdata(self, valuelist)
        except ValueError:
            raise ValueError("日期格式应为 年-月-日,如 2024-03-08") from None


def required_date(what):
    def check(form, field):
        if field.data is None and not field.process_errors:
            raise StopValidation(f"请填写{what}")

    return check


class NoticeForm(FlaskForm):
    """The submitter's own contacts, asked on every type and never published."""

    class Meta:
        # WTForms' built-in messages (a date it cannot read, a choice not offered) in Chinese.
        locales = ["zh"]

    submitter_name = TextField(
        "提交人",
        [Required("提交人姓名或单位名称")],
        max_length=100,
        filters=[strip],
        description="您本人或贵单位的名称,仅编辑可见,不会公开",
    )
    submitter_phone = PhoneField(
        "提交人电话",
        [Required("提交人电话"), phone],
        # An extension and spaces leave room above the 16 characters of 0891-6321234-802.
        max_length=30,
        filters=[normalize_phone],
        description="编辑核实时联系您,不会公开",
    )
    submitter_email = EmailAddressField(
        "提交人邮箱(选填)",
        [Optional(), Email("邮箱格式不正确,如 name@example.com")],
        max_length=200,
        filters=[strip],
    )


class CallForm(NoticeForm):
    """Fields common to the two calls: issuer, collection period, requirements, contacts."""

    issuer = TextField(
        "发布单位",
        [Required("发布单位")],
        max_length=100,
        filters=[strip],
        description="公告标题中的单位全称,如 西藏开发投资集团有限公司",
    )
    window_start = BoardDateField(
        "征集开始日期",
        [required_date("征集开始日期")],
        description="征集期从这一天起共30天",
    )
    details = SitesField(
        "征集详情(选填)",
        [max_lines(10, 300)],
        # Ten sites, each a name of up to 100 characters and a URL of up to 300.
        max_length=4000,
        description="可查看完整公告的网站,每行一个:名称,空格,网址(可省略)",
    )
    contact_unit = TextField("联系单位", [Required("联系单位")], max_length=100, filters=[strip])
    contact_name = TextField(
        "联系人", [Required("联系人")], max_length=50, filters=[strip], description="如 敬女士"
    )
    contact_phone = PhoneField(
        "联系电话", [Required("联系电话"), phone], max_length=30, filters=[normalize_phone]
    )
    contact_email = EmailAddressField(
        "邮箱",
        [Required("联系邮箱"), Email("邮箱格式不正确,如 name@example.com")],
        max_length=200,
        filters=[strip],
    )

    def validate_window_start(self, field):
        # ``today`` is set by the caller, which reads the clock once per request.
        today = getattr(self, "today", None)
        if today is not None and field.data is not None and field.data < today:
            raise ValidationError("征集开始日期不能早于今天")


# The submitter's own fields, asked last on every form.
SUBMITTER_FIELDS = ("submitter_name", "submitter_phone", "submitter_email")


class Problem(NamedTuple):
    """One error of a form, as its error summary lists it."""

    #: The id of the control a link to the error moves focus to.
    target: str
    #: The message, naming the field where the message alone does not.
    text: str


def short_label(field):
    """Return a field's label without its parenthesised note: 提交人邮箱 for 提交人邮箱(选填)."""
    return field.label.text.split("(")[0].split("（")[0].strip()


def _problem(field, message, target=None, row=None):
    label = short_label(field)
    where = f"第 {row} 项" if row else ""
    if label not in message:
        where = f"{where} {label}".strip()
    return Problem(target or field.id, f"{where}:{message}" if where else message)


def _first_control(field):
    """Return the id of the first control a person fills in ``field``."""
    if isinstance(field, SelectMultipleField):
        # A group of checkboxes: the first box, as each box has an id of its own.
        return f"{field.id}-0"
    entries = getattr(field, "entries", None)
    if entries:
        return _first_control(next(iter(_fields_of(entries[0]))))
    return field.id


def _fields_of(entry):
    """Return the fields of a list's row: a row form's fields, or the row itself."""
    return entry.form if isinstance(entry, FormField) else [entry]


def problems(form, order=()):
    """Return the errors of a validated ``form`` in the order the page shows its fields.

    ``order`` names the fields as the page lays them out; any other field with an error comes
    after them. Each loss item's errors are told by the row they are in.
    """
    names = [*order, *(f.short_name for f in form if f.short_name not in order)]
    found = []
    for name in names:
        field = form[name]
        if field.type in ("CSRFTokenField", "HiddenField"):
            continue  # nothing a person can fix: a stale form is refused before any view
        # A list's own errors (a document given twice) stand above its rows on the page.
        own = [m for m in field.errors if isinstance(m, str)]
        found += [_problem(field, m, target=_first_control(field)) for m in own]
        for row, entry in enumerate(getattr(field, "entries", ()), start=1):
            for sub in _fields_of(entry):
                found += [_problem(sub, m, row=row) for m in sub.errors if isinstance(m, str)]
    return found


# --- Consent to publish -------------------------------------------------------------------

# The separate consent to make public the persons' details a notice names (PIPL Art. 25),
# asked on every form below the submitter's fields; the API takes it as JSON true.
CONSENT_FIELD = "consent_publication"
CONSENT_MESSAGE = "请勾选“同意公开刊登”:不同意则无法提交公告"


def consent_given(form, field):
    """Refuse a submission without the consent, unless the caller collects none (a printed
    notice brought in by the bulk import, the seed notices)."""
    if getattr(form, "asks_consent", True) and not field.data:
        raise StopValidation(CONSENT_MESSAGE)


class ConsentField(BooleanField):
    """A box that counts as ticked only with the value it posts ("y", as the API's true is
    passed on): any other value a request carries, however long, is no consent."""

    def process_formdata(self, valuelist):
        self.data = valuelist[:1] == ["y"]


NoticeForm.consent_publication = ConsentField("同意公开刊登", [consent_given])
