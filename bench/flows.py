"""Sales flows: twin-name lookups, approval → brief on a filled database, import validation, PDF, photo stamp.

    python -m bench.flows [--customers 2000] [--updates 100000]

Prints tables; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import insert, select

from bot.testing import BotHarness
from domain.customer_import import Options, OwnerDirectory, plan
from domain.fonts import find_cjk_font
from domain.names import normalize, similarity
from domain.photos import stamp
from domain.trial_report import TrialReport, render
from domain.twins import NameIndex
from storage.models import (
    Customer,
    CustomerStatus,
    Demand,
    DemandStatus,
    KeyPerson,
    KeyPersonStatus,
    ProgressUpdate,
    User,
    UserRole,
    UserStatus,
)

CITIES = [
    "杭州",
    "宁波",
    "温州",
    "嘉兴",
    "湖州",
    "绍兴",
    "金华",
    "衢州",
    "舟山",
    "台州",
    "丽水",
    "上海",
    "苏州",
    "无锡",
]
DISTRICTS = [
    "上城区",
    "拱墅区",
    "西湖区",
    "滨江区",
    "萧山区",
    "余杭区",
    "临平区",
    "钱塘区",
    "富阳区",
    "临安区",
    "鄞州区",
    "海曙区",
]
KINDS = [
    "人民医院",
    "中医院",
    "妇幼保健院",
    "中心医院",
    "骨科医院",
    "口腔医院",
    "社区卫生服务中心",
    "康复医院",
]
ORDINALS = "一二三四五六七八九"


BRANDS = "和睦仁爱康宁博爱济民同德广济普济华夏新华明州瑞康安康天和永康慈航恩泽惠民树兰邵逸"


def names(n: int, seed: int = 7) -> list[str]:
    """Realistic-looking, distinct hospital names (public by city/district/ordinal, private by brand)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        city, district, kind = rng.choice(CITIES), rng.choice(DISTRICTS), rng.choice(KINDS)
        shape = rng.random()
        if shape < 0.35:
            name = f"{city}市第{rng.choice(ORDINALS)}{kind}"
        elif shape < 0.7:
            name = f"{city}市{district}{kind}"
        else:
            brand = "".join(rng.sample(BRANDS, 2)) if shape < 0.95 else rng.choice(BRANDS) * 2
            name = f"{city}{brand}{kind}"
        out.add(name)
    return sorted(out)


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def twin_lookup(sizes: tuple[int, ...], queries: int = 30) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    rng = random.Random(1)
    for size in sizes:
        pool = names(size)
        t0 = time.perf_counter()
        index = NameIndex(enumerate(pool))
        build = time.perf_counter() - t0
        asked = [rng.choice(pool).replace("市", "") for _ in range(queries)]  # typed without 市
        indexed, naive = [], []
        for q in asked:
            t = time.perf_counter()
            index.similar(q, 80)
            indexed.append(time.perf_counter() - t)
        for q in asked[: max(3, queries // 10)]:
            t = time.perf_counter()
            [n for n in pool if similarity(q, n) >= 80]
            naive.append(time.perf_counter() - t)
        ratio = statistics.median(naive) / statistics.median(indexed)
        rows.append((f"{size:,}", f"{build * 1000:.0f}", ms(indexed), ms(naive), f"{ratio:.1f}×"))
    return rows


def import_rows(existing: list[str], n: int, twins: int, seed: int = 13) -> list[str]:
    """``n`` names for an import: new private hospitals, and ``twins`` variants of existing names as
    reps type them (杭州三院 for 杭州市第三人民医院, without 市)."""
    rng = random.Random(seed)
    taken = set(existing)
    out: list[str] = []
    ordinal = [e for e in existing if "市第" in e and e.endswith("人民医院")]
    while len(out) < twins:
        name = rng.choice(ordinal or existing)
        variant = name.replace("市第", "").replace("人民医院", "院") if ordinal else name.replace("市", "")
        if variant not in taken:
            taken.add(variant)
            out.append(variant)
    letters = (
        "安宝长诚春达德东方丰福光广海和恒宏华嘉健金锦康乐立利联民"
        "明宁平庆仁荣瑞盛泰天同万文祥新信欣怡益永裕元泽正志中"
    )
    kinds = ["医院", "门诊部", "诊所", "医疗中心"]
    while len(out) < n:
        name = f"{rng.choice(CITIES)}{''.join(rng.sample(letters, 3))}{rng.choice(kinds)}"
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def import_plan(existing_n: int, rows_n: int, twins: int) -> tuple[float, int, int, int]:
    existing = names(existing_n, seed=11)
    index = NameIndex(enumerate(existing))
    owner = User(id=1, name="王磊", status=UserStatus.ACTIVE, console_id="wanglei")
    header = ["客户名称", "负责人", "关键人1角色组", "关键人1姓名", "关键人1最近沟通日期"]
    new = import_rows(existing, rows_n, twins)
    table = [(1, header)] + [
        (i + 2, [n, "王磊", "采购科", "刘建国", "2026-11-01"]) for i, n in enumerate(new)
    ]
    t0 = time.perf_counter()
    result = plan(
        table,
        directory=OwnerDirectory([owner]),
        default_owner=None,
        existing=index,
        options=Options(),
        today=date(2026, 11, 23),
        similar_threshold=80,
    )
    flagged = {p.line for p in result.problems}
    caught = sum(1 for line in flagged if line - 2 < twins)
    return time.perf_counter() - t0, len(result.rows), len(flagged), caught


async def fill(bot: BotHarness, customers: int, updates: int) -> list[str]:
    now = bot.clock.now()
    pool = names(customers, seed=3)
    async with bot.session() as s:
        reps = []
        for i in range(20):
            user = User(
                name=f"销售{i}",
                console_id=f"rep{i}",
                status=UserStatus.ACTIVE,
                team="一组",
                created_at=now,
                updated_at=now,
            )
            user.role_rows = [UserRole(role="rep")]
            s.add(user)
            reps.append(user)
        await s.flush()
        rep_ids = [u.id for u in reps]
        await s.execute(
            insert(Customer),
            [
                {
                    "name": n,
                    "normalized_name": normalize(n),
                    "kind": "三甲医院",
                    "grade": "A（重点）",
                    "region": "浙江",
                    "owner_id": rep_ids[i % 20],
                    "shared": False,
                    "stage": "proposal",
                    "status": CustomerStatus.ACTIVE,
                    "profile_complete": True,
                    "preferences": "",
                    "is_valid_lead": True,
                    "last_update_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, n in enumerate(pool)
            ],
        )
        ids = list((await s.execute(select(Customer.id).order_by(Customer.id))).scalars())
        await s.execute(
            insert(KeyPerson),
            [
                {
                    "customer_id": cid,
                    "role_group": g,
                    "name": f"联系人{j}",
                    "title": "主任",
                    "status": KeyPersonStatus.ACTIVE,
                    "last_contact_on": date(2026, 9, 1) + timedelta(days=j * 30),
                    "created_at": now,
                    "updated_at": now,
                }
                for cid in ids
                for j, g in enumerate(("采购科", "设备科", "临床科室"))
            ],
        )
        rng = random.Random(5)
        for start in range(0, updates, 20000):
            await s.execute(
                insert(ProgressUpdate),
                [
                    {
                        "customer_id": (cid := rng.choice(ids)),
                        "rep_id": rep_ids[(cid - ids[0]) % 20],
                        "kind": "visit_report",
                        "progress": "确定预算范围",
                        "note": "",
                        "valid": True,
                        "created_at": now - timedelta(minutes=rng.randint(1, 200000)),
                    }
                    for _ in range(min(20000, updates - start))
                ],
            )
        await s.execute(
            insert(Demand),
            [
                {
                    "customer_id": rng.choice(ids),
                    "rep_id": rep_ids[0],
                    "text": "灭菌盒尺寸不匹配",
                    "scenario": "合规风险",
                    "status": DemandStatus.OPEN,
                    "cluster_key": "",
                    "cluster_label": "",
                    "created_at": now,
                    "tried_solutions": "",
                    "failure_reason": "",
                }
                for _ in range(updates // 10)
            ],
        )
    return pool


async def approvals(customers: int, updates: int, n: int = 100) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="af-bench-flows-"))
    async with BotHarness(tmp) as bot:
        t0 = time.perf_counter()
        pool = await fill(bot, customers, updates)
        filled = time.perf_counter() - t0
        # rep0 owns customers 0, 20, 40, …
        own = pool[::20]
        times, names_times = [], []
        for i in range(n):
            name = own[i % len(own)]
            start = time.perf_counter()
            replies = await bot.approval(
                "rep0",
                f"B{i}",
                "submitted",
                {"customer": name, "start": "2026-11-30T14:00:00+08:00", "end": "2026-11-30T15:00:00+08:00"},
            )
            times.append(time.perf_counter() - start)
            assert replies and replies[-1].startswith("【拜访简报】"), replies
        await bot.send("rep0", "新建客户")
        for i in range(30):
            start = time.perf_counter()
            await bot.send("rep0", f"测试新医院{i}号")
            names_times.append(time.perf_counter() - start)
            await bot.send("rep0", "返回")
    return {
        "fill_s": filled,
        "brief_p50": statistics.median(times) * 1000,
        "brief_p99": pct(times, 99) * 1000,
        "name_p50": statistics.median(names_times) * 1000,
    }


def documents() -> dict[str, float]:
    font = find_cjk_font(None)
    report = TrialReport(
        1,
        "杭州市第一人民医院",
        "杭州市上城区",
        "王磊",
        "李强",
        "KL-2024-001",
        ["器械适配度", "灭菌兼容性"],
        "骨科主任反馈：器械包尺寸偏大，与现有灭菌盒不匹配。" * 6,
        datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    pdf_times = []
    for _ in range(10):
        t = time.perf_counter()
        pdf = render(report, font).pdf
        pdf_times.append(time.perf_counter() - t)
    buf = io.BytesIO()
    Image.effect_noise((4000, 3000), 40).convert("RGB").save(buf, format="JPEG", quality=90)
    photo = buf.getvalue()
    stamp_times = []
    for _ in range(5):
        t = time.perf_counter()
        stamped = stamp(
            photo,
            [
                "客户 杭州市第一人民医院",
                "拍摄时间 2026-11-23 10:42",
                "位置 30.25850, 120.16500",
                "拜访人 王磊",
            ],
            font,
        )
        stamp_times.append(time.perf_counter() - t)
    return {
        "pdf_ms": statistics.median(pdf_times) * 1000,
        "pdf_kb": len(pdf) / 1024,
        "photo_kb": len(photo) / 1024,
        "stamp_ms": statistics.median(stamp_times) * 1000,
        "stamped_kb": len(stamped) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=100000)
    parser.add_argument("--twin-sizes", default="1000,10000,100000", help="customer counts for the lookup")
    parser.add_argument("--import-customers", type=int, default=10000)
    parser.add_argument("--import-rows", type=int, default=1000, help="one in 20 is a typed variant")
    args = parser.parse_args()
    rows, variants = args.import_rows, args.import_rows // 20

    print("### Twin-name lookup (new customer name, import rows)\n")
    print("| customers | index build ms | lookup p50 ms | naive scan p50 ms | speed-up |")
    print("|---|---|---|---|---|")
    for row in twin_lookup(tuple(int(n) for n in args.twin_sizes.split(","))):
        print("| " + " | ".join(row) + " |")
    took, good, bad, caught = import_plan(args.import_customers, rows, variants)
    print(
        f"\nImport validation: {rows:,} rows ({variants} of them typed variants of existing names) against "
        f"{args.import_customers:,} existing customers in {took:.2f} s: {good} good, {bad} flagged as "
        f"possible twins, {caught} of the {variants} variants caught\n"
    )

    result = asyncio.run(approvals(args.customers, args.updates))
    print(
        f"### Approval → brief on SQLite ({args.customers:,} customers, {args.updates:,} progress updates, "
        f"{args.updates // 10:,} demands; filled in {result['fill_s']:.1f} s)\n"
    )
    print("| measure | value |\n|---|---|")
    print(
        "| approval event → visit + brief delivered, p50 / p99 | "
        f"{result['brief_p50']:.1f} / {result['brief_p99']:.1f} ms |"
    )
    print(f"| new-customer name step (twin check over all customers), p50 | {result['name_p50']:.1f} ms |")

    docs = documents()
    print("\n### Documents\n\n| measure | value |\n|---|---|")
    print(
        "| trial-feedback PDF render (CJK subset embedded), p50 | "
        f"{docs['pdf_ms']:.0f} ms, {docs['pdf_kb']:.0f} KiB |"
    )
    print(
        f"| photo stamp, 4000×3000 JPEG ({docs['photo_kb']:.0f} KiB) → 1600 px copy, p50 | "
        f"{docs['stamp_ms']:.0f} ms, {docs['stamped_kb']:.0f} KiB |"
    )


if __name__ == "__main__":
    main()
