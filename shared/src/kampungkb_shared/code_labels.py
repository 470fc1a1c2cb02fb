"""Indonesian and English labels of every code list, beside the enums of `codes` and `inpres`.

The Indonesian labels are those of the official site (`master-lists.md`; a list's description where its label alone
says nothing, as for poktan and formation criteria); the English ones are faithful translations.
"""

from enum import StrEnum
from typing import NamedTuple

from kampungkb_shared.codes import (
    ActivityTarget,
    AgeGroup,
    Contraception,
    DataSource,
    Facility,
    FamilyFunction,
    FormationCriterion,
    Frequency,
    FundingSource,
    Instansi,
    NonUseReason,
    OperationalItem,
    Pengarah,
    Poktan,
    Regulation,
    Tier,
)
from kampungkb_shared.inpres import InpresKegiatan


class Label(NamedTuple):
    """A code's label in Indonesian (`id`) and English (`en`)."""

    id: str
    en: str


CODE_LISTS: dict[str, type[StrEnum]] = {
    "funding_source": FundingSource,
    "poktan": Poktan,
    "facility": Facility,
    "data_source": DataSource,
    "operational_item": OperationalItem,
    "frequency": Frequency,
    "regulation": Regulation,
    "pengarah": Pengarah,
    "contraception": Contraception,
    "non_use_reason": NonUseReason,
    "age_group": AgeGroup,
    "family_function": FamilyFunction,
    "activity_target": ActivityTarget,
    "instansi": Instansi,
    "formation_criterion": FormationCriterion,
    "inpres_kegiatan": InpresKegiatan,
    "tier": Tier,
}
"""Every code list by the name the API serves it under, in the order of `master-lists.md`."""

LIST_TITLES: dict[str, Label] = {
    "funding_source": Label("Sumber dana", "Funding sources"),
    "poktan": Label("Kelompok kegiatan (poktan)", "Activity groups (poktan)"),
    "facility": Label("Sarana", "Facilities"),
    "data_source": Label("Penggunaan data", "Data sources used"),
    "operational_item": Label("Mekanisme operasional", "Operational mechanisms"),
    "frequency": Label("Frekuensi", "Frequencies"),
    "regulation": Label("Regulasi", "Regulations"),
    "pengarah": Label("Pengarah (tanpa PKB/PLKB pendamping)", "Who directs activities (without a PKB/PLKB)"),
    "contraception": Label("Kontrasepsi", "Contraceptive methods"),
    "non_use_reason": Label("Alasan tidak ber-KB", "Reasons for not using family planning"),
    "age_group": Label("Kelompok umur", "Age groups"),
    "family_function": Label("Fungsi keluarga (kategori kegiatan)", "Family functions (activity categories)"),
    "activity_target": Label("Sasaran kegiatan", "Activity target groups"),
    "instansi": Label("Instansi mitra", "Partner institutions"),
    "formation_criterion": Label("Kriteria pembentukan", "Formation criteria"),
    "inpres_kegiatan": Label("Kegiatan Inpres No. 3 Tahun 2022", "Activities of Presidential Instruction 3/2022"),
    "tier": Label("Klasifikasi", "Tiers"),
}

_L = Label

