"""Every text OneStop sends, to the applicant or to staff (their escalations), in Chinese
(what goes out), English beside it (for logs, docs and reviewers; never sent).

The signature 【一件事开办】 leads each text, as carriers require of a sender in China.
Texts carry no personal number: a tracking code, a credit code, a waybill, a one-time code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SIGNATURE = "【一件事开办】"

# What a one-time code is for, as the text names it: every purpose of
# `orchestrator.identity.one_time_codes.Purpose` is here (checked there at import).
PURPOSES: dict[str, tuple[str, str]] = {
    "supplement": ("补交材料", "supplying a material"),
    "rate": ("评价服务", "rating the service"),
}


@dataclass(frozen=True)
class Text:
    """One text: `kind` says which of ours it is; `zh` is sent, `en` says the same."""

    kind: str
    zh: str
    en: str


def _day_zh(instant: datetime) -> str:
    return f"{instant.year}年{instant.month}月{instant.day}日{instant:%H:%M}"


def accepted(*, company_name: str, tracking_code: str, tracking_url: str) -> Text:
    """The filing was accepted: its tracking code and the tracking page."""
    return Text(
        "accepted",
        f"{SIGNATURE}{company_name}的企业开办申请已受理，受理编号{tracking_code}。"
        f"办理进度请查看：{tracking_url}",
        f"The application for {company_name} was accepted, tracking code {tracking_code}. "
        f"Follow its progress at {tracking_url}",
    )


def material_due(
    *, tracking_code: str, name_zh: str, name_en: str, due_at: datetime, tracking_url: str
) -> Text:
    """A 容缺 material is still due: which, and by when."""
    return Text(
        "material_due",
        f"{SIGNATURE}您的申请（受理编号{tracking_code}）容缺受理，请于{_day_zh(due_at)}前"
        f"补交《{name_zh}》，可在进度页上传：{tracking_url}",
        f"Your application ({tracking_code}) was accepted with a material to follow: supply "
        f"'{name_en}' by {due_at:%Y-%m-%d %H:%M}; upload it on the tracking page {tracking_url}",
    )


def material_reminder(
    *, tracking_code: str, name_zh: str, name_en: str, due_at: datetime, tracking_url: str
) -> Text:
    """A 容缺 material falls due within a working day and has not come yet."""
    return Text(
        "material_reminder",
        f"{SIGNATURE}提醒：您的申请（受理编号{tracking_code}）容缺的《{name_zh}》须于"
        f"{_day_zh(due_at)}前补交，逾期相关事项将暂停办理。请在进度页上传：{tracking_url}",
        f"Reminder: '{name_en}' for your application ({tracking_code}) is due by "
        f"{due_at:%Y-%m-%d %H:%M}; past that, the steps waiting for it stop. Upload it on the "
        f"tracking page {tracking_url}",
    )


def ready(*, company_name: str, credit_code: str) -> Text:
    """Every agency is done: the company may operate; its unified social credit code."""
    return Text(
        "ready",
        f"{SIGNATURE}{company_name}已开办完成，统一社会信用代码{credit_code}。"
        "营业执照和印章将按您选择的方式交付。",
        f"{company_name} is open for business, unified social credit code {credit_code}. "
        "The licence and seals will reach you the way you chose.",
    )


def waybill(*, company_name: str, waybill_no: str) -> Text:
    """The courier carries licence and seals: its waybill number."""
    return Text(
        "waybill",
        f"{SIGNATURE}{company_name}的营业执照和印章已交EMS寄递，运单号{waybill_no}。",
        f"The licence and seals of {company_name} went by EMS, waybill {waybill_no}.",
    )


def rate_again(*, company_name: str, tracking_url: str) -> Text:
    """A bad rating was followed up and answered: the applicant may rate the service again."""
    return Text(
        "rate_again",
        f"{SIGNATURE}您对{company_name}开办服务的评价已回访处理，欢迎再次评价：{tracking_url}",
        f"Your rating of the service opening {company_name} was followed up and answered; "
        f"you are welcome to rate it again: {tracking_url}",
    )


ONE_TIME_CODE = "one_time_code"


def one_time_code(*, code: str, purpose: str, minutes: int) -> Text:
    """A one-time code for the tracking page, and what it is for."""
    zh, en = PURPOSES[purpose]
    return Text(
        ONE_TIME_CODE,
        f"{SIGNATURE}验证码{code}，用于{zh}，{minutes}分钟内有效。请勿告诉他人。",
        f"Code {code}, for {en}, valid for {minutes} minutes. Tell nobody.",
    )


# What each kind of staff notice says (`orchestrator.notifications.inbox`), as a text.
STAFF_NOTICES: dict[str, tuple[str, str]] = {
    "material_overdue": (
        "的容缺材料已逾期，网点可撤回其阻塞的事项",
        "has a material past due: the branch may withdraw the step it blocks",
    ),
    "sla_at_risk": (
        "存在超时风险：预计办结晚于承诺时限",
        "is at risk: expected ready after its committed deadline",
    ),
    "sla_breached": (
        "已超过承诺时限，尚未办结",
        "is past its committed deadline and not ready",
    ),
}


def staff_notice(kind: str, *, tracking_code: str, company_name: str) -> Text:
    """A notice of the staff inbox as a text to the member of staff: which filing, what."""
    zh, en = STAFF_NOTICES[kind]
    return Text(
        f"staff_{kind}",
        f"{SIGNATURE}{company_name}（受理编号{tracking_code}）{zh}。详情请登录工作台查看。",
        f"{company_name} ({tracking_code}) {en}. See the portal for details.",
    )
