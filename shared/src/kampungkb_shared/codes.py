"""Code lists of `master-lists.md` used by the module payloads, with their UPPER_SNAKE codes.

Values are the "suggested code" column; the enum member names match them. Tiers are lower-case.
"""

from enum import StrEnum


class FundingSource(StrEnum):
    """Sumber dana (list 1)."""

    APBN = "APBN"
    APBD = "APBD"
    DANA_DESA = "DANA_DESA"
    DONASI_HIBAH_MASYARAKAT = "DONASI_HIBAH_MASYARAKAT"
    CSR = "CSR"
    SWADAYA_MASYARAKAT = "SWADAYA_MASYARAKAT"


class Poktan(StrEnum):
    """The five poktan (kelompok kegiatan) of list 2."""

    BKB = "BKB"
    BKR = "BKR"
    BKL = "BKL"
    UPPKA = "UPPKA"
    PIK_R = "PIK_R"


class Facility(StrEnum):
    """Sarana of list 2."""

    SEKRETARIAT = "SEKRETARIAT"
    RUMAH_DATAKU = "RUMAH_DATAKU"


class DataSource(StrEnum):
    """Penggunaan data (list 3)."""

    PK_PEMUTAKHIRAN_DATA = "PK_PEMUTAKHIRAN_DATA"
    DATA_RUTIN_BKKBN = "DATA_RUTIN_BKKBN"
    POTENSI_DESA = "POTENSI_DESA"
    DATA_SEKTORAL = "DATA_SEKTORAL"
    LAINNYA = "LAINNYA"


class OperationalItem(StrEnum):
    """Mekanisme operasional (list 4)."""

    RAPAT_PERENCANAAN = "RAPAT_PERENCANAAN"
    RAPAT_KOORDINASI = "RAPAT_KOORDINASI"
    SOSIALISASI = "SOSIALISASI"
    MONEV = "MONEV"
    PENYUSUNAN_LAPORAN = "PENYUSUNAN_LAPORAN"


class Frequency(StrEnum):
    """Frekuensi of an operational item (list 4), in display order."""

    MINGGUAN = "MINGGUAN"
    BULANAN = "BULANAN"
    TRIWULAN = "TRIWULAN"
    SEMESTERAN = "SEMESTERAN"
    TAHUNAN = "TAHUNAN"
    LAINNYA = "LAINNYA"


class Regulation(StrEnum):
    """Regulasi (list 5)."""

    SK_GUBERNUR = "SK_GUBERNUR"
    SK_BUPATI_WALIKOTA = "SK_BUPATI_WALIKOTA"
    SK_KECAMATAN = "SK_KECAMATAN"
    SK_KADES_LURAH = "SK_KADES_LURAH"


class Pengarah(StrEnum):
    """Who directs activities when there is no PKB/PLKB pendamping (list 6)."""

    KADER = "KADER"
    KETUA_RT_RW = "KETUA_RT_RW"
    PERANGKAT_DESA_KELURAHAN = "PERANGKAT_DESA_KELURAHAN"
    PKK = "PKK"
    TOGA_TOMA = "TOGA_TOMA"
    OPDKB_KABKOTA = "OPDKB_KABKOTA"
    PERWAKILAN_BKKBN_PROVINSI = "PERWAKILAN_BKKBN_PROVINSI"
    PLKB_NON_PNS = "PLKB_NON_PNS"
    LAINNYA = "LAINNYA"


class Contraception(StrEnum):
    """Contraceptive methods (list 7)."""

    KB_IUD = "KB_IUD"
    KB_MOW = "KB_MOW"
    KB_MOP = "KB_MOP"
    KB_KONDOM = "KB_KONDOM"
    KB_IMPLAN = "KB_IMPLAN"
    KB_SUNTIK = "KB_SUNTIK"
    KB_PIL = "KB_PIL"


MKJP_METHODS: frozenset[Contraception] = frozenset(
    {Contraception.KB_IUD, Contraception.KB_MOW, Contraception.KB_MOP, Contraception.KB_IMPLAN}
)
"""Long-acting and permanent methods (metode kontrasepsi jangka panjang)."""


