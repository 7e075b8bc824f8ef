"""遗失声明: someone lost a document and declares it void."""
from wtforms import Form
from wtforms import FormField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms.validators import ValidationError

from notices import documents
from notices import forms
from notices import wording
from notices.kinds.base import Kind

MAX_ITEMS = 20


class LossItemForm(Form):
    class Meta:
        locales = ["zh"]

    owner_name = forms.TextField(
        "证件所有人",
        max_length=100,
        filters=[forms.strip],
        description="证件上的姓名或单位名称;与声明人相同时可不填",
    )
    document_type = SelectField(
        "证件类型",
        choices=[SelectChoice(t.code, t.name) for t in documents.DOCUMENT_TYPES.values()],
    )
    document_type_other = forms.TextField(
        "证件名称(仅“其他证件”填写)",
        max_length=30,
        filters=[forms.strip],
        description="证件类型选“其他证件”时填写,如 道路运输证",
    )
    document_number = forms.TextField(
        "证件编号",
        [forms.Required("证件编号")],
        # The longest rule takes 40 characters; people type spaces between groups.
        max_length=60,
        description="证件上的号码,如出生医学证明编号 T540059774、警官证内页的6位警号;"
        "居民身份证号公开时只显示前4位和最后1位,统一社会信用代码只显示前6位和最后1位",
    )

    def validate_document_type_other(self, field):
        if self.document_type.data == "other" and not field.data:
            raise ValidationError("请填写证件名称")

    def validate_document_number(self, field):
        if self.document_type.data not in documents.DOCUMENT_TYPES:
            return  # the type's own error says what to fix first
        try:
            field.data = documents.check_number(self.document_type.data, field.data)
        except documents.DocumentNumberError as error:
            raise ValidationError(str(error)) from None


class LossDeclarationForm(forms.NoticeForm):
    declarant = forms.TextField(
        "声明人",
        [forms.Required("声明人")],
        max_length=100,
        filters=[forms.strip],
        description="丢失证件的人或单位,声明以其名义刊登",
    )
    items = forms.ItemList(
        FormField(LossItemForm),
        "遗失的证件",
        min_entries=1,
        max_entries=MAX_ITEMS,
        too_many=f"每份声明最多{MAX_ITEMS}件证件,请分成几份声明提交",
    )

    def validate_items(self, field):
        numbers = [
            (item.document_type.data, item.document_number.data)
            for item in field
            if item.document_number.data
        ]
        if len(set(numbers)) < len(numbers):
            raise ValidationError("同一证件填写了两次")


class LossDeclaration(Kind):
    code = "loss_declaration"
    name = "遗失声明"
    short_name = "遗失声明"
    summary = "个人或单位遗失证件(身份证、营业执照、出生医学证明、警官证等),登报声明作废。"
    ref_prefix = "YS"
    window_label = "公示期"
    # The wording is document numbers, some all digits (an "other" document's number may look
    # like a mobile number): none of it is dialled.
    phones_in_text = False
    issuer_field = "declarant"
    form = LossDeclarationForm
    public_fields = ("declarant",)
    form_fields = ("declarant", "items")

    def items_from_form(self, form):
        declarant = form.declarant.data
        return [
            {
                "owner_name": item.owner_name.data or declarant,
                "document_type": item.document_type.data,
                "document_type_other": (
                    item.document_type_other.data if item.document_type.data == "other" else ""
                ),
                "document_number": item.document_number.data,
            }
            for item in form.items
        ]

    def mask_item(self, item):
        number = documents.mask_number(item["document_type"], item["document_number"])
        return dict(item, document_number=number)

    def fields_of(self, notice, masked=True):
        fields = dict(notice.fields)
        fields["items"] = [
            {
                "owner_name": item.owner_name,
                "document_type": item.document_type,
                "document_type_other": item.document_type_other,
                "document_type_name": item.document_type_name,
                "document_number": (
                    item.masked_number if masked else item.document_number
                ),
            }
            for item in notice.items
        ]
        return fields

    def title(self, fields):
        return f"{fields['declarant']} {self.name}"

    def text(self, fields, start, end):
        text = wording.Text(self.name)
        for item in fields["items"]:
            text.para(sentence(fields["declarant"], item))
        return text


def sentence(declarant, item):
    """Return one loss line: 扎西央珍不慎,将巴登曲加的出生医学证明(编号:T540059774)丢失,声明作废。"""
    label = documents.DOCUMENT_TYPES[item["document_type"]].number_label
    name = documents.type_name(item["document_type"], item.get("document_type_other"))
    whose = "" if item["owner_name"] == declarant else f"{item['owner_name']}的"
    return (
        f"{declarant}不慎,将{whose}{name}"
        f"({label}:{item['document_number']})丢失,声明作废。"
    )


KIND = LossDeclaration()
