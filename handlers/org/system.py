"""系统状态 (admins): what `actionflow status` shows, in chat, plus how busy the transcriber is."""

from __future__ import annotations

from datetime import datetime

from core.speech import TranscriberLoad
from domain.health import Health, one_line, snapshot
from handlers.context import Turn
from storage.models import InboxStatus, OutboxStatus

SHOWN = 3  # newest dead messages and failed events listed in chat


def _ago(value: datetime, now: datetime) -> str:
    minutes = max(int((now - value).total_seconds() // 60), 0)
    if minutes < 120:
        return f"{minutes} 分钟前"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时前"
    return f"{minutes // 1440} 天前"


def status_text(health: Health, speech: TranscriberLoad | None, now_label: str) -> str:
    out, ev = health.outbox, health.events
    lines = [f"系统状态（{now_label}）"]
    waiting = f"待发送 {out.get(OutboxStatus.PENDING, 0)} 条"
    if health.oldest_pending is not None:
        waiting += f"（最早的排了 {_ago(health.oldest_pending, health.now)}）"
    lines.append(
        f"消息发送：{waiting}，发送中 {out.get(OutboxStatus.SENDING, 0)} 条，"
        f"已发送 {out.get(OutboxStatus.SENT, 0)} 条，"
        f"发送失败 {out.get(OutboxStatus.DEAD, 0)} 条"
    )
    for m in health.dead:
        lines.append(f"· 失败 #{m.id} → {m.channel} {m.target}：{one_line(m.error, 80) or '无错误信息'}")
    lines.append(
        f"消息处理：已完成 {ev.get(InboxStatus.DONE, 0)} 条，处理出错 {ev.get(InboxStatus.FAILED, 0)} 条"
    )
    if health.oldest_unprocessed is not None:
        lines.append(f"· 有消息自 {_ago(health.oldest_unprocessed, health.now)}起尚未处理完")
    for e in health.failed:
        lines.append(
            f"· 出错 {e.channel}:{e.event_id}（来自 {e.user_key}）：{one_line(e.error, 80) or '无错误信息'}"
        )
    for j in health.failed_jobs:
        lines.append(f"定时任务「{j.job}」{j.period} 失败：{one_line(j.error, 80) or '无错误信息'}")
    if speech is not None:
        lines.append(
            f"语音转写：排队 {speech.queue_depth} 条，正在转写 {speech.in_progress} 条，"
            f"已完成 {speech.notes_done} 条，上一条等待 {speech.last_wait_s:.1f} 秒"
        )
    else:
        lines.append("语音转写：未启用")
    if health.needs_attention:
        lines.append(
            "处理方法：修复原因后，在服务器上运行 actionflow outbox retry --all 重发失败的消息，"
            "actionflow events retry --all 重新处理出错的消息（几分钟内自动处理）。"
        )
    else:
        lines.append("一切正常。")
    return "\n".join(lines)


async def show(turn: Turn, args: str) -> None:
    health = await snapshot(turn.session, turn.now, limit=SHOWN)
    label = turn.now.astimezone(turn.services.tz).strftime("%m-%d %H:%M")
    await turn.reply(status_text(health, turn.services.speech_load, label))