LABELS: dict[type[StrEnum], dict[str, Label]] = {
    FundingSource: {
        "APBN": _L("APBN", "State budget (APBN)"),
        "APBD": _L("APBD", "Regional budget (APBD)"),
        "DANA_DESA": _L("Dana Desa", "Village fund"),
        "DONASI_HIBAH_MASYARAKAT": _L("Donasi/ Hibah Masyarakat", "Community donations/grants"),
        "CSR": _L("Perusahaan (CSR)", "Companies (CSR)"),
        "SWADAYA_MASYARAKAT": _L("Swadaya Masyarakat", "Community self-funding"),
    },
    Poktan: {
        "BKB": _L("Bina Keluarga Balita (BKB)", "Families with toddlers group (BKB)"),
        "BKR": _L("Bina Keluarga Remaja (BKR)", "Families with adolescents group (BKR)"),
        "BKL": _L("Bina Keluarga Lansia (BKL)", "Families with elderly group (BKL)"),
        "UPPKA": _L(
            "Usaha Peningkatan Pendapatan Keluarga Akseptor (UPPKA)",
            "Income-generating group for acceptor families (UPPKA)",
        ),
        "PIK_R": _L(
            "Pusat Informasi dan Konseling Remaja (PIK R)", "Adolescent information and counselling centre (PIK R)"
        ),
    },
    Facility: {
        "SEKRETARIAT": _L("Sekretariat KKB", "Kampung KB secretariat"),
        "RUMAH_DATAKU": _L("Rumah Dataku", "Population data house (Rumah DataKu)"),
    },
    DataSource: {
        "PK_PEMUTAKHIRAN_DATA": _L("PK dan Pemutahiran Data", "Family data collection (PK) and data updates"),
        "DATA_RUTIN_BKKBN": _L("Data Rutin BKKBN", "BKKBN routine data"),
        "POTENSI_DESA": _L("Potensi Desa", "Village potential statistics"),
        "DATA_SEKTORAL": _L("Data Sektoral", "Sectoral data"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    OperationalItem: {
        "RAPAT_PERENCANAAN": _L("Rapat perencanaan kegiatan", "Activity planning meetings"),
        "RAPAT_KOORDINASI": _L(
            "Rapat koordinasi dengan dinas/instansi terkait pendukung kegiatan",
            "Coordination meetings with supporting agencies/institutions",
        ),
        "SOSIALISASI": _L("Sosialisasi Kegiatan", "Activity outreach"),
        "MONEV": _L("Monitoring dan Evaluasi Kegiatan", "Activity monitoring and evaluation"),
        "PENYUSUNAN_LAPORAN": _L("Penyusunan Laporan", "Report writing"),
    },
    Frequency: {
        "MINGGUAN": _L("Mingguan", "Weekly"),
        "BULANAN": _L("Bulanan", "Monthly"),
        "TRIWULAN": _L("Triwulan", "Quarterly"),
        "SEMESTERAN": _L("Semesteran", "Every six months"),
        "TAHUNAN": _L("Tahunan", "Yearly"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    Regulation: {
        "SK_GUBERNUR": _L(
            "Surat Keputusan/Instruksi/Surat Edaran dari Gubernur", "Decree/instruction/circular of the governor"
        ),
        "SK_BUPATI_WALIKOTA": _L(
            "Surat Keputusan/Instruksi/Surat Edaran dari Bupati/Walikota",
            "Decree/instruction/circular of the regent/mayor",
        ),
        "SK_KECAMATAN": _L("SK Kecamatan tentang Kampung KB", "Sub-district decree on the Kampung KB"),
        "SK_KADES_LURAH": _L(
            "SK Kepala Desa/Lurah tentang Kampung KB", "Decree of the village head/lurah on the Kampung KB"
        ),
    },
    Pengarah: {
        "KADER": _L("Kader", "Volunteer cadre"),
        "KETUA_RT_RW": _L("Ketua RT/RW", "Neighbourhood (RT/RW) head"),
        "PERANGKAT_DESA_KELURAHAN": _L("Perangkat Desa/Kelurahan", "Village/kelurahan officials"),
        "PKK": _L("PKK", "Family welfare movement (PKK)"),
        "TOGA_TOMA": _L("Toga/ Toma", "Religious/community leaders"),
        "OPDKB_KABKOTA": _L("OPDKB Kab/kota", "Regency/city family planning office (OPD-KB)"),
        "PERWAKILAN_BKKBN_PROVINSI": _L("Perwakilan BKKBN Prov", "BKKBN provincial office"),
        "PLKB_NON_PNS": _L("PLKB Non PNS", "Non-civil-servant family planning field officer (PLKB)"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    Contraception: {
        "KB_IUD": _L("IUD", "IUD"),
        "KB_MOW": _L("MOW", "Female sterilisation (MOW)"),
        "KB_MOP": _L("MOP", "Male sterilisation (MOP)"),
        "KB_KONDOM": _L("Kondom", "Condom"),
        "KB_IMPLAN": _L("Implan", "Implant"),
        "KB_SUNTIK": _L("Suntik", "Injectable"),
        "KB_PIL": _L("PIL", "Pill"),
    },
    NonUseReason: {
        "HAMIL": _L("Karena Hamil", "Pregnant"),
        "INGIN_ANAK_SEGERA": _L("Karena Ingin Anak Segera", "Wants a child soon"),
        "IAT": _L("Ingin Anak Kemudian/Ingin Anak Tunda (IAT)", "Wants a child later (IAT)"),
        "TIAL": _L("Tidak Ingin Anak Lagi", "Wants no more children"),
    },
    AgeGroup: {
        member.value: _L(
            f"{start} - {start + 4} Tahun" if start < 75 else "75+ Tahun",
            f"{start}–{start + 4} years" if start < 75 else "75 years and over",
        )
        for start, member in zip(range(0, 80, 5), AgeGroup, strict=True)
    },
    FamilyFunction: {
        "KEAGAMAAN": _L("Keagamaan", "Religion"),
        "PENDIDIKAN": _L("Pendidikan", "Education"),
        "REPRODUKSI": _L("Reproduksi", "Reproduction"),
        "EKONOMI": _L("Ekonomi", "Economy"),
        "PERLINDUNGAN": _L("Perlindungan", "Protection"),
        "KASIH_SAYANG": _L("Kasih Sayang", "Love and affection"),
        "SOSIAL_BUDAYA": _L("Sosial Budaya", "Social and cultural"),
        "PEMBINAAN_LINGKUNGAN": _L("Pembinaan Lingkungan", "Environmental care"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    ActivityTarget: {
        "SELURUH_PENDUDUK": _L("Seluruh Penduduk", "Whole population"),
        "PUS": _L("PUS", "Couples of reproductive age (PUS)"),
        "REMAJA": _L("Remaja", "Adolescents"),
        "LANSIA": _L("Lansia", "Elderly"),
        "BALITA": _L("Balita", "Children under five"),
        "KELUARGA_DENGAN_BALITA": _L("Keluarga yang memiliki Balita", "Families with children under five"),
        "KELUARGA_DENGAN_REMAJA": _L("Keluarga yang memiliki Remaja", "Families with adolescents"),
        "KELUARGA_DENGAN_LANSIA": _L("Keluarga yang memiliki Lansia", "Families with elderly members"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    Instansi: {
        "DINAS_PERHUBUNGAN": _L("Dinas Perhubungan", "Transport office"),
        "DINAS_KELAUTAN_PERIKANAN": _L("Dinas Kelautan dan Perikanan", "Marine affairs and fisheries office"),
        "DINAS_PARIWISATA": _L("Dinas Pariwisata", "Tourism office"),
        "DINAS_ESDM": _L("Dinas Energi dan Sumber Daya Mineral", "Energy and mineral resources office"),
        "DINAS_DUKCAPIL": _L("Dinas Dukcapil", "Population and civil registration office"),
        "TNI_POLRI": _L("TNI – POLRI", "Armed forces and police"),
        "KANWIL_KEMENKUMHAM": _L(
            "Kanwil Kementerian Hukum dan HAM", "Regional office of the Ministry of Law and Human Rights"
        ),
        "DINAS_KOMINFO": _L("Dinas Kominfo", "Communication and informatics office"),
        "BUMN_BUMD": _L("BUMN dan BUMD", "State- and region-owned enterprises"),
        "DINAS_KOPERASI": _L("Dinas Koperasi", "Cooperatives office"),
        "DINAS_PERINDUSTRIAN": _L("Dinas Perindustrian", "Industry office"),
        "DINAS_PERDAGANGAN": _L("Dinas Perdagangan", "Trade office"),
        "DINAS_PERTANIAN": _L("Dinas Pertanian", "Agriculture office"),
        "DINAS_KETENAGAKERJAAN": _L("Dinas Ketenagakerjaan", "Manpower office"),
        "DINAS_PUPR": _L("Dinas Pekerjaan Umum dan Perumahan Rakyat", "Public works and housing office"),
        "DINAS_KEHUTANAN_LH": _L("Dinas Kehutanan dan Lingkungan Hidup", "Forestry and environment office"),
        "DINAS_BINA_MARGA_TATA_RUANG": _L("Dinas Bina Marga dan Penataan Ruang", "Roads and spatial planning office"),
        "KANWIL_KEMENAG": _L("Kanwil Kementrian Agama", "Regional office of the Ministry of Religious Affairs"),
        "DINAS_KESEHATAN": _L("Dinas Kesehatan", "Health office"),
        "DINAS_SOSIAL": _L("Dinas Sosial", "Social affairs office"),
        "DINAS_PPPA": _L("Dinas PP dan PA", "Women's empowerment and child protection office"),
        "DINAS_PENDIDIKAN": _L("Dinas Pendidikan", "Education office"),
        "DINAS_PEMUDA_OLAHRAGA": _L("Dinas Pemuda dan Olahraga", "Youth and sports office"),
        "DINAS_PMD": _L("Dinas Pemberdayaan dan Masyarakat Desa", "Village community empowerment office"),
        "PEMERINTAH_DAERAH": _L("Pemerintahan Daerah", "Regional government"),
        "OPD_PPKB": _L("OPD Pengendalian Penduduk dan KB", "Population control and family planning office (OPD-KB)"),
        "PEMERINTAH_DESA_KELURAHAN": _L("Pemerintahan Desa/Lurah", "Village/kelurahan government"),
        "LEMBAGA_PENDIDIKAN": _L("Lembaga Pendidikan", "Educational institutions"),
        "SWASTA_PERUSAHAAN": _L("Swasta/Perusahaan", "Private sector/companies"),
        "PUSKESMAS": _L("Puskesmas", "Community health centre (Puskesmas)"),
        "RUMAH_SAKIT_KLINIK": _L("Rumah Sakit/Klinik", "Hospital/clinic"),
        "KOMPONEN_MASYARAKAT_KKB": _L("Komponen Masyarakat Kampung KB", "Kampung KB community members"),
        "BPS": _L("BPS", "Statistics Indonesia (BPS)"),
        "PERWAKILAN_BKKBN": _L("Perwakilan BKKBN", "BKKBN provincial office"),
        "DINAS_KETAHANAN_PANGAN": _L("Dinas Ketahanan Pangan", "Food security office"),
        "DINAS_PETERNAKAN_KESWAN": _L("Dinas Peternakan dan Kesehatan Hewan", "Livestock and animal health office"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    FormationCriterion: {
        "PESERTA_KB_RENDAH": _L(
            "Peserta KB lebih rendah dari rata rata desa", "Fewer family planning users than the village average"
        ),
        "PENDUDUK_MISKIN_TINGGI": _L(
            "Jumlah penduduk miskin tinggi (prasejahtera dan KS 1 lebih tinggi dari rata rata desa",
            "Many poor residents (pre-prosperous and KS 1 families above the village average)",
        ),
        "WILAYAH_KHUSUS": _L("Termasuk wilayah terpencil, perbatasan, dsb", "Remote, border or similar area"),
        "LAINNYA": _L("Lainnya", "Other"),
    },
    InpresKegiatan: {
        "RUMAH_DATAKU": _L(
            "Rumah Data Kependudukan dan Informasi Keluarga (Rumah DataKu)",
            "Population data and family information house (Rumah DataKu)",
        ),
        "LAYANAN_ADMINDUK": _L("Pelayanan administrasi kependudukan", "Civil registration services"),
        "GERMAS": _L("Program Gerakan Masyarakat Hidup Sehat (GERMAS)", "Healthy living community movement (GERMAS)"),
        "PIS_PK": _L(
            "Program Indonesia Sehat dengan Pendekatan Keluarga (PISPK)",
            "Healthy Indonesia programme with a family approach (PIS-PK)",
        ),
        "BKB": _L("Bina Keluarga Balita (BKB)", "Families with toddlers group (BKB)"),
        "BKR": _L("Bina Keluarga Remaja (BKR)", "Families with adolescents group (BKR)"),
        "BKL": _L("Bina Keluarga Lansia (BKL)", "Families with elderly group (BKL)"),
        "PIK_REMAJA": _L("PIK Remaja", "Adolescent information and counselling centre (PIK Remaja)"),
        "KIE_KESPRO_KB": _L(
            "Komunikasi, Informasi dan Edukasi (KIE) Kesehatan Reproduksi dan Keluarga Berencana bagi Keluarga",
            "Communication, information and education (KIE) on reproductive health and family planning for families",
        ),
        "BIMBINGAN_CATIN": _L("Bimbingan Calon Pengantin", "Guidance for engaged couples"),
        "PENYULUHAN_KEAGAMAAN": _L(
            "Bimbingan, penyuluhan dan konsultasi keagamaan", "Religious guidance, counselling and consultation"
        ),
        "KIE_PERLINDUNGAN_PEREMPUAN_ANAK": _L(
            "KIE Pencegahan, Perlindungan Perempuan dan Anak dari kekerasan",
            "KIE on preventing violence and protecting women and children from it",
        ),
        "KIE_ASI_EKSKLUSIF": _L(
            "Advokasi dan KIE pemberian makan bayi dan anak ASI eksklusif",
            "Advocacy and KIE on infant and child feeding and exclusive breastfeeding",
        ),
        "KAWASAN_TANPA_ROKOK": _L(
            "Kawasan Tanpa Rokok (KTR) dan implementasi Rumah Tanpa Asap Rokok",
            "Smoke-free areas (KTR) and smoke-free homes",
        ),
        "PENGGERAKAN_PELAYANAN_KB_KR": _L(
            "Penggerakan Pelayanan Keluarga Berencana dan Kesehatan Reproduksi",
            "Mobilising family planning and reproductive health services",
        ),
        "EDUKASI_BUMIL_BALITA_REMAJA_LANSIA": _L(
            "Edukasi kesehatan ibu hamil, balita, remaja, dan lansia",
            "Health education for pregnant women, children under five, adolescents and the elderly",
        ),
        "PEMBINAAN_POSYANDU": _L("Melakukan pembinaan posyandu", "Supporting integrated health posts (posyandu)"),
        "POSYANDU_AKTIF": _L("b. Melaksanakan Posyandu Aktif", "b. Running active integrated health posts (posyandu)"),
        "PELAYANAN_KB_KESPRO": _L(
            "Pelayanan Keluarga Berencana (KB) dan Kespro", "Family planning (KB) and reproductive health services"
        ),
        "P2K2_PKH": _L(
            "Pertemuan Peningkatan Kemampuan Keluarga (P2K2) dengan modul kesehatan dan gizi bagi Keluarga Penerima "
            "Manfaat (KPM) Program Keluarga Harapan",
            "Family capacity building sessions (P2K2) with health and nutrition modules for beneficiary families (KPM) "
            "of the Family Hope Programme",
        ),
        "SCREENING_CATIN": _L("Screening kesehatan bagi calon pengantin", "Health screening for engaged couples"),
        "PENDAMPINGAN_CATIN_PRANIKAH": _L(
            "Pemberian pendampingan dan edukasi penatalaksanaan keluarga (relasi suami-istri, menyiapkan kehamilan, "
            "pengasuhan, pola konsumsi makanan sehat dan bergizi) bagi calon pasangan usia subur/ calon pengantian "
            "selama 3 bulan pra-nikah.",
            "Support and education on family life (spousal relations, preparing for pregnancy, parenting, healthy and "
            "nutritious eating) for engaged couples during the 3 months before marriage.",
        ),
        "PENDAMPINGAN_BUMIL": _L("Pendampingan ibu hamil", "Support for pregnant women"),
        "ANC_BUMIL": _L(
            "Pemeriksaaan  Antenatal Care (ANC) bagi ibu hamil", "Antenatal care (ANC) check-ups for pregnant women"
        ),
        "TTD_REMAJA_PUTRI_BUMIL": _L(
            "Pemberian tablet tambah darah bagi remaja putri dan ibu hamil",
            "Iron supplement tablets for adolescent girls and pregnant women",
        ),
        "PMT_BUMIL_KEK": _L(
            "Pemberian tambahan asupan gizi bagi ibu hamil kurang energi kronik (KEK)",
            "Supplementary nutrition for pregnant women with chronic energy deficiency (KEK)",
        ),
        "PEMANTAUAN_TUMBUH_KEMBANG_BALITA": _L(
            "Pemantauan pertumbuhan dan perkembangan anak berusia di bawah lima tahun (balita).",
            "Monitoring the growth and development of children under five.",
        ),
        "PMT_ANAK_6_23_BULAN": _L(
            "Pemberian makanan tambahan bagi anak usia 6 – 23 bulan",
            "Supplementary feeding for children aged 6–23 months",
        ),
        "PENDAMPINGAN_GIZI_KURANG_24_59_BULAN": _L(
            "Pendampingan Baduta 24-59bulan dengan gizi kurang",
            "Support for children aged 24–59 months with undernutrition",
        ),
        "TATA_LAKSANA_GIZI_BURUK_BALITA": _L(
            "Penanganan tata laksana gizi buruk pada balita",
            "Treatment of severe malnutrition in children under five",
        ),
        "PMT_BALITA_GIZI_KURANG": _L(
            "Pemberian tambahan asupan gizi bagi balita dengan status gizi kurang",
            "Supplementary nutrition for undernourished children under five",
        ),
        "KB_PASCA_PERSALINAN": _L("Pelayanan KB pasca persalinan", "Postpartum family planning services"),
        "BANTUAN_PANGAN_BUMIL_BUSUI_BADUTA": _L(
            "Pemberian bantuan pangan selain beras dan telur (variasi) (karbohidrat, protein hewani, protein nabati, "
            "vitamin dan mineral dan/atau Makanan Pendamping Air Susu Ibu, bagi ibu hamil, ibu menyusui dan baduta",
            "Food aid besides rice and eggs (carbohydrates, animal and plant protein, vitamins and minerals and/or "
            "complementary foods) for pregnant women, breastfeeding mothers and children under two",
        ),
        "PENDAMPINGAN_KELUARGA_BALITA": _L(
            "Pendampingan ibu/keluarga balita meliputi pemenuhan gizi, pengasuhan, dan pelayanan kesehatan",
            "Support for mothers/families of children under five: nutrition, parenting and health services",
        ),
        "DASHAT": _L("Dapur Sehat Atasi Stunting (DASHAT)", "Healthy kitchens against stunting (DASHAT)"),
        "PAUD": _L("Pendidikan Anak Usia Dini (PAUD)", "Early childhood education (PAUD)"),
        "PENDIDIKAN_DASAR_MENENGAH": _L("Pemberian Pendidikan Dasar dan Menengah", "Primary and secondary education"),
        "PENDIDIKAN_LAYANAN_AGAMA": _L(
            "Pendidikan dan layanan Agama bagi keluarga dan masyarakat",
            "Religious education and services for families and communities",
        ),
        "INFORMASI_AKSES_PENDIDIKAN": _L(
            "Pemberian informasi dan fasilitasi akses pelayanan pendidikan",
            "Information on and help with access to education services",
        ),
        "BANTUAN_PENDIDIKAN_KELUARGA_MISKIN": _L(
            "Pemberian bantuan pendidikan bagi anak usia sekolah yang berasal dari keluarga dengan status miskin",
            "Education aid for school-age children from poor families",
        ),
        "LITERASI_NONFORMAL": _L(
            "Penyelenggaraan pendidikan literasi dalam pendidikan non formal",
            "Literacy classes in non-formal education",
        ),
        "WAHANA_KREATIVITAS_OLAHRAGA": _L(
            "Penyelenggaraan wahana kreatifitas dan olahraga", "Creative and sports facilities"
        ),
        "BANTUAN_TUNAI_BERSYARAT": _L(
            "Pemberian bantuan tunai bersyarat kepada Pasangan Usia Subur dengan status miskin dan penyandang masalah "
            "kesejahteraan sosial",
            "Conditional cash transfers to poor couples of reproductive age and people with social welfare problems",
        ),
        "BANTUAN_PANGAN_NON_TUNAI": _L(
            "Pemberian bantuan pangan non-tunai kepada Pasangan Usia Subur dengan status miskin dan penyandang masalah "
            "kesejahteraan sosial",
            "Non-cash food aid to poor couples of reproductive age and people with social welfare problems",
        ),
        "JAMKES_PBI": _L(
            "Pemberian jaminan kesehatan kepada keluarga dengan status miskin dan penyandang masalah kesejahteraan "
            "sosial (Penerima Bantuan Iuran (PBI))",
            "Health insurance for poor families and people with social welfare problems (contribution assistance "
            "recipients, PBI)",
        ),
        "PKH_PUS_MISKIN": _L(
            "Pemberian Program Keluarga Harapan kepada PUS dengan status miskin dan penyandang masalah kesejahteraan "
            "sosial",
            "Family Hope Programme for poor couples of reproductive age and people with social welfare problems",
        ),
        "AKSES_ASET_KPM": _L(
            "Peningkatan kemampuan akses dan asset KPM Program Kewirausahaan Sosial",
            "Better access and assets for beneficiary families of the Social Entrepreneurship Programme",
        ),
        "PENDAPATAN_KESEJAHTERAAN_KPM": _L(
            "Peningkatan pendapatan dan kesejahteraan KPM Program Kewirausahaan Sosial",
            "Higher income and welfare for beneficiary families of the Social Entrepreneurship Programme",
        ),
        "BANTUAN_PERMODALAN": _L("Penyelenggaraan bantuan permodalan", "Capital assistance"),
        "PROMOSI_PEMASARAN_KOPERASI_UMKM": _L(
            "Promosi dan pemasaran koperasi dan umkm", "Promotion and marketing of cooperatives and small businesses"
        ),
        "PELATIHAN_USAHA_RUMAH_TANGGA": _L(
            "Pelatihan produksi dan pemasaran bagi usaha rumah tangga",
            "Production and marketing training for household businesses",
        ),
        "PENGEMBANGAN_KAMPUNG_KB": _L("Pengembangan Kampung Keluarga Berkualitas", "Developing Kampung KB"),
        "KEMANDIRIAN_EKONOMI_KELUARGA": _L(
            "Meningkatnya kemandirian ekonomi keluarga", "Greater economic independence of families"
        ),
        "USAHA_NELAYAN": _L(
            "Fasilitasi dan pembinaan pengembangan usaha nelayan", "Support for developing fishers' businesses"
        ),
        "PEMBENIHAN_IKAN": _L(
            "Terkelolanya sistem pembenihan ikan yang berkelanjutan", "A sustainably managed fish seed system"
        ),
        "STBM": _L(
            "Pemicuan Sanitasi Total Berbasis Masyarakat (STBM)", "Triggering community-led total sanitation (STBM)"
        ),
        "PERUMAHAN_PERMUKIMAN_LAYAK": _L(
            "Penyediaan Akses Perumahan dan Infrastruktur Permukiman Yang Layak, Aman dan Terjangkau",
            "Access to decent, safe and affordable housing and settlement infrastructure",
        ),
        "PENGENDALIAN_VEKTOR": _L(
            "Pengendalian vektor dan binatang pembawa penyakit", "Control of disease vectors and animal carriers"
        ),
    },
    Tier: {
        "dasar": _L("Dasar", "Basic"),
        "berkembang": _L("Berkembang", "Developing"),
        "mandiri": _L("Mandiri", "Independent"),
        "berkelanjutan": _L("Berkelanjutan", "Sustainable"),
        "belum_terklasifikasi": _L("Belum terklasifikasi", "Not yet classified"),
    },
}
"""Each enum's labels by code value."""


def labels_of(enum: type[StrEnum]) -> list[tuple[str, Label]]:
    """An enum's codes with their labels, in the enum's order."""
    labels = LABELS[enum]
    return [(member.value, labels[member.value]) for member in enum]
