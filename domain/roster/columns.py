"""The roster's columns, their English and Chinese headers, and the words allowed in cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.people import PLATFORM_FIELDS, ROLE_LABELS, STATUS_LABELS
from storage.models import UserStatus

Lang = Literal["en", "zh"]


@dataclass(frozen=True)
class Column:
    key: str  # the header in English; also the User attribute for plain text columns
    zh: str
    max_length: int
    help: str


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", 100, "Full name as colleagues know it (required)."),
    Column("roles", "角色", 200, "rep, manager, product, finance, admin (several allowed)."),
    Column("supervisor", "主管", 100, "The supervisor's name (or one of their platform ids)."),
    Column("team", "团队", 100, "Team or sales region group; managers see their reports."),
    Column("region", "区域", 100, "Territory, free text."),
    Column("title", "职务", 100, "Job title, free text."),
    Column("phone", "电话", 40, "Mobile number, free text."),
    Column("dingtalk_staff_id", "钉钉userId", 100, "DingTalk userId (staffId)."),
    Column("dingtalk_union_id", "钉钉unionId", 100, "DingTalk unionId."),
    Column("wecom_userid", "企业微信userid", 100, "WeCom userid."),
    Column("console_id", "控制台账号", 100, "Console handle (demos and tests)."),
    Column("status", "状态", 20, "active (default), inactive or pending."),
)
BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}
TEXT_FIELDS: tuple[str, ...] = ("team", "region", "title", "phone")
ID_FIELDS: tuple[str, ...] = PLATFORM_FIELDS


def _norm(header: str) -> str:
    return header.strip().casefold().replace(" ", "").replace("_", "").replace("-", "")


HEADER_ALIASES: dict[str, str] = {}
for _c in COLUMNS:
    HEADER_ALIASES[_norm(_c.key)] = _c.key
    HEADER_ALIASES[_norm(_c.zh)] = _c.key
HEADER_ALIASES.update(
    {
        _norm("钉钉staffId"): "dingtalk_staff_id",
        _norm("企业微信账号"): "wecom_userid",
        _norm("上级"): "supervisor",
        _norm("部门"): "team",
        _norm("手机"): "phone",
        _norm("手机号"): "phone",
    }
)


def column_for(header: str) -> str | None:
    return HEADER_ALIASES.get(_norm(header))


def header(key: str, lang: Lang) -> str:
    return key if lang == "en" else BY_KEY[key].zh


_STATUS_WORDS: dict[str, str] = {
    **{s: s for s in STATUS_LABELS},
    **{label: s for s, label in STATUS_LABELS.items()},
    "离职": UserStatus.INACTIVE,
    "已停用": UserStatus.INACTIVE,
}


def parse_status(cell: str) -> str | None:
    cell = cell.strip()
    if not cell:
        return UserStatus.ACTIVE
    return _STATUS_WORDS.get(cell.casefold()) or _STATUS_WORDS.get(cell)


def status_cell(status: str, lang: Lang) -> str:
    return status if lang == "en" else STATUS_LABELS.get(status, status)


def roles_cell(roles: list[str], lang: Lang) -> str:
    if lang == "en":
        return ",".join(roles)
    return "、".join(ROLE_LABELS[r] for r in roles)
