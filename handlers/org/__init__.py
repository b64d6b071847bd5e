"""Organisation in chat (admins only): approve unknown senders, manage people, name alert groups."""

from __future__ import annotations

from handlers.commands import Command
from handlers.org import approve, groups, people_admin, person_field, system
from handlers.registry import Registry

ADMIN = frozenset({"admin"})
GROUP = "管理"


def setup(registry: Registry) -> None:
    person_field.setup(registry)
    registry.completer("org_approve", approve.complete_approval, answers=approve.ApprovalAnswers)
    registry.completer("org_reassign", people_admin.complete_reassign, answers=people_admin.ReassignAnswers)
    for names, fn, help_ in (
        (("批准",), approve.approve, "批准新用户：批准 <名称> [角色] [主管]"),
        (("拒绝",), approve.reject, "拒绝新用户：拒绝 <名称>"),
        (("待审核",), approve.list_pending, "查看等待开通的新用户"),
        (("人员列表",), people_admin.list_people, "按团队列出人员：人员列表 [团队|全部]"),
        (("设置角色",), people_admin.set_role, "设置角色 <姓名> <角色…>"),
        (("设置主管",), people_admin.set_boss, "设置主管 <姓名> <主管姓名|无>"),
        (("设置团队",), people_admin.set_team, "设置团队 <姓名> <团队>"),
        (("停用",), people_admin.deactivate, "停用 <姓名>（名下客户可转给其他销售）"),
        (("启用",), people_admin.reactivate, "重新启用 <姓名>"),
        (("转移客户",), people_admin.move_customers, "转移客户 <原负责人> <新负责人>"),
        (("设置群",), groups.set_group, "设置提醒群：设置群 <名称> <渠道> <地址>"),
        (("群列表",), groups.list_groups, "查看提醒群和提醒路由"),
        (("删除群",), groups.delete_group, "删除在聊天中设置的群：删除群 <名称>"),
        (("系统状态",), system.show, "发送失败的消息、处理出错的消息、定时任务和语音转写的状态"),
    ):
        # 批准 also works inside a form: the one-line form settles an open approval form at once.
        in_form = names == ("批准",)
        registry.command(Command(names, fn, help_, roles=ADMIN, group=GROUP, in_form=in_form))
