"""What report-worker stores and registry-api serves about ownership: the flags each aggregate row counts.

A region's row has one `own_<flag>` column per flag (how many counted Kampung KB have it, from the profil in
force); the report shows each as a share. Tiers are counted per `kampungkb_shared.codes.Tier`.
"""

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
