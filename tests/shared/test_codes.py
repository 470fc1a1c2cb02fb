from kampungkb_shared.codes import (
    MKJP_METHODS,
    OWN_SECTOR_INSTANSI,
    UNMET_NEED_REASONS,
    ActivityTarget,
    AgeGroup,
    Contraception,
    DataSource,
    FamilyFunction,
    Frequency,
    FundingSource,
    Instansi,
    NonUseReason,
    OperationalItem,
    Pengarah,
    Poktan,
    Regulation,
    Tier,
    tier_rank,
)
from kampungkb_shared.inpres import InpresKegiatan


def test_list_sizes_follow_the_master_lists() -> None:
    sizes = {
        FundingSource: 6,
        Poktan: 5,
        DataSource: 5,
        OperationalItem: 5,
        Frequency: 6,
        Regulation: 4,
        Pengarah: 9,
        Contraception: 7,
        NonUseReason: 4,
        AgeGroup: 16,
        FamilyFunction: 9,
        ActivityTarget: 9,
        Instansi: 37,
        InpresKegiatan: 58,
    }
    assert {enum.__name__: len(enum) for enum in sizes} == {enum.__name__: n for enum, n in sizes.items()}


def test_codes_keep_the_official_order_and_values() -> None:
    instansi = list(Instansi)
    assert (instansi[25], instansi[33], instansi[36]) == (
        Instansi.OPD_PPKB,
        Instansi.PERWAKILAN_BKKBN,
        Instansi.LAINNYA,
    )
    assert next(iter(InpresKegiatan)) == "RUMAH_DATAKU" and list(InpresKegiatan)[57] == "PENGENDALIAN_VEKTOR"
    assert all(member.value == member.name for enum in (Instansi, InpresKegiatan, Contraception) for member in enum)


def test_derived_sets() -> None:
    assert {m.value for m in MKJP_METHODS} == {"KB_IUD", "KB_MOW", "KB_MOP", "KB_IMPLAN"}
    assert {r.value for r in UNMET_NEED_REASONS} == {"IAT", "TIAL"}
    assert {i.value for i in OWN_SECTOR_INSTANSI} == {"OPD_PPKB", "PERWAKILAN_BKKBN"}


def test_tiers_are_lower_case_and_ordered() -> None:
    assert {t.value for t in Tier} == {"dasar", "berkembang", "mandiri", "berkelanjutan", "belum_terklasifikasi"}
    ordered = sorted(Tier, key=tier_rank)
    assert ordered == [Tier.BELUM_TERKLASIFIKASI, Tier.DASAR, Tier.BERKEMBANG, Tier.MANDIRI, Tier.BERKELANJUTAN]
    assert Tier.MANDIRI.rank == 3 and tier_rank("berkelanjutan") == 4
