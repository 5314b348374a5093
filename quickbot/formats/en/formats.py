"""Dates as the portal writes them ("1 Dec 2026", "1 Dec 2026, 08:06"), so the admin's
dates read like the portal's instead of "Dec. 1, 2026, 8:06 a.m."."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
