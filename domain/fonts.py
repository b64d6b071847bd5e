"""A font with Chinese glyphs for PDF reports and photo stamps: the configured one, else a system font."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont, TTLibError

from config.checks import ConfigWarning
from config.settings import Settings

# Common locations, most likely first (Debian/Ubuntu: `apt-get install fonts-wqy-microhei`).
SYSTEM_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
PROBE = "中文报告"


class FontMissing(RuntimeError):
    """No usable Chinese font; the message says what to do (names ``reports.font_path``)."""


# Fonts for what a Chinese font lacks (emoji, symbols), most complete first: Debian's fonts-symbola
# (scripts/setup.sh installs it) covers the emoji people type on phones in monochrome.
SYSTEM_FALLBACK_FONTS = (
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
    "/usr/share/fonts/truetype/symbola/Symbola.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@lru_cache(maxsize=16)
def codepoints(path: Path) -> frozenset[int]:
    """The characters the font (first face of a collection) maps; empty when it cannot be read."""
    try:
        if path.suffix.lower() == ".ttc":
            font = TTCollection(str(path), lazy=True).fonts[0]
        else:
            font = TTFont(str(path), lazy=True)
        return frozenset((font.getBestCmap() or {}).keys())
    except (OSError, TTLibError, IndexError, AssertionError):
        return frozenset()


def has_chinese_glyphs(path: Path) -> bool:
    """True when the font (first face of a collection) maps the probe characters."""
    cmap = codepoints(path)
    return all(ord(ch) in cmap for ch in PROBE)


def fallback_fonts(candidates: tuple[str, ...] = SYSTEM_FALLBACK_FONTS) -> list[Path]:
    """The installed fonts that can stand in for characters the Chinese font lacks."""
    return [Path(c) for c in candidates if Path(c).is_file() and codepoints(Path(c))]


def find_cjk_font(configured: Path | None, candidates: tuple[str, ...] = SYSTEM_CJK_FONTS) -> Path:
    """The configured font if usable, else the first system font with Chinese glyphs."""
    if configured is not None:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FontMissing(f"reports.font_path {path} does not exist")
        if not has_chinese_glyphs(path):
            raise FontMissing(f"reports.font_path {path} is not a TTF/TTC font with Chinese glyphs")
        return path
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and has_chinese_glyphs(path):
            return path
    raise FontMissing(
        "no font with Chinese glyphs found for PDF reports and photo stamps: install fonts-wqy-microhei "
        "(scripts/setup.sh does this) or set reports.font_path to a TTF/TTC file"
    )


def check_report_font(settings: Settings) -> list[str]:
    """CONFIG_CHECKS: PDF reports and photo stamps need a font with Chinese glyphs."""
    try:
        find_cjk_font(settings.reports.font_path)
    except FontMissing as exc:
        if settings.reports.font_path is not None:  # a configured path that is wrong: an error
            return [str(exc)]
        # None installed: feedback is still saved, the rep told the PDF was not made
        return [ConfigWarning(f"{exc}; until then no PDF reports or photo stamps are made")]
    return []
