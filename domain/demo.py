"""``actionflow demo``: a small organisation and a dozen hospital customers to try the bot with."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from domain.names import normalize
from storage.models import (
    AuditLog,
    Customer,
    CustomerStatus,
    Deadline,
    DeadlineStatus,
    Demand,
    GroupTarget,
    InboundEvent,
    JobRun,
    KeyPerson,
    KeyPersonStatus,
    OutboxMessage,
    PersonalityTag,
    ProgressUpdate,
    User,
    UserRole,
    UserStatus,
    Visit,
    VisitStatus,
)
from storage.types import UTCDateTime

PEOPLE = [
    # console id, name, roles, supervisor console id, team, title
    ("admin", "周敏", ("admin",), None, "总部", "系统管理员"),
    ("liqiang", "李强", ("manager",), None, "杭州一组", "区域经理"),
    ("wanglei", "王磊", ("rep",), "liqiang", "杭州一组", "销售代表"),
    ("zhangting", "张婷", ("rep",), "liqiang", "杭州一组", "销售代表"),
    ("chenchen", "陈晨", ("product",), None, "产品部", "产品经理"),
    ("zhaofang", "赵芳", ("finance",), None, "财务部", "财务主管"),
]

# name, kind, grade, region, owner, hours since last update, days since last deal (None = never)
CUSTOMERS = [
    ("杭州市第一人民医院", "三甲医院", "A（重点）", "杭州市上城区", "wanglei", 2, 20),
    ("浙江大学医学院附属邵逸夫医院", "三甲医院", "A（重点）", "杭州市上城区", "wanglei", 30, 45),
    ("杭州市中医院", "三甲医院", "B（常规）", "杭州市西湖区", "wanglei", 60, 120),
    ("浙江省人民医院", "三甲医院", "A（重点）", "杭州市拱墅区", "wanglei", 5, 10),
    ("杭州市第三人民医院", "三甲医院", "B（常规）", "杭州市上城区", "wanglei", 100, None),
    ("萧山区第一人民医院", "二级医院", "B（常规）", "杭州市萧山区", "wanglei", 12, 200),
    ("余杭区人民医院", "二级医院", "B（常规）", "杭州市余杭区", "zhangting", 3, 30),
    ("富阳区人民医院", "二级医院", "C（培育）", "杭州市富阳区", "zhangting", 75, 150),
    ("杭州和睦医院", "民营医院", "C（培育）", "杭州市拱墅区", "zhangting", 8, None),
    ("临安区中医院", "二级医院", "C（培育）", "杭州市临安区", "zhangting", 50, 95),
    ("桐庐县人民医院", "二级医院", "B（常规）", "杭州市桐庐县", "zhangting", 20, 60),
    ("建德市第一人民医院", "二级医院", "C（培育）", "杭州市建德市", "zhangting", 200, 400),
]

KEY_PERSONS = [
    # role group, name, title, days since last contact
    ("采购科", "刘建国", "采购科主任", 12),
    ("设备科", "孙丽", "设备科科长", 75),
    ("临床科室", "吴海涛", "骨科主任", 5),
]


async def seed_demo(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Create the demo organisation unless people already exist. Returns counts of what was created."""
    existing = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    if existing:
        return {}
    by_handle: dict[str, User] = {}
    for handle, name, roles, supervisor, team, title in PEOPLE:
        user = User(
            name=name,
            status=UserStatus.ACTIVE,
            team=team,
            region="浙江",
            title=title,
            console_id=handle,
            supervisor_id=by_handle[supervisor].id if supervisor else None,
            created_at=now,
            updated_at=now,
        )
        user.role_rows = [UserRole(role=r) for r in roles]
        session.add(user)
        await session.flush()
        by_handle[handle] = user
    for group, description in (("managers", "经理群"), ("product", "产品部群"), ("finance", "财务群")):
        session.add(
            GroupTarget(
                name=group,
                channel="console",
                kind="console",
                address=group,
                description=description,
                updated_at=now,
            )
        )
    today = now.date()
    for i, (name, kind, grade, region, owner, hours, deal_days) in enumerate(CUSTOMERS):
        customer = Customer(
            name=name,
            normalized_name=normalize(name),
            kind=kind,
            grade=grade,
            region=region,
            owner_id=by_handle[owner].id,
            stage="proposal" if deal_days is None else "repurchase",
            status=CustomerStatus.ACTIVE,
            profile_complete=True,
            preferences="需提供3家同类医院使用案例+院长签字版效益分析报告" if i == 0 else "",
            lead_created_at=now - timedelta(days=200 - i),
            first_order_at=None if deal_days is None else now - timedelta(days=deal_days + 30),
            last_deal_at=None if deal_days is None else now - timedelta(days=deal_days),
            last_update_at=now - timedelta(hours=hours),
            created_at=now - timedelta(days=200 - i),
            updated_at=now - timedelta(hours=hours),
        )
        session.add(customer)
        await session.flush()
        for j, (group, person, title, days) in enumerate(KEY_PERSONS):
            session.add(
                KeyPerson(
                    customer_id=customer.id,
                    role_group=group,
                    name=person if i == 0 else f"{person[0]}{'明华伟芳静强'[(i + j) % 6]}",
                    title=title,
                    last_contact_on=today - timedelta(days=days + i),
                    status=KeyPersonStatus.ACTIVE,
                    created_at=now,
                    updated_at=now,
                )
            )
        session.add(
            ProgressUpdate(
                customer_id=customer.id,
                rep_id=by_handle[owner].id,
                kind="note",
                progress="",
                note="建档",
                valid=True,
                created_at=now - timedelta(hours=hours),
            )
        )
    customers = list((await session.execute(select(Customer).order_by(Customer.id))).scalars())
    await _seed_recent_week(session, now, by_handle, customers)
    first = customers[0]
    session.add(
        PersonalityTag(
            customer_id=first.id,
            tag="数据控型",
            basis="每次都要看同类医院的使用数据和对比报告",
            author_id=by_handle["wanglei"].id,
            created_at=now,
        )
    )
    await session.flush()
    total = await session.scalar(select(func.count()).select_from(Customer))
    return {"users": len(PEOPLE), "hospitals": len(CUSTOMERS), "customers": int(total or 0), "groups": 3}