class NonUseReason(StrEnum):
    """Why a PUS does not use KB (list 8)."""

    HAMIL = "HAMIL"
    INGIN_ANAK_SEGERA = "INGIN_ANAK_SEGERA"
    IAT = "IAT"
    TIAL = "TIAL"


UNMET_NEED_REASONS: frozenset[NonUseReason] = frozenset({NonUseReason.IAT, NonUseReason.TIAL})
"""Reasons that count as unmet need."""


class AgeGroup(StrEnum):
    """Five-year age groups (list 9), in order; `population` arrays follow this order."""

    UMUR_0_4 = "UMUR_0_4"
    UMUR_5_9 = "UMUR_5_9"
    UMUR_10_14 = "UMUR_10_14"
    UMUR_15_19 = "UMUR_15_19"
    UMUR_20_24 = "UMUR_20_24"
    UMUR_25_29 = "UMUR_25_29"
    UMUR_30_34 = "UMUR_30_34"
    UMUR_35_39 = "UMUR_35_39"
    UMUR_40_44 = "UMUR_40_44"
    UMUR_45_49 = "UMUR_45_49"
    UMUR_50_54 = "UMUR_50_54"
    UMUR_55_59 = "UMUR_55_59"
    UMUR_60_64 = "UMUR_60_64"
    UMUR_65_69 = "UMUR_65_69"
    UMUR_70_74 = "UMUR_70_74"
    UMUR_75_PLUS = "UMUR_75_PLUS"


class FamilyFunction(StrEnum):
    """The eight family functions that categorise an activity, plus Lainnya (list 10)."""

    KEAGAMAAN = "KEAGAMAAN"
    PENDIDIKAN = "PENDIDIKAN"
    REPRODUKSI = "REPRODUKSI"
    EKONOMI = "EKONOMI"
    PERLINDUNGAN = "PERLINDUNGAN"
    KASIH_SAYANG = "KASIH_SAYANG"
    SOSIAL_BUDAYA = "SOSIAL_BUDAYA"
    PEMBINAAN_LINGKUNGAN = "PEMBINAAN_LINGKUNGAN"
    LAINNYA = "LAINNYA"


class ActivityTarget(StrEnum):
    """Sasaran of an activity (list 11)."""

    SELURUH_PENDUDUK = "SELURUH_PENDUDUK"
    PUS = "PUS"
    REMAJA = "REMAJA"
    LANSIA = "LANSIA"
    BALITA = "BALITA"
    KELUARGA_DENGAN_BALITA = "KELUARGA_DENGAN_BALITA"
    KELUARGA_DENGAN_REMAJA = "KELUARGA_DENGAN_REMAJA"
    KELUARGA_DENGAN_LANSIA = "KELUARGA_DENGAN_LANSIA"
    LAINNYA = "LAINNYA"


