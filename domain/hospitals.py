"""End hospitals on orders, as institutions: one key per hospital however its name is written.

A name the resolver opens as a customer is that customer (``c:<id>``); otherwise a name that an
earlier order's name opens is that earlier hospital; otherwise it is a hospital of its own
(``t:<name>``). A name that only may be a known one (the resolver would offer or ask) is
``doubtful``: rebates do not credit it and list it for finance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity import store
from domain.identity.parse import flat
from domain.identity.resolver import Resolver
from storage.models import Customer


@dataclass(frozen=True)
class HospitalKey:
    key: str
    text: str
    doubtful: bool = False


@dataclass
class HospitalKeys:
    customers: Resolver
    dealt_before: set[str] = field(default_factory=set)  # customers with a deal before the period
    _texts: Resolver = field(default_factory=Resolver)
    _text_keys: dict[int, str] = field(default_factory=dict)
    _memo: dict[str, HospitalKey] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession, *, before: date) -> HospitalKeys:
        resolver = await store.index(session, fresh=True)
        rows = await session.execute(select(Customer.id, Customer.first_order_at, Customer.last_deal_at))
        dealt = {
            f"c:{cid}"
            for cid, first, last in rows
            if any(d is not None and d.date() < before for d in (first, last))
        }
        return cls(resolver, dealt)

    def key(self, text: str) -> HospitalKey:
        name = text.strip()
        if name in self._memo:
            return self._memo[name]
        result = self._key(name)
        self._memo[name] = result
        return result

    def _key(self, name: str) -> HospitalKey:
        as_customer = self.customers.resolve(name)
        if as_customer.outcome == "exact" and as_customer.best is not None:
            return HospitalKey(f"c:{as_customer.best.id}", name)
        as_text = self._texts.resolve(name) if len(self._texts) else None
        if as_text is not None and as_text.outcome == "exact" and as_text.best is not None:
            return HospitalKey(self._text_keys[as_text.best.id], name)
        own = f"t:{flat(name)}"
        doubtful = as_customer.outcome in ("pick", "ask") or (
            as_text is not None and as_text.outcome in ("pick", "ask")
        )
        if not doubtful:
            entry_id = len(self._text_keys) + 1
            self._texts.extend([(entry_id, name, "")])
            self._text_keys[entry_id] = own
        return HospitalKey(own, name, doubtful)
