"""Shaping demand themes on the board in a real browser: merge one theme into another and split one by a
word, as 主题合并 and 主题拆分 do in chat (the theme book's own functions, the same audit rows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, expect
from sqlalchemy import func, select

from bot.testing import BotHarness
from bot.web.board.actions import MAX_SPLIT_WORD
from domain.board import details
from domain.board.scope import scope_for
from storage.models import AuditLog, Demand, DemandCluster, User
from tests.web.board.conftest import PHONE
from tests.web.board.kit import base, board_bot, customer, org, sign_in


async def theme(
    bot: BotHarness, key: str, label: str, texts: list[str], *, kind: str = "kept", merged_into: str = ""
) -> None:
    """A theme in the book with one demand per text (王磊's, on one customer)."""
    cid = await customer(bot, f"客户-{key}", "wanglei", hours_since_update=5)
    rep = await bot.user("wanglei")
    now = bot.clock.now()
    async with bot.session() as session:
        session.add(
            DemandCluster(
                key=key,
                label=label,
                kind=kind,
                created_at=now,
                updated_at=now,
                examples=[],
                keywords=[],
                merged_into=merged_into,
            )
        )
        for text in texts:
            session.add(
                Demand(
                    customer_id=cid,
                    rep_id=rep.id,
                    text=text,
                    cluster_key=key,
                    cluster_label=label,
                    created_at=now,
                )
            )


async def snapshot(bot: BotHarness) -> tuple[dict[str, str], dict[str, str], int]:
    """Where each demand is, each theme's (label, merged_into), and how many theme edits were audited."""
    async with bot.session() as session:
        demands = {d.text: d.cluster_key for d in (await session.execute(select(Demand))).scalars()}
        book = {
            r.key: f"{r.label}|{r.merged_into}"
            for r in (await session.execute(select(DemandCluster))).scalars()
        }
        audited = (
            await session.execute(
                select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "demand_theme")
            )
        ).scalar_one()
    return demands, book, int(audited)


async def audit_rows(bot: BotHarness) -> list[AuditLog]:
    async with bot.session() as session:
        return list(
            (
                await session.execute(
                    select(AuditLog).where(AuditLog.entity_type == "demand_theme").order_by(AuditLog.id)
                )
            ).scalars()
        )


