"""The entrepreneur's tracking page (/track), mobile first.

A visitor opens one filing with its tracking code (the receipt's QR code fills it in) and the
last four digits of the legal representative's mobile (`pages`). Failed attempts are
rate-limited per client address and per tracking code, and every failure reads the same,
whether the code exists or not. Success gives the browser a new session (`visits`: server-side
in `orchestrator.filings.tracking`, short-lived, an HttpOnly and SameSite cookie) that reaches
that one filing only.

Acting on the filing (rating it once complete, `rating`; supplying a 容缺 material, `supplying`)
needs a one-time code texted to the mobile (`orchestrator.identity.one_time_codes`).
`app.create_tracking` puts it together; bank_portal/web.py mounts it at `TRACK_PATH`.
"""

from __future__ import annotations

# Where the tracking page is served and the query parameter that fills its code in are the
# core's (its texts carry the link too): the receipt's QR code, the mount in bank_portal/web.py
# and the form read them from there.
from orchestrator.settings import CODE_PARAMETER, TRACK_PATH, tracking_url

__all__ = ["CODE_PARAMETER", "TRACK_PATH", "tracking_url"]