# The customers' own words for the demo's recent demands (one recurring need, so the weekly theme alert
# has something to say, and two others).
RECENT_DEMANDS = [
    ("wanglei", "合规风险", "器械包放进我们的灭菌柜总是对不上，每次都得返工"),
    ("wanglei", "其他", "灭菌以后包装老是破，供应室不敢用"),
    ("zhangting", "合规风险", "你们的器械盒跟我们的灭菌流程不兼容，能换个材质吗"),
    ("zhangting", "其他", "最好有耐高温的灭菌标识贴，现在的一蒸就掉"),
    ("wanglei", "合规风险", "灭菌兼容性的问题不解决，科室不会再用"),
    ("zhangting", "交付延迟", "上次的货等了快三周，手术都往后排了"),
    ("wanglei", "采购成本高", "今年耗材预算砍了两成，价格得再谈"),
]


async def _seed_recent_week(
    session: AsyncSession, now: datetime, by_handle: dict[str, User], customers: list[Customer]
) -> None:
    """A week of finished visits (their required actions mostly on time), new leads and demands, so
    the health metrics, the morning digest and the demand-theme alert have real figures to show."""
    owned = {h: [c for c in customers if c.owner_id == by_handle[h].id] for h in ("wanglei", "zhangting")}
    for handle, mine in owned.items():
        rep = by_handle[handle]
        for day in range(1, 7):
            customer = mine[day % len(mine)]
            end = now - timedelta(days=day, hours=2)
            visit = Visit(
                customer_id=customer.id,
                rep_id=rep.id,
                status=VisitStatus.DONE,
                source_channel="console",
                source_approval_id=f"DEMO-{handle}-{day}",
                customer_text=customer.name,
                purpose="例行拜访",
                planned_start=end - timedelta(hours=1),
                planned_end=end,
                done_at=end,
                report_started_at=end,
                created_at=end - timedelta(days=1),
                updated_at=end,
            )
            session.add(visit)
            await session.flush()
            late = handle == "zhangting" and day == 3  # one late demand confirmation this week
            for kind, due, done in (
                (
                    "demand_confirmation",
                    end + timedelta(minutes=30),
                    end + timedelta(minutes=50 if late else 20),
                ),
                ("visit_report", end + timedelta(hours=24), end + timedelta(minutes=10)),
            ):
                session.add(
                    Deadline(
                        kind=kind,
                        entity_type="visit",
                        entity_id=visit.id,
                        user_id=rep.id,
                        required=True,
                        due_at=due,
                        status=DeadlineStatus.DONE,
                        done_at=done,
                        on_time=done <= due,
                        created_at=end - timedelta(days=1),
                    )
                )
            session.add(
                ProgressUpdate(
                    customer_id=customer.id,
                    rep_id=rep.id,
                    visit_id=visit.id,
                    kind="visit_report",
                    progress="确定预算范围",
                    note="",
                    valid=True,
                    created_at=end + timedelta(minutes=10),
                )
            )
    for i, (handle, scenario, text) in enumerate(RECENT_DEMANDS):
        customer = owned[handle][i % len(owned[handle])]
        session.add(
            Demand(
                customer_id=customer.id,
                rep_id=by_handle[handle].id,
                text=text,
                scenario=scenario,
                created_at=now - timedelta(days=i % 6, hours=3),
            )
        )
    # Leads: four new this week (one already ordered), five the week before (one ordered).
    for i in range(9):
        this_week = i < 4
        created = now - timedelta(days=(i + 1) if this_week else (8 + i))
        ordered = i in (0, 4)
        owner = by_handle["wanglei" if i % 2 else "zhangting"]
        name = f"{'杭州' if i % 2 else '绍兴'}第{'一二三四五六七八九'[i]}门诊部"
        session.add(
            Customer(
                name=name,
                normalized_name=normalize(name),
                kind="民营医院",
                grade="C（培育）",
                region="浙江",
                owner_id=owner.id,
                stage="contract" if ordered else "lead",
                status=CustomerStatus.ACTIVE,
                profile_complete=False,
                is_valid_lead=True,
                lead_created_at=created,
                first_order_at=created + timedelta(days=1) if ordered else None,
                last_deal_at=created + timedelta(days=1) if ordered else None,
                last_update_at=created,
                created_at=created,
                updated_at=created,
            )
        )


async def last_recorded_time(session: AsyncSession) -> datetime | None:
    """The latest moment the database has a record of (an event, a message, a job run, an audit entry):
    the console's simulated clock resumes from here, so a restart never puts earlier records in the
    future."""
    latest: datetime | None = None
    for column in (
        InboundEvent.received_at,
        OutboxMessage.created_at,
        JobRun.started_at,
        AuditLog.created_at,
    ):
        value = await session.scalar(select(type_coerce(func.max(column), UTCDateTime())))
        if value is not None and (latest is None or value > latest):
            latest = value
    return latest