async def test_product_merges_a_discovered_cluster_into_a_theme(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await theme(bot, "price", "价格与采购成本", ["价格太高了", "预算批不下来"], kind="theme")
        await theme(bot, "d-cheap", "便宜 一点", ["能不能再便宜一点", "别家便宜两成"], kind="discovered")
        await theme(bot, "d-tag", "<b>耗材</b>", ["耗材太贵"], kind="discovered")
        await theme(bot, "old", "旧的价格主题", [], merged_into="price")
        page = await sign_in(bot, desktop, "chanpin")
        await page.goto(base(bot) + "/board/themes/d-cheap")
        select_ = page.get_by_label("并入的主题")
        options = await select_.locator("option").all_inner_texts()
        # The other live themes with their counts: not this one, not a merged one; labels escaped.
        assert options == ["请选择主题", "价格与采购成本（2 条）", "<b>耗材</b>（1 条）"]
        await expect(page.get_by_text("合并后不能撤销")).to_have_text(
            "本主题的需求会全部移到所选主题，以后的也归到那里。合并后不能撤销。"
        )
        # Nothing chosen: nothing merged, and the page says what to do.
        await page.get_by_role("button", name="合并").click()
        await expect(page.locator(".flash")).to_have_text(
            "请先选择要并入的主题。如果选的主题刚被合并，请刷新页面再选。"
        )
        assert page.url.endswith("/board/themes/d-cheap")
        select_ = page.get_by_label("并入的主题")
        await select_.select_option(label="价格与采购成本（2 条）")
        await page.get_by_role("button", name="合并").click()
        await expect(page.locator(".flash")).to_have_text(
            "已把「便宜 一点」并入「价格与采购成本」，移过来 2 条需求。以后原属「便宜 一点」的需求也会归到这里。"
        )
        assert page.url.endswith("/board/themes/price")
        await expect(page.locator("h1")).to_contain_text("价格与采购成本 4 条")
        await expect(page.locator(".quote")).to_have_count(4)
        await expect(page.locator(".quote", has_text="能不能再便宜一点")).to_have_count(1)

        demands, book, _ = await snapshot(bot)
        assert demands["能不能再便宜一点"] == demands["别家便宜两成"] == "price"
        assert book["d-cheap"] == "便宜 一点|price" and book["price"] == "价格与采购成本|"
        chanpin = await bot.user("chanpin")
        [row] = await audit_rows(bot)
        assert (row.action, row.entity_id, row.actor_id) == ("theme.merge", "d-cheap", chanpin.id)
        assert row.source_event.startswith("board:theme-") and (row.after or {}).get("moved") == 2
        # The merged cluster is gone from the board: its page answers 404.
        response = await page.request.get(base(bot) + "/board/themes/d-cheap")
        assert response.status == 404


async def test_product_splits_a_theme_by_a_word(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await theme(
            bot, "repair", "设备报修", ["希望设备能远程报修", "坏了能不能远程看一下", "报修电话总打不通"]
        )
        page = await sign_in(bot, desktop, "chanpin")
        await page.goto(base(bot) + "/board/themes/repair")
        await expect(page.get_by_text("提到这个词的需求")).to_have_text(
            "提到这个词的需求会移到新主题，以后提到它的也归到那里。"
        )
        await page.get_by_label("拆分关键词").fill("远程")
        await page.get_by_label("新主题的名称").fill("远程诊断")
        await page.get_by_role("button", name="拆分").click()
        await expect(page.locator(".flash")).to_contain_text(
            "已从「设备报修」拆出「远程诊断」，移过来 2 条需求。以后提到「远程」的需求也会归到这里。"
        )
        await expect(page.locator("h1")).to_contain_text("远程诊断 2 条")
        quotes = await page.locator(".quote").all_inner_texts()
        assert sorted(quotes) == ["“坏了能不能远程看一下”", "“希望设备能远程报修”"]

        demands, book, _ = await snapshot(bot)
        new_key = page.url.rsplit("/", 1)[-1]
        assert book[new_key] == "远程诊断|"
        assert demands == {
            "希望设备能远程报修": new_key,
            "坏了能不能远程看一下": new_key,
            "报修电话总打不通": "repair",
        }
        [row] = await audit_rows(bot)
        assert (row.action, row.entity_id) == ("theme.split", "repair")
        assert row.source_event.startswith("board:theme-") and (row.after or {}).get("moved") == 2
        await page.goto(base(bot) + "/board/themes/repair")
        await expect(page.locator(".quote")).to_have_text(["“报修电话总打不通”"])


async def test_a_refused_split_says_why_and_changes_nothing(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await theme(bot, "price", "价格与采购成本", ["价格太高了"], kind="theme")
        await theme(bot, "repair", "设备报修", ["希望设备能远程报修", "报修电话总打不通"])
        before = await snapshot(bot)
        page = await sign_in(bot, desktop, "chanpin")
        await page.goto(base(bot) + "/board/themes/repair")
        for word, name, told in (
            (
                "远程",
                "价格与采购成本",
                "已有主题叫「价格与采购成本」，不能重名。想把两个并在一起，请用「主题合并」。",
            ),
            ("赠品", "赠品需求", "「设备报修」里没有提到「赠品」的需求，没有拆分。"),
            (
                "远程",
                "交付延迟",
                "「交付延迟」已是业务场景的名称（发「需求主题 交付延迟」会列出该场景的需求），"
                "主题不能与它重名，请换一个名称。",
            ),
            ("", "远程诊断", "请填写用来拆分的关键词。"),
            ("远程", " ", "新名称不能为空。"),
        ):
            await page.get_by_label("拆分关键词").fill(word)
            await page.get_by_label("新主题的名称").fill(name)
            await page.get_by_role("button", name="拆分").click()
            await expect(page.locator(".flash")).to_have_text(told)
            assert page.url.endswith("/board/themes/repair")
            await expect(page.locator(".quote")).to_have_count(2)
        # The field takes as many characters as the server accepts; a longer word sent anyway is refused
        # (not cut to a shorter word that would move other quotes).
        field = page.get_by_label("拆分关键词")
        await field.fill("远" * (MAX_SPLIT_WORD + 1))
        assert await field.input_value() == "远" * MAX_SPLIT_WORD
        await field.evaluate(
            "(el, n) => { el.removeAttribute('maxlength'); el.value = '远'.repeat(n); }", MAX_SPLIT_WORD + 1
        )
        await page.get_by_label("新主题的名称").fill("远程诊断")
        await page.get_by_role("button", name="拆分").click()
        await expect(page.locator(".flash")).to_have_text("关键词太长了，请控制在 20 个字以内。")
        assert await snapshot(bot) == before


async def test_a_rep_cannot_merge_or_split_themes(tmp_path: Path, desktop: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await theme(bot, "price", "价格与采购成本", ["价格太高了"], kind="theme")
        await theme(bot, "repair", "设备报修", ["希望设备能远程报修", "报修电话总打不通"])
        before = await snapshot(bot)
        for handle in ("wanglei", "liqiang"):  # a rep, and a manager: themes are the product department's
            page = await sign_in(bot, desktop, handle)
            merge = await page.request.post(
                base(bot) + "/board/themes/repair/merge", form={"target": "price"}
            )
            split = await page.request.post(
                base(bot) + "/board/themes/repair/split", form={"word": "远程", "name": "远程诊断"}
            )
            assert (merge.status, split.status) == (404, 404), handle
        # The product department without the page's CSRF token is refused too.
        page = await sign_in(bot, desktop, "chanpin")
        merge = await page.request.post(base(bot) + "/board/themes/repair/merge", form={"target": "price"})
        assert merge.status == 403 and "什么都没有改动" in await merge.text()
        assert await snapshot(bot) == before


async def test_the_theme_forms_fit_a_phone(tmp_path: Path, phone: BrowserContext) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await theme(
            bot, "price", "价格与采购成本（含耗材、维保和配件的全部采购费用）", ["价格太高了"], kind="theme"
        )
        await theme(bot, "repair", "设备报修", ["希望设备能远程报修", "报修电话总打不通"])
        page = await sign_in(bot, phone, "chanpin")
        await page.goto(base(bot) + "/board/themes/repair")
        await expect(page.get_by_role("button", name="拆分")).to_be_enabled()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width


async def test_the_merge_list_offers_themes_and_only_the_largest_discovered_clusters(
    tmp_path: Path, desktop: BrowserContext
) -> None:
    async with board_bot(tmp_path) as bot:
        await org(bot)
        await theme(bot, "repair", "设备报修", ["希望设备能远程报修"])
        await theme(bot, "price", "价格与采购成本", [], kind="theme")  # dictionary theme, no demand yet
        await theme(bot, "k-kept", "培训需求", [], kind="kept")
        await theme(bot, "d-empty", "空的聚类", [], kind="discovered")
        cid = await customer(bot, "发现医院", "wanglei", hours_since_update=5)
        rep = await bot.user("wanglei")
        now = bot.clock.now()
        async with bot.session() as session:
            # Scans keep adding discovered clusters: 205 of them, cluster i with i + 1 demands.
            for i in range(205):
                session.add(
                    DemandCluster(
                        key=f"d-{i:03}",
                        label=f"聚类{i:03}",
                        kind="discovered",
                        created_at=now,
                        updated_at=now,
                        examples=[],
                        keywords=[],
                        merged_into="",
                    )
                )
                session.add_all(
                    Demand(
                        customer_id=cid,
                        rep_id=rep.id,
                        text=f"需求{i}-{n}",
                        cluster_key=f"d-{i:03}",
                        cluster_label=f"聚类{i:03}",
                        created_at=now,
                    )
                    for n in range(i + 1)
                )
        page = await sign_in(bot, desktop, "chanpin")
        await page.goto(base(bot) + "/board/themes/repair")
        options = await page.get_by_label("并入的主题").locator("option").all_inner_texts()
        # The 200 largest discovered clusters, most demands first; the 5 smallest and the empty one are
        # left out, the dictionary and kept themes are always there.
        assert options[:3] == ["请选择主题", "聚类204（205 条）", "聚类203（204 条）"]
        assert options[200] == "聚类005（6 条）"
        assert sorted(options[201:]) == ["价格与采购成本（0 条）", "培训需求（0 条）"]
        assert len(options) == 1 + 200 + 2
        assert not any(o.startswith(("聚类004", "空的聚类", "设备报修")) for o in options)


async def test_merge_targets_on_every_backend(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same list on SQLite and PostgreSQL, with the cap lowered to 2 discovered clusters."""
    monkeypatch.setattr(details, "MAX_DISCOVERED_TARGETS", 2)
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        await theme(bot, "repair", "设备报修", ["希望设备能远程报修"])
        await theme(bot, "price", "价格与采购成本", [], kind="theme")
        await theme(bot, "k-train", "培训需求", ["来培训一下"], kind="kept")
        await theme(bot, "d-big", "大聚类", ["甲", "乙", "丙"], kind="discovered")
        await theme(bot, "d-mid", "中聚类", ["丁", "戊"], kind="discovered")
        await theme(bot, "d-small", "小聚类", ["己"], kind="discovered")
        await theme(bot, "d-empty", "空聚类", [], kind="discovered")
        await theme(bot, "old", "旧主题", ["庚"], merged_into="price")
        async with bot.session() as session:
            user = (await session.execute(select(User).where(User.console_id == "chanpin"))).scalar_one()
            scope = await scope_for(session, user)
            targets = await details.merge_targets(session, scope, "repair")
        assert [(t.label, t.total) for t in targets] == [
            ("大聚类", 3),
            ("中聚类", 2),
            ("培训需求", 1),
            ("价格与采购成本", 0),
        ]
