"""Aliases and resolution over a real database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from domain.customers import pick, search
from domain.identity.store import AliasRefused, add_alias, aliases_of, remember_pick, resolve
from domain.names import normalize
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, CustomerAlias, User, UserRole

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _customer(name: str, owner: User, region: str = "") -> Customer:
    return Customer(
        name=name,
        normalized_name=normalize(name),
        region=region,
        owner_id=owner.id,
        created_at=NOW,
        updated_at=NOW,
    )


async def test_aliases_resolution_and_refusals(db_url: str) -> None:
    db = Database(db_url)
    try:
        await upgrade(db)
        async with db.transaction() as s:
            rep = User(
                name="王磊",
                console_id="wanglei",
                region="浙江",
                created_at=NOW,
                updated_at=NOW,
                role_rows=[UserRole(role="rep")],
            )
            s.add(rep)
            await s.flush()
            fuyang = _customer("富阳区人民医院", rep, "杭州市富阳区")
            first = _customer("杭州市第一人民医院", rep)
            third = _customer("杭州市第三人民医院", rep)
            lhl = _customer("宁波李惠利医院", rep)
            s.add_all([fuyang, first, third, lhl])
            await s.flush()
            assert (await resolve(s, rep, "富阳")).customer is fuyang
            assert (await resolve(s, rep, "杭州二院")).outcome == "none"
            typo = await search(s, rep, "李慧利")
            assert (
                pick(typo) is None and [m.customer.name for m in typo] == ["宁波李惠利医院"] and typo[0].learn
            )
            assert await remember_pick(s, typed="李慧利", customer=lhl, user=rep, now=NOW)
            assert (await resolve(s, rep, "李慧利")).customer is lhl
            assert await add_alias(s, customer=first, alias="湖滨医院", now=NOW, user=rep) is not None
            assert await add_alias(s, customer=first, alias="湖滨医院", now=NOW, user=rep) is None
            with pytest.raises(AliasRefused, match="客户「杭州市第一人民医院」"):
                await add_alias(s, customer=third, alias="湖滨医院", now=NOW, user=rep)
            with pytest.raises(AliasRefused, match="客户「杭州市第一人民医院」"):
                await add_alias(s, customer=third, alias="杭州一院", now=NOW, user=rep)
            with pytest.raises(AliasRefused, match="太短"):
                await add_alias(s, customer=third, alias="三", now=NOW, user=rep)
            assert await aliases_of(s, first.id) == ["湖滨医院"]
            assert (await resolve(s, rep, "湖滨医院")).customer is first
        # the database itself keeps one alias to one customer
        with pytest.raises(IntegrityError):
            async with db.transaction() as s:
                s.add(
                    CustomerAlias(
                        customer_id=third.id, alias="湖滨 医院", normalized="湖滨医院", created_at=NOW
                    )
                )
    finally:
        await db.dispose()


async def test_a_rolled_back_customer_does_not_haunt_the_index(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ghost') / 'bot.db'}")
    try:
        await upgrade(db)
        async with db.transaction() as s:
            rep = User(name="王磊", console_id="wanglei", created_at=NOW, updated_at=NOW, role_rows=[])
            s.add(rep)
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                s.add(_customer("杭州和睦医院", rep))
                await s.flush()
                assert (await resolve(s, None, "和睦")).customer is not None
                raise RuntimeError("rolled back")
        async with db.transaction() as s:
            s.add(_customer("杭州市第三人民医院", rep))  # SQLite gives it the rolled-back id
            await s.flush()
            assert (await resolve(s, None, "和睦")).outcome == "none"
            found = await resolve(s, None, "杭州三院")
            assert found.customer is not None and found.customer.name == "杭州市第三人民医院"
    finally:
        await db.dispose()


async def test_an_alias_removed_elsewhere_stops_opening(tmp_path_factory: pytest.TempPathFactory) -> None:
    from sqlalchemy import delete

    db = Database(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('alias') / 'bot.db'}")
    try:
        await upgrade(db)
        async with db.transaction() as s:
            rep = User(name="王磊", console_id="wanglei", created_at=NOW, updated_at=NOW, role_rows=[])
            s.add(rep)
            first = _customer("杭州市第一人民医院", rep)
            s.add(first)
            await s.flush()
            await add_alias(s, customer=first, alias="湖滨医院", now=NOW, user=rep)
            assert (await resolve(s, None, "湖滨医院")).customer is first  # cached
        async with db.transaction() as s:  # another process deletes it
            await s.execute(delete(CustomerAlias))
        async with db.transaction() as s:
            assert (await resolve(s, None, "湖滨医院")).outcome == "none"
    finally:
        await db.dispose()
