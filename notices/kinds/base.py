"""What every notice type declares, and the behaviour they share."""
from notices import documents
from notices import expiry
from notices import wording
from notices.wording import cn_date


class Kind:
    """One notice type: its form, public fields, wording and window rule.

    A type is a module in ``notices/kinds/`` defining a subclass and an instance ``KIND``;
    views, the API, services and templates look the type up and never test its code.
    """

    #: The type code used in URLs, forms, the database, the API and the search index.
    code = ""
    #: The type's name as the newspaper heads it, e.g. 供应商入库征集公告.
    name = ""
    #: A short name for navigation on a phone.
    short_name = ""
    #: One sentence telling a submitter what this type is for.
    summary = ""
    #: Two letters opening each reference number, so a ref tells its type at a glance.
    ref_prefix = ""
    #: What the window is called on the notice's page: 征集期, 异议期, 公示期.
    window_label = ""
    #: True when the submitter chooses ``window_start``; otherwise it is the publication date.
    submitter_sets_window = False
    #: True when phone numbers in the wording become tel: links on the notice's page; a type
    #: whose wording is made of document numbers says False, so none is dialled by mistake.
    phones_in_text = True
    #: The FlaskForm that validates a submission of this type.
    form = None
    #: Field names that are published (everything but the submitter's contacts).
    public_fields = ()

    @property
    def form_fields(self):
        """Return the names of the form's public fields, in the order the form asks them."""
        names = list(self.public_fields)
        if self.submitter_sets_window:
            names.insert(1, "window_start")
        return names

    @property
    def declared(self):
        """Return {field name: the form's unbound field} of every field the form declares."""
        return {
            name: field
            for name in dir(self.form)
            if hasattr(field := getattr(self.form, name), "field_class")
        }

    @property
    def labels(self):
        """Return {field name: the form's label}, for pages that list raw fields."""
        return {name: _label(field) for name, field in self.declared.items()}

    #: The field naming who publishes the notice: the issuer, contractor or declarant.
    issuer_field = "issuer"

    def issuer(self, fields):
        """Return who publishes the notice, for the search filter by issuer."""
        return fields[self.issuer_field]

    def title(self, fields):
        """Return the notice's title in listings and feeds."""
        raise NotImplementedError

    def text(self, fields, start, end):
        """Return the canonical published wording as a :class:`notices.wording.Text`."""
        raise NotImplementedError

    def fields_from_form(self, form):
        """Return the public fields to store from a validated form."""
        return {name: form[name].data for name in self.public_fields}

    def items_from_form(self, form):
        """Return the document items a validated form declares (loss declarations only)."""
        return []

    def preview(self, form, start, end):
        """Return the wording a validated form will publish with the window ``start``–``end``."""
        fields = self.fields_from_form(form)
        items = self.items_from_form(form)
        if items:
            fields["items"] = [self.mask_item(item) for item in items]
        # Masked as the published notice will be (see board.public_fields).
        return self.text(documents.mask_strings(fields), start, end)

    def mask_item(self, item):
        """Return a declared document as public pages show it."""
        return item

    def fields_of(self, notice, masked=True):
        """Return a notice's public fields; ``masked`` hides what public pages must not show."""
        return dict(notice.fields)

    def active_line(self, start, end, today):
        """Return the window line of an active notice, e.g. 异议期还剩 30 天, counted as the
        calls count theirs: the days after ``today`` up to the window's last day."""
        left = expiry.days_left(end, today)
        return f"{self.window_label}今天结束" if left == 0 else f"{self.window_label}还剩 {left} 天"

    def status_line(self, notice, today):
        """Return one line telling the public where the notice stands on ``today``."""
        state = expiry.public_state(notice.status, notice.window_end, today)
        if state == "revoked":
            return f"已撤销:{notice.reason}"
        if state == "expired":
            return f"已过期({self.window_label}已于{cn_date(notice.window_end)}结束)"
        return self.active_line(notice.window_start, notice.window_end, today)


class CallKind(Kind):
    """The two calls share their window rule: the submitter picks the start of collection."""

    window_label = "征集期"
    submitter_sets_window = True

    def title(self, fields):
        return f"{fields['issuer']} {self.name}"

    def active_line(self, start, end, today):
        if not expiry.is_open(start, today):
            return f"征集尚未开始,{cn_date(start)}开始"
        left = expiry.days_left(end, today)
        return "征集今天截止" if left == 0 else f"征集截止还有 {left} 天"

    def compose(self, fields, start, end, *, intro, sections, details_lead, contact):
        """Return a call's text: title, intro, 征集时间, the type's sections, 征集详情, 联系方式."""
        text = wording.Text(self.title(fields))
        text.para(intro)
        numbered = [("征集时间", [f"{cn_date(start)}—{cn_date(end)}"]), *sections]
        if fields.get("details"):
            numbered.append(("征集详情", [wording.sites_sentence(details_lead, fields["details"])]))
        numbered.append(("联系方式", contact))
        text.sections(numbered)
        return text


def _label(unbound):
    """Return the label a form field was declared with: its ``label``, else its first text
    argument (a list of rows names its row form first)."""
    if "label" in unbound.kwargs:
        return unbound.kwargs["label"]
    return next((arg for arg in unbound.args if isinstance(arg, str)), "")
