"""The board's queries and its daily snapshot job, on SQLite and PostgreSQL (no browser)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.testing import BotHarness
from domain.board import customers as customer_list
from domain.board import links
from domain.board.customers import CustomerFilters
from domain.board.scope import Scope, scope_for
from storage.models import Deadline, MetricSnapshot, User
from tests.web.board.kit import customer, org


async def _scope(bot: BotHarness, handle: str) -> Scope:
    async with bot.session() as session:
        user = (await session.execute(select(User).where(User.console_id == handle))).scalar_one()
        return await scope_for(session, user)


async def test_filters_order_and_keyset_stream(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        await customer(bot, "甲医院", "wanglei", hours_since_update=60)
        await customer(bot, "乙医院", "zhangting", hours_since_update=10, contacts=1)
        await customer(bot, "丙医院", "wanglei", hours_since_update=120, stage="contract")
        await customer(bot, "丁医院", "wanglei", hours_since_update=None, contacts=0)  # never: since creation
        await customer(bot, "戊医院", "sunyue", hours_since_update=300)
        scope = await _scope(bot, "liqiang")
        now, alerts = bot.clock.now(), bot.settings.alerts
        async with bot.session() as session:
            every = await customer_list.page(session, scope, CustomerFilters(), now, alerts)
            stale = await customer_list.page(session, scope, CustomerFilters(stale=True), now, alerts)
            thin = await customer_list.page(session, scope, CustomerFilters(incomplete=True), now, alerts)
            contract = await customer_list.page(
                session, scope, CustomerFilters(stage="contract"), now, alerts
            )
            streamed = [
                c.name
                async for c in customer_list.stream(session, scope, CustomerFilters(), now, alerts, batch=2)
            ]
            total = await customer_list.count(session, scope, CustomerFilters(stale=True), now, alerts)
        assert [c.name for c in every] == ["丁医院", "丙医院", "甲医院", "乙医院"]  # most stale first
        assert [c.name for c in stale] == ["丁医院", "丙医院", "甲医院"] and total == 3
        assert all(c.stale for c in stale)
        assert [c.name for c in thin] == ["丁医院", "乙医院"]
        assert [c.name for c in contract] == ["丙医院"]
        assert streamed == [c.name for c in every]


async def test_a_link_works_once_and_not_after_it_expires(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        me = await bot.user("wanglei")
        now = bot.clock.now()
        async with bot.session() as session:
            token = await links.issue(session, now=now, user_id=me.id, ttl=timedelta(minutes=10))
            late = await links.issue(session, now=now, user_id=me.id, ttl=timedelta(minutes=10))
        async with bot.session() as session:
            first = await links.redeem(session, now=now, token=token)
        async with bot.session() as session:
            second = await links.redeem(session, now=now, token=token)
            expired = await links.redeem(session, now=now + timedelta(minutes=10), token=late)
        assert first.user is not None and first.user.id == me.id
        assert (second.user, second.problem) == (None, "used")
        assert (expired.user, expired.problem) == (None, "expired")


async def test_the_nightly_snapshot_stores_each_team_and_rep(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        await customer(bot, "甲医院", "wanglei", hours_since_update=2)
        await customer(bot, "乙医院", "sunyue", hours_since_update=30)
        wanglei = await bot.user("wanglei")
        now = bot.clock.now()
        async with bot.session() as session:
            for done, on_time in ((True, True), (True, False)):
                session.add(
                    Deadline(
                        kind="visit_report",
                        entity_type="visit",
                        entity_id=1 if on_time else 2,
                        user_id=wanglei.id,
                        due_at=now - timedelta(hours=1),
                        status="done" if done else "pending",
                        on_time=on_time,
                        required=True,
                        created_at=now - timedelta(days=1),
                    )
                )
        await bot.advance(timedelta(hours=15, minutes=10))  # Tuesday 00:10 in Asia/Shanghai
        async with bot.session() as session:
            rows = {
                (s.scope, s.key): s
                for s in (
                    await session.execute(
                        select(MetricSnapshot).where(MetricSnapshot.day == date(2026, 11, 23))
                    )
                ).scalars()
            }
        assert ("all", "") in rows and ("team", "一组") in rows and ("team", "二组") in rows
        mine = rows[("rep", str(wanglei.id))]
        assert (mine.compliance, mine.compliance_due) == (0.5, 2)
        assert rows[("team", "二组")].compliance is None
        assert rows[("team", "一组")].valid_updates == 1  # 甲医院's update two hours before the start
        assert rows[("rep", str(wanglei.id))].freshness_hours is not None


async def test_alerts_and_the_morning_digest_link_to_the_board(tmp_path: Path) -> None:
    from tests.web.board.kit import base, board_bot

    async with board_bot(tmp_path) as bot:
        await org(bot)
        await customer(bot, "甲医院", "wanglei", hours_since_update=60)
        await bot.advance(timedelta(hours=24))
        to_manager = "\n".join(bot.texts_to("liqiang"))
        assert f"在看板中查看：{base(bot)}/board/customers?stale=1" in to_manager
        assert f"在看板中查看：{base(bot)}/board/" in to_manager


async def test_latest_update_per_rep_agrees_with_the_metrics_definition(tmp_path: Path, db_url: str) -> None:
    from domain import metrics
    from domain.board import overview
    from storage.models import ProgressUpdate

    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        cid = await customer(bot, "甲医院", "wanglei", hours_since_update=30)
        wanglei, zhangting = await bot.user("wanglei"), await bot.user("zhangting")
        now = bot.clock.now()
        async with bot.session() as session:
            # A newer but invalid update, and one in the future, do not count.
            session.add(
                ProgressUpdate(customer_id=cid, rep_id=wanglei.id, kind="note", valid=False, created_at=now)
            )
            session.add(
                ProgressUpdate(
                    customer_id=cid, rep_id=wanglei.id, kind="note", created_at=now + timedelta(hours=1)
                )
            )
        ids = [wanglei.id, zhangting.id]
        async with bot.session() as session:
            ours = await overview.latest_update_by_rep(session, ids, now)
            theirs = await metrics.latest_update_by_rep(session, ids, now)
        assert ours == theirs == {wanglei.id: now - timedelta(hours=30)}


async def test_hostile_ids_and_filters_get_clear_answers_on_both_databases(
    tmp_path: Path, db_url: str
) -> None:
    import aiohttp

    from tests.web.board.kit import base, board_bot, link_for

    async with board_bot(tmp_path, db_url=db_url) as bot:
        await org(bot)
        await customer(bot, "甲医院", "wanglei", hours_since_update=60)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(await link_for(bot, "liqiang")) as resp:
                assert resp.status == 200
            for path, status in (
                ("/board/customers/99999999999999999999", 404),
                ("/board/customers/2147483648", 404),
                ("/board/photos/-1", 404),
                ("/board/quotes/99999999999/audio", 404),
                ("/board/themes/%00%27%3B", 404),
                ("/board/customers?owner=99999999999999999999&page=99999999999999999999&stage=x'", 200),
                ("/board/customers?region=%27%20OR%201%3D1--&q=%25%25", 200),
                ("/board/rebates.xlsx?period=2026Q9", 404),
            ):
                async with http.get(base(bot) + path) as resp:
                    assert resp.status == status, (path, resp.status, (await resp.text())[:500])
            async with http.post(base(bot) + "/board/reviews/1", data={"action": "approve"}) as resp:
                assert resp.status == 403


async def test_theme_counts_per_week(tmp_path: Path, db_url: str) -> None:
    from domain.board import details
    from storage.models import Demand

    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        rep = await bot.user("wanglei")
        now = bot.clock.now()
        async with bot.session() as session:
            for key, label, days in (
                ("remote", "远程售后", 1),
                ("remote", "远程售后", 2),
                ("remote", "远程售后", 9),
                ("price", "价格", 20),
                ("price", "价格", 90),  # older than 8 weeks: in the total only
            ):
                session.add(
                    Demand(
                        rep_id=rep.id,
                        text="t",
                        cluster_key=key,
                        cluster_label=label,
                        created_at=now - timedelta(days=days),
                    )
                )
        scope, manager = await _scope(bot, "admin"), await _scope(bot, "liqiang")
        async with bot.session() as session:
            themes = {t.key: t for t in await details.themes(session, scope, now, weeks=8)}
            nothing = await details.themes(session, manager, now)
        assert themes["remote"].weekly == [0, 0, 0, 0, 0, 0, 1, 2] and themes["remote"].total == 3
        assert themes["price"].weekly == [0, 0, 0, 0, 0, 1, 0, 0] and themes["price"].total == 2
        assert themes["remote"].label == "远程售后"
        assert nothing == []  # a manager without the product role sees no themes
