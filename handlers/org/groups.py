"""Named alert targets in chat: 设置群, 群列表, 删除群 (``group_targets`` rows beside the config's groups)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from domain import group_targets
from domain.people import CHANNEL_LABELS
from handlers.context import Turn
from storage.models import GroupTarget

CHANNEL_WORDS = {
    "dingtalk": "dingtalk",
    "钉钉": "dingtalk",
    "wecom": "wecom",
    "企业微信": "wecom",
    "企微": "wecom",
    "console": "console",
    "控制台": "console",
}
KIND_LABELS = {
    "conversation": "群会话",
    "webhook": "自定义机器人",
    "appchat": "应用群聊",
    "robot": "群机器人",
    "console": "控制台",
}
# What the bot sends to each alert audience (``alerts.routes`` maps an audience to a named group).
AUDIENCE_CONTENT = {
    "managers": "早报、超时未跟进和僵尸客户提醒、逾期未完成的表单",
    "product": "需求主题预警",
    "finance": "返利计算结果",
}

USAGE = (
    "用法：设置群 <名称> <渠道> <地址> [加签密钥]\n"
    "· 钉钉：地址为群的 openConversationId（cid 开头），"
    "或自定义机器人的 Webhook 地址（可带 SEC 开头的加签密钥）\n"
    "· 企业微信：地址为应用群聊的 chatid，或群机器人的 Webhook 地址\n"
    "例如「设置群 managers 企业微信 wrkSFfCgAAxxxx」。提醒按名称发送：managers（经理群）、product（产品群）、"
    "finance（财务群）。"
)


def _query(url: str, key: str) -> str:
    return parse_qs(urlsplit(url).query).get(key, [""])[0]


def parse_target(channel: str, address: str) -> tuple[str, str] | str:
    """(kind, address) for the stored row, or the reason it is not usable."""
    is_url = address.startswith(("http://", "https://"))
    if channel == "dingtalk":
        if is_url:
            token = _query(address, "access_token")
            return ("webhook", token) if token else "钉钉 Webhook 地址里没有 access_token"
        return "conversation", address
    if channel == "wecom":
        if is_url:
            key = _query(address, "key")
            return ("robot", key) if key else "企业微信 Webhook 地址里没有 key"
        return "appchat", address
    return "console", address


def _where(row: GroupTarget) -> str:
    """The channel and the address in words, secrets cut to their last four characters."""
    channel = CHANNEL_LABELS.get(row.channel, row.channel)
    if row.kind in ("webhook", "robot"):
        return f"{channel} {KIND_LABELS[row.kind]}（…{row.address[-4:]}）"
    if row.kind == "console":
        return f"{channel}「{row.address}」"
    return f"{channel} {KIND_LABELS.get(row.kind, row.kind)} {row.address}"


def _receives(routes: dict[str, str], name: str) -> str:
    """What alerts go to the group ``name``, in words."""
    parts = [AUDIENCE_CONTENT.get(audience, audience) for audience, group in routes.items() if group == name]
    if not parts:
        return (
            f"目前没有提醒发往「{name}」（提醒发往：{'、'.join(sorted(set(routes.values())))}），"
            "可在配置文件 alerts.routes 中调整。"
        )
    return f"这个群会收到：{'；'.join(parts)}。"


async def set_group(turn: Turn, args: str) -> None:
    parts = args.split()
    if len(parts) not in (3, 4):
        await turn.reply(USAGE)
        return
    name, channel_word, address = parts[:3]
    secret = parts[3] if len(parts) == 4 else ""
    channel = CHANNEL_WORDS.get(channel_word.casefold()) or CHANNEL_WORDS.get(channel_word)
    if channel is None:
        await turn.reply(f"不认识的渠道“{channel_word}”（可用：钉钉、企业微信、控制台）。\n{USAGE}")
        return
    if len(name) > 60 or len(address) > 300 or len(secret) > 300:
        await turn.reply("名称最多 60 个字，地址和密钥最多 300 个字符。")
        return
    parsed = parse_target(channel, address)
    if isinstance(parsed, str):
        await turn.reply(f"{parsed}。\n{USAGE}")
        return
    kind, stored = parsed
    if secret and kind != "webhook":
        await turn.reply("只有钉钉自定义机器人需要加签密钥。")
        return
    saved = await turn.session.get(GroupTarget, name)
    before = {"channel": saved.channel, "kind": saved.kind} if saved is not None else None
    row = await group_targets.save_target(
        turn.session, now=turn.now, name=name, channel=channel, kind=kind, address=stored, secret=secret
    )
    turn.audit(
        "group_target.set", "group_target", name, before=before, after={"channel": channel, "kind": kind}
    )
    lines = [
        f"已设置群「{name}」：{_where(row)}。",
        _receives(turn.services.settings.alerts.routes, name),
    ]
    notifier = turn.services.notifier
    if name in notifier.group_channels:
        lines.append(f"注意：配置文件里也定义了「{name}」，以配置文件为准。")
    if channel not in notifier.channels:
        lines.append(f"注意：{CHANNEL_LABELS[channel]}渠道当前没有启用，启用后生效。")
    else:
        await turn.tell_group(name, f"ActionFlow：本群已设为「{name}」，相关提醒会发到这里。")
    await turn.reply("\n".join(lines))


async def list_groups(turn: Turn, args: str) -> None:
    settings = turn.services.settings
    rows = list((await turn.session.execute(select(GroupTarget).order_by(GroupTarget.name))).scalars())
    lines = ["群列表："]
    configured: list[str] = []
    for name in settings.dingtalk.groups:
        configured.append(f"· {name} — 钉钉（配置文件）")
    for name in settings.wecom.groups:
        configured.append(f"· {name} — 企业微信（配置文件）")
    lines += configured
    for row in rows:
        desc = f"，{row.description}" if row.description else ""
        lines.append(f"· {row.name} — {_where(row)}{desc}")
    if not configured and not rows:
        lines.append("（还没有设置）")
    known = set(settings.dingtalk.groups) | set(settings.wecom.groups) | {r.name for r in rows}
    routes = settings.alerts.routes
    if routes:
        lines.append("\n提醒发往：")
        for audience, group in routes.items():
            state = "已设置" if group in known else "未设置，回复「设置群」"
            what = AUDIENCE_CONTENT.get(audience, audience)
            lines.append(f"· {what} → {group}（{state}）")
    await turn.reply("\n".join(lines))


async def delete_group(turn: Turn, args: str) -> None:
    name = args.strip()
    if not name:
        await turn.reply("用法：删除群 <名称>。")
        return
    row = await turn.session.get(GroupTarget, name)
    if row is None:
        await turn.reply(f"没有在聊天中设置过群「{name}」（配置文件里的群请在配置文件中修改）。")
        return
    await group_targets.delete_target(turn.session, row)
    turn.audit("group_target.delete", "group_target", name, before={"channel": row.channel, "kind": row.kind})
    await turn.reply(f"已删除群「{name}」。")
