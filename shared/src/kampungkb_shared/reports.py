"""What report-worker stores and registry-api serves: the ownership flags and the method mix each aggregate row counts.

A region's row has one `own_<flag>` column per flag (how many counted Kampung KB have it, from the profil in
force); the report shows each as a share. Tiers are counted per `kampungkb_shared.codes.Tier`.
"""

from kampungkb_shared.codes import Contraception

OWNERSHIP_FLAGS = (
    "pokja",
    "sk_pokja",
    "pokja_trained",
    "rumah_dataku",
    "sekretariat",
    "pkb_pendamping",
    "regulation",
    "rkm",
)

METHOD_COLUMNS = {code: code.value.lower() for code in Contraception}
"""Each contraceptive method's column of users (`kb_iud`, ...), in a region's row as in `kkbpk_users`: the method
mix."""
