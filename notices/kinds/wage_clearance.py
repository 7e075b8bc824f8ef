"""民工工资结清公示: a contractor declares that every worker of a finished project was paid."""
from notices import forms
from notices import wording
from notices.kinds.base import Kind

DEFAULT_AUTHORITY = "当地劳动局"


class WageClearanceForm(forms.NoticeForm):
    contractor = forms.TextField(
        "承建单位",
        [forms.Required("承建单位")],
        max_length=100,
        filters=[forms.strip],
        description="承建该项目的公司全称,公示以它的名义发布",
    )
    project_name = forms.TextField(
        "项目名称",
        [forms.Required("项目名称")],
        max_length=200,
        filters=[forms.strip],
        description="与合同一致的项目全称,如 拉萨市尼木县卡如温泉驿站(核乡寻忆)景区2A级景区创建项目(二次)",
    )
    contact_phone = forms.PhoneField(
        "联系电话",
        [forms.Required("联系电话"), forms.phone],
        max_length=30,
        filters=[forms.normalize_phone],
        description="公示中刊登的电话,供有异议的民工联系",
    )
    authority = forms.TextField(
        "受理异议的部门(选填)",
        max_length=100,
        filters=[forms.strip],
        description=f"不填则为“{DEFAULT_AUTHORITY}”",
    )


class WageClearance(Kind):
    code = "wage_clearance"
    name = "民工工资结清公示"
    short_name = "工资结清公示"
    summary = "工程竣工后,承建单位公示民工工资已全部结清,接受30日内的异议。"
    ref_prefix = "GZ"
    window_label = "异议期"
    issuer_field = "contractor"
    form = WageClearanceForm
    public_fields = ("contractor", "project_name", "contact_phone", "authority")

    def fields_from_form(self, form):
        fields = super().fields_from_form(form)
        fields["authority"] = fields["authority"] or DEFAULT_AUTHORITY
        return fields

    def title(self, fields):
        return f"{fields['contractor']} {self.name}"

    def text(self, fields, start, end):
        days = (end - start).days
        text = wording.Text("公示")
        text.para(
            f"由我公司承建的“{fields['project_name']}”现该项目已竣工,所有民工已全部退场,"
            "且民工工资已全部发放完毕,未有拖欠工资情况,如有异议,"
            f"请于本公告见报之日起{days}日向{fields['authority']}举报。"
        )
        text.para(f"联系电话:{fields['contact_phone']}")
        text.para("特此公示")
        text.sign(fields["contractor"])
        text.sign(wording.cn_date(start))
        return text


KIND = WageClearance()
