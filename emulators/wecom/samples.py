"""Plaintext callback XML as WeCom sends it to a self-built app (before encryption).

Shapes follow the official 消息格式 / 事件格式 pages (path/96467, path/96468, path/90240). Every
builder returns a ``str`` ready for :func:`emulators.wecom.crypto.encrypt`.
"""

from __future__ import annotations

from collections.abc import Sequence


def cdata(value: str) -> str:
    """``value`` as CDATA, safe even when it contains ``]]>``."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _envelope(corp_id: str, sender: str, create_time: int, agent_id: int, body: str) -> str:
    return (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName><FromUserName>{cdata(sender)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>{body}<AgentID>{agent_id}</AgentID></xml>"
    )


def text(corp_id: str, agent_id: int, sender: str, content: str, *, msg_id: int, create_time: int) -> str:
    body = f"<MsgType>{cdata('text')}</MsgType><Content>{cdata(content)}</Content><MsgId>{msg_id}</MsgId>"
    return _envelope(corp_id, sender, create_time, agent_id, body)


def voice(
    corp_id: str,
    agent_id: int,
    sender: str,
    media_id: str,
    *,
    msg_id: int,
    create_time: int,
    fmt: str = "amr",
) -> str:
    body = (
        f"<MsgType>{cdata('voice')}</MsgType><MediaId>{cdata(media_id)}</MediaId>"
        f"<Format>{cdata(fmt)}</Format><MsgId>{msg_id}</MsgId>"
    )
    return _envelope(corp_id, sender, create_time, agent_id, body)


def image(corp_id: str, agent_id: int, sender: str, media_id: str, *, msg_id: int, create_time: int) -> str:
    body = (
        f"<MsgType>{cdata('image')}</MsgType><PicUrl>{cdata('http://wework.qpic.cn/x')}</PicUrl>"
        f"<MediaId>{cdata(media_id)}</MediaId><MsgId>{msg_id}</MsgId>"
    )
    return _envelope(corp_id, sender, create_time, agent_id, body)


def location(
    corp_id: str,
    agent_id: int,
    sender: str,
    *,
    latitude: float,
    longitude: float,
    label: str,
    msg_id: int,
    create_time: int,
) -> str:
    body = (
        f"<MsgType>{cdata('location')}</MsgType><Location_X>{latitude}</Location_X>"
        f"<Location_Y>{longitude}</Location_Y><Scale>15</Scale><Label>{cdata(label)}</Label>"
        f"<MsgId>{msg_id}</MsgId><AppType>{cdata('wxwork')}</AppType>"
    )
    return _envelope(corp_id, sender, create_time, agent_id, body)


def enter_agent(corp_id: str, agent_id: int, sender: str, *, create_time: int) -> str:
    body = (
        f"<MsgType>{cdata('event')}</MsgType><Event>{cdata('enter_agent')}</Event>"
        f"<EventKey>{cdata('')}</EventKey>"
    )
    return _envelope(corp_id, sender, create_time, agent_id, body)


def event(corp_id: str, agent_id: int, sender: str, name: str, *, create_time: int, extra: str = "") -> str:
    """Any other event (``subscribe``, ``change_contact``…): the bot should log and ignore it."""
    body = f"<MsgType>{cdata('event')}</MsgType><Event>{cdata(name)}</Event>{extra}"
    return _envelope(corp_id, sender, create_time, agent_id, body)


def approval_change(
    corp_id: str,
    agent_id: int,
    *,
    sp_no: str,
    template_id: str,
    applicant: str,
    sp_status: int,
    status_change: int,
    create_time: int,
    sp_name: str = "客户拜访申请",
    approvers: Sequence[str] = ("manager1",),
) -> str:
    """``sys_approval_change`` (审批应用). Several ``approvers`` give repeated ``Details`` (a list in
    xmltodict)."""
    details = "".join(
        f"<Details><Approver><UserId>{cdata(a)}</UserId></Approver><Speech>{cdata('')}</Speech>"
        f"<SpStatus>{sp_status}</SpStatus><SpTime>0</SpTime></Details>"
        for a in approvers
    )
    body = (
        f"<MsgType>{cdata('event')}</MsgType><Event>{cdata('sys_approval_change')}</Event>"
        f"<ApprovalInfo><SpNoStr>{cdata(sp_no)}</SpNoStr><SpNo>{sp_no}</SpNo><SpName>{cdata(sp_name)}</SpName>"
        f"<SpStatus>{sp_status}</SpStatus><TemplateId>{cdata(template_id)}</TemplateId>"
        f"<ApplyTime>{create_time - 60}</ApplyTime>"
        f"<Applyer><UserId>{cdata(applicant)}</UserId><Party>{cdata('1')}</Party></Applyer>"
        f"<SpRecord><SpStatus>{sp_status}</SpStatus><ApproverAttr>1</ApproverAttr>{details}</SpRecord>"
        f"<Notifyer><UserId>{cdata('notify1')}</UserId></Notifyer>"
        f"<StatuChangeEvent>{status_change}</StatuChangeEvent></ApprovalInfo>"
    )
    # Approval events come from "sys" with the CorpID as the addressee.
    return _envelope(corp_id, "sys", create_time, agent_id, body)


def card_click(
    corp_id: str,
    agent_id: int,
    sender: str,
    *,
    task_id: str,
    event_key: str,
    response_code: str,
    card_type: str,
    create_time: int,
    selected: Sequence[tuple[str, Sequence[str]]] = (),
    spelling: str = "OptionIds",
) -> str:
    """``template_card_event``. ``selected`` is ``[(question_key, [option ids])]`` (vote/multiple cards).

    ``spelling`` ``"OpitonIds"`` reproduces the misspelt variant some SDK samples carry.
    """
    inner = spelling[:-1]  # OptionIds → OptionId, OpitonIds → OpitonId
    items = "".join(
        f"<SelectedItem><QuestionKey>{cdata(q)}</QuestionKey><{spelling}>"
        + "".join(f"<{inner}>{cdata(o)}</{inner}>" for o in options)
        + f"</{spelling}></SelectedItem>"
        for q, options in selected
    )
    body = (
        f"<MsgType>{cdata('event')}</MsgType><Event>{cdata('template_card_event')}</Event>"
        f"<EventKey>{cdata(event_key)}</EventKey><TaskId>{cdata(task_id)}</TaskId>"
        f"<CardType>{cdata(card_type)}</CardType><ResponseCode>{cdata(response_code)}</ResponseCode>"
        + (f"<SelectedItems>{items}</SelectedItems>" if selected else "")
    )
    return _envelope(corp_id, sender, create_time, agent_id, body)


def envelope(corp_id: str, agent_id: int, encrypt: str) -> str:
    """The POST body around ``msg_encrypt``."""
    return (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName><AgentID>{cdata(str(agent_id))}</AgentID>"
        f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
    )
