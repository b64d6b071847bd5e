"""Product codes as reps give them: typed, or the text a scan produced (URL, GS1/UDI string, JSON)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

GS1_SEPARATOR = "\x1d"
_QUERY_KEYS = ("code", "product_code", "productcode", "pn", "sku", "udi", "di", "gtin", "id")
_LABEL = re.compile(r"^(产品编号|产品编码|产品代码|编号|型号|货号|code|sku)\s*[:：=]?\s*", re.IGNORECASE)
# GS1 application identifiers we read; fixed-length ones have a length, the rest end at FNC1/next "(".
_GS1_FIXED = {"01": 14, "11": 6, "17": 6}
_GS1_VARIABLE = {"10", "21"}


@dataclass(frozen=True)
class ProductCode:
    code: str
    source: str  # typed | url | gs1 | json
    lot: str = ""
    expiry: str = ""

    @property
    def note(self) -> str:
        parts = []
        if self.lot:
            parts.append(f"批号 {self.lot}")
        if self.expiry:
            parts.append(f"有效期 {self.expiry}")
        return "，".join(parts)


def _gs1_bracketed(text: str) -> dict[str, str]:
    return {ai: value for ai, value in re.findall(r"\((\d{2,4})\)([^(]+)", text)}


def _gs1_raw(text: str) -> dict[str, str]:
    """``01069…17…10LOT`` with FNC1 (GS) after variable-length fields."""
    out: dict[str, str] = {}
    rest = text.replace(" ", "")
    for prefix in ("]C1", "]d2", "]Q3"):
        rest = rest.removeprefix(prefix)
    while len(rest) >= 2:
        ai = rest[:2]
        if ai in _GS1_FIXED:
            n = _GS1_FIXED[ai]
            value, rest = rest[2 : 2 + n], rest[2 + n :]
            if len(value) != n or not value.isdigit():
                return {}
        elif ai in _GS1_VARIABLE:
            value, _, rest = rest[2:].partition(GS1_SEPARATOR)
        else:
            break
        out[ai] = value
        rest = rest.lstrip(GS1_SEPARATOR)
    return out


def _from_gs1(fields: dict[str, str]) -> ProductCode | None:
    gtin = fields.get("01", "")
    if len(gtin) != 14 or not gtin.isdigit():
        return None
    expiry = fields.get("17", "")
    if len(expiry) == 6 and expiry.isdigit():
        expiry = f"20{expiry[:2]}-{expiry[2:4]}-{expiry[4:]}".removesuffix("-00")
    return ProductCode(gtin, "gs1", lot=fields.get("10", "").strip(), expiry=expiry)


def extract(text: str) -> ProductCode:
    """The product code inside ``text``; falls back to the cleaned text itself."""
    raw = text.strip()
    cleaned = _LABEL.sub("", raw).strip()
    if cleaned.startswith("{"):
        try:
            data = json.loads(cleaned)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            for key in _QUERY_KEYS:
                value = data.get(key)
                if isinstance(value, str | int) and str(value).strip():
                    return ProductCode(str(value).strip(), "json")
    if re.match(r"^https?://", cleaned, re.IGNORECASE):
        url = urlparse(cleaned)
        query = {k.lower(): v for k, v in parse_qs(url.query).items()}
        for key in _QUERY_KEYS:
            if query.get(key) and query[key][0].strip():
                inner = extract(query[key][0])
                return inner if inner.source == "gs1" else ProductCode(inner.code, "url")
        last = [p for p in url.path.split("/") if p]
        if last:
            return ProductCode(last[-1], "url")
    if cleaned.startswith("(01)"):
        found = _from_gs1(_gs1_bracketed(cleaned))
        if found is not None:
            return found
    if re.match(r"^(\]C1|\]d2|\]Q3)?01\d{14}", cleaned):
        found = _from_gs1(_gs1_raw(cleaned))
        if found is not None:
            return found
    return ProductCode(cleaned, "typed")
