"""The words of the officer's page in Indonesian (the default) and English."""

from registry_api.charts.labels import Lang

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Dasbor Kampung KB", "Kampung KB dashboard"),
    "nation": ("Nasional", "Nation"),
    "period": ("Periode", "Period"),
    "ruleset": ("Aturan klasifikasi", "Rule set"),
    "show": ("Tampilkan", "Show"),
    "language": ("English", "Bahasa Indonesia"),
    "login": ("Masuk", "Sign in"),
    "logout": ("Keluar", "Sign out"),
    "api_key": ("Kunci API", "API key"),
    "login_intro": (
        "Masukkan kunci API Anda. Kunci disimpan dalam cookie HttpOnly untuk sesi ini saja.",
        "Enter your API key. It is kept in an HttpOnly cookie for this session only.",
    ),
    "login_failed": ("Kunci API tidak dikenal atau kedaluwarsa.", "Unknown or expired API key."),
    "signed_in_as": ("Masuk sebagai", "Signed in as"),
    "public_view": ("Tampilan publik", "Public view"),
    "not_computed": (
        "Angka periode ini belum dihitung. Pilih periode lain.",
        "The figures of this period are not computed yet. Pick another period.",
    ),
    "headline": ("Angka utama", "Headline figures"),
    "kampung_total": ("Kampung KB", "Kampung KB"),
    "desa_total": ("Desa/kelurahan", "Desa/kelurahan"),
    "coverage_pct": ("Cakupan (%)", "Coverage (%)"),
    "mandiri_plus_pct": ("Mandiri + berkelanjutan (%)", "Mandiri + berkelanjutan (%)"),
    "reporting_rate_pct": ("Tingkat pelaporan (%)", "Reporting rate (%)"),
    "cpr_pct": ("CPR (%)", "CPR (%)"),
    "mkjp_pct": ("MKJP (%)", "Long-acting methods (%)"),
    "unmet_need_pct": ("Unmet need (%)", "Unmet need (%)"),
    "pus": ("PUS", "Couples of reproductive age (PUS)"),
    "targets": ("Target dan selisih", "Targets and gaps"),
    "target": ("Target", "Target"),
    "target_value": ("Nilai target", "Target value"),
    "actual": ("Capaian", "Actual"),
    "gap": ("Selisih", "Gap"),
    "expected_now": ("Seharusnya kini", "Expected now"),
    "on_track": ("Sesuai jalur", "On track"),
    "yes": ("Ya", "Yes"),
    "no": ("Tidak", "No"),
    "formation_pct": ("Pembentukan (%)", "Formation (%)"),
    "mandiri_plus_increase_pts": ("Kenaikan mandiri + (poin)", "Mandiri + increase (points)"),
    "charts": ("Grafik", "Charts"),
    "children": ("Wilayah di bawahnya", "Regions below"),
    "desa_list": ("Desa/kelurahan dan Kampung KB", "Desa/kelurahan and their Kampung KB"),
    "region": ("Wilayah", "Region"),
    "kind": ("Jenis", "Kind"),
    "kampung": ("Kampung KB", "Kampung KB"),
    "tier": ("Klasifikasi", "Tier"),
    "reported": ("Melapor", "Reported"),
    "next_tier": ("Langkah ke klasifikasi berikutnya", "Steps to the next tier"),
    "none": ("Belum ada Kampung KB", "No Kampung KB yet"),
    "needs_key": (
        "Masuk dengan kunci yang mencakup wilayah ini untuk melihatnya.",
        "Sign in with a key covering this region to see it.",
    ),
    "chase": ("Daftar yang perlu ditindaklanjuti", "The list to chase"),
    "status": ("Status", "Status"),
    "last_submission": ("Kiriman terakhir", "Last submission"),
    "on_time": ("Tepat waktu", "On time"),
    "late": ("Terlambat", "Late"),
    "missing": ("Belum lapor", "Missing"),
    "quality": ("Catatan kualitas data", "Data-quality flags"),
    "quality_open": ("Terbuka", "Open"),
    "quality_checked": ("Sudah dicek", "Checked"),
    "quality_none": ("Tidak ada catatan terbuka.", "No open flags."),
    "quality_more": (
        "Hanya catatan pertama yang ditampilkan; daftar lengkap lewat GET /v1/quality/{code}.",
        "Only the first flags are shown; the whole list is GET /v1/quality/{code}.",
    ),
    "flag_kkbpk_outlier": ("Pencilan KKBPK", "KKBPK outlier"),
    "flag_jump": ("Lonjakan PUS/penduduk", "Jump in PUS or population"),
    "flag_implausible_ratio": ("Rasio tidak wajar", "Implausible ratio"),
    "subject": ("Tentang", "About"),
    "value": ("Nilai", "Value"),
    "subject_TOTAL": ("Semua peserta KB", "All KB users"),
    "subject_pus": ("PUS", "PUS"),
    "subject_population": ("Jumlah penduduk", "Population"),
    "subject_single_method": ("Satu metode saja", "One method only"),
    "subject_cpr_100": ("CPR 100 %", "CPR of 100 %"),
    "export": ("Unduh", "Download"),
    "percontohan": ("Kampung KB percontohan", "Model Kampung KB"),
    "computed_at": ("Dihitung pada", "Computed at"),
    "skip": ("Langsung ke isi", "Skip to content"),
    "chart_tiers": ("Kampung KB per klasifikasi", "Kampung KB per tier"),
    "chart_trend": ("Perkembangan klasifikasi dan target", "Tiers over time and the target"),
    "chart_reporting": ("Ketepatan laporan per wilayah", "Reporting timeliness per region"),
    "chart_kkbpk": (
        "CPR, MKJP, unmet need dan mix kontrasepsi per wilayah",
        "CPR, long-acting methods, unmet need and method mix per region",
    ),
    "chart_alt": ("angkanya ada di tabel di bawah grafik", "its figures are in the table below the chart"),
    "chart_figures": ("Angka grafik ini", "This chart's figures"),
    "module": ("Modul laporan", "Report module"),
    "group_shown": ("Ditampilkan", "Shown"),
    "group_months": ("Bulan", "Months"),
    "group_quarters": ("Triwulan", "Quarters"),
    "group_years": ("Tahun", "Years"),
    "error_title": ("Halaman tidak dapat ditampilkan", "The page cannot be shown"),
    "error_401": ("Masuk dengan kunci API untuk melihat ini.", "Sign in with an API key to see this."),
    "error_403": ("Permintaan ini tidak diizinkan.", "This request is not allowed."),
    "error_404": ("Wilayah atau halaman ini tidak ada.", "There is no such region or page."),
    "error_422": ("Alamat halaman ini tidak sah.", "The address of this page is not valid."),
    "error_429": ("Terlalu banyak permintaan. Coba lagi sebentar lagi.", "Too many requests. Try again shortly."),
    "error_other": ("Permintaan ini tidak dapat dilayani.", "This request cannot be served."),
    "error_detail": ("Rincian (bahasa Inggris)", "Details"),
    "back_to_nation": ("Kembali ke halaman nasional", "Back to the nation's page"),
}


class Translate:
    """The page's `t(key)`: a word in the language of the page."""

    def __init__(self, lang: Lang) -> None:
        self.index = 0 if lang == "id" else 1

    def __call__(self, key: str) -> str:
        return WORDS[key][self.index]

    def subject(self, subject: str) -> str:
        """A flag's subject in words; a method code (an outlier's) stays as it is."""
        words = WORDS.get(f"subject_{subject}")
        return subject if words is None else words[self.index]