class Instansi(StrEnum):
    """Partner institutions of an activity (list 12), in the official id order 1-37."""

    DINAS_PERHUBUNGAN = "DINAS_PERHUBUNGAN"
    DINAS_KELAUTAN_PERIKANAN = "DINAS_KELAUTAN_PERIKANAN"
    DINAS_PARIWISATA = "DINAS_PARIWISATA"
    DINAS_ESDM = "DINAS_ESDM"
    DINAS_DUKCAPIL = "DINAS_DUKCAPIL"
    TNI_POLRI = "TNI_POLRI"
    KANWIL_KEMENKUMHAM = "KANWIL_KEMENKUMHAM"
    DINAS_KOMINFO = "DINAS_KOMINFO"
    BUMN_BUMD = "BUMN_BUMD"
    DINAS_KOPERASI = "DINAS_KOPERASI"
    DINAS_PERINDUSTRIAN = "DINAS_PERINDUSTRIAN"
    DINAS_PERDAGANGAN = "DINAS_PERDAGANGAN"
    DINAS_PERTANIAN = "DINAS_PERTANIAN"
    DINAS_KETENAGAKERJAAN = "DINAS_KETENAGAKERJAAN"
    DINAS_PUPR = "DINAS_PUPR"
    DINAS_KEHUTANAN_LH = "DINAS_KEHUTANAN_LH"
    DINAS_BINA_MARGA_TATA_RUANG = "DINAS_BINA_MARGA_TATA_RUANG"
    KANWIL_KEMENAG = "KANWIL_KEMENAG"
    DINAS_KESEHATAN = "DINAS_KESEHATAN"
    DINAS_SOSIAL = "DINAS_SOSIAL"
    DINAS_PPPA = "DINAS_PPPA"
    DINAS_PENDIDIKAN = "DINAS_PENDIDIKAN"
    DINAS_PEMUDA_OLAHRAGA = "DINAS_PEMUDA_OLAHRAGA"
    DINAS_PMD = "DINAS_PMD"
    PEMERINTAH_DAERAH = "PEMERINTAH_DAERAH"
    OPD_PPKB = "OPD_PPKB"
    PEMERINTAH_DESA_KELURAHAN = "PEMERINTAH_DESA_KELURAHAN"
    LEMBAGA_PENDIDIKAN = "LEMBAGA_PENDIDIKAN"
    SWASTA_PERUSAHAAN = "SWASTA_PERUSAHAAN"
    PUSKESMAS = "PUSKESMAS"
    RUMAH_SAKIT_KLINIK = "RUMAH_SAKIT_KLINIK"
    KOMPONEN_MASYARAKAT_KKB = "KOMPONEN_MASYARAKAT_KKB"
    BPS = "BPS"
    PERWAKILAN_BKKBN = "PERWAKILAN_BKKBN"
    DINAS_KETAHANAN_PANGAN = "DINAS_KETAHANAN_PANGAN"
    DINAS_PETERNAKAN_KESWAN = "DINAS_PETERNAKAN_KESWAN"
    LAINNYA = "LAINNYA"


OWN_SECTOR_INSTANSI: frozenset[Instansi] = frozenset({Instansi.OPD_PPKB, Instansi.PERWAKILAN_BKKBN})
"""BKKBN and OPD-KB: the programme's own institutions, not cross-sector partners."""


class FormationCriterion(StrEnum):
    """Kriteria pembentukan (list 13)."""

    PESERTA_KB_RENDAH = "PESERTA_KB_RENDAH"
    PENDUDUK_MISKIN_TINGGI = "PENDUDUK_MISKIN_TINGGI"
    WILAYAH_KHUSUS = "WILAYAH_KHUSUS"
    LAINNYA = "LAINNYA"


class Tier(StrEnum):
    """Kampung KB tiers, lowest first, then `belum_terklasifikasi` (a rule set could not classify); see `rank`."""

    DASAR = "dasar"
    BERKEMBANG = "berkembang"
    MANDIRI = "mandiri"
    BERKELANJUTAN = "berkelanjutan"
    BELUM_TERKLASIFIKASI = "belum_terklasifikasi"

    @property
    def rank(self) -> int:
        """0 for `belum_terklasifikasi`, then 1 (dasar) to 4 (berkelanjutan)."""
        return _TIER_RANK[self]


_TIER_RANK = {
    Tier.BELUM_TERKLASIFIKASI: 0,
    Tier.DASAR: 1,
    Tier.BERKEMBANG: 2,
    Tier.MANDIRI: 3,
    Tier.BERKELANJUTAN: 4,
}

CLASSIFIED_TIERS: tuple[Tier, ...] = (Tier.DASAR, Tier.BERKEMBANG, Tier.MANDIRI, Tier.BERKELANJUTAN)
"""The four tiers, lowest first."""


def tier_rank(tier: Tier | str) -> int:
    """Sort key of a tier: 0 for `belum_terklasifikasi`, 1 for dasar, ..., 4 for berkelanjutan."""
    return _TIER_RANK[Tier(tier)]


AGE_GROUP_COUNT = len(AgeGroup)
"""Number of age groups: the length of each `population` array."""
