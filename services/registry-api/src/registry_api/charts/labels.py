"""The words of the charts in Indonesian (the default) and English."""

from typing import Literal

from kampungkb_shared.code_labels import LABELS
from kampungkb_shared.codes import MKJP_METHODS, Contraception, Tier

Lang = Literal["id", "en"]

TIER_ORDER: tuple[Tier, ...] = (
    Tier.DASAR,
    Tier.BERKEMBANG,
    Tier.MANDIRI,
    Tier.BERKELANJUTAN,
    Tier.BELUM_TERKLASIFIKASI,
)

METHOD_ORDER: tuple[Contraception, ...] = (
    *(code for code in Contraception if code in MKJP_METHODS),
    *(code for code in Contraception if code not in MKJP_METHODS),
)
"""The methods as the mix stacks them: the long-acting ones (MKJP) first, so that they make the bottom of a bar."""

_WORDS: dict[str, tuple[str, str]] = {
    "tiers_title": ("Kampung KB per klasifikasi", "Kampung KB per tier"),
    "trend_title": ("Perkembangan klasifikasi", "Tiers over time"),
    "reporting_title": ("Ketepatan laporan", "Reporting timeliness"),
    "kkbpk_title": ("Capaian KKBPK", "KKBPK figures"),
    "mandiri_plus": ("Mandiri + berkelanjutan (%)", "Mandiri + berkelanjutan (%)"),
    "target": ("Target (%)", "Target (%)"),
    "on_time": ("Tepat waktu", "On time"),
    "late": ("Terlambat", "Late"),
    "missing": ("Belum lapor", "Missing"),
    "cpr": ("CPR (%)", "CPR (%)"),
    "mkjp": ("MKJP (%)", "Long-acting methods (%)"),
    "unmet_need": ("Unmet need (%)", "Unmet need (%)"),
    "method_mix_title": ("Mix kontrasepsi (% peserta KB)", "Method mix (% of KB users)"),
    "no_data": ("Belum ada data", "No data yet"),
    "profil": ("profil", "profile"),
    "kependudukan": ("kependudukan", "population"),
    "kkbpk": ("KKBPK", "KKBPK"),
}


def word(key: str, lang: Lang) -> str:
    """A chart word in the language asked for."""
    indonesian, english = _WORDS[key]
    return indonesian if lang == "id" else english


def tier_label(tier: Tier | str, lang: Lang) -> str:
    """A tier's label from the code lists."""
    label = LABELS[Tier][Tier(tier).value]
    return label.id if lang == "id" else label.en


def method_label(method: Contraception, lang: Lang) -> str:
    """A contraceptive method's label from the code lists."""
    label = LABELS[Contraception][method.value]
    return label.id if lang == "id" else label.en
