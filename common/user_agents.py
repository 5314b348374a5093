"""A User-Agent header as a short name a person reads: "Firefox on Linux", "Chrome on
Android", "curl", "python-requests". The parsing is ua-parser's (the uap-core rules)."""

from __future__ import annotations

import functools
import re

from ua_parser import parse

# Past this the header is padding or an attack: the rules need only its start.
PARSED_LENGTH = 512
# An unrecognised header shows this many characters of its start.
UNKNOWN_LENGTH = 40

# uap-core names the mobile builds apart; a person knows them by the browser's name.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "HeadlessChrome": "Headless Chrome",
}
_SYSTEM_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
# Control characters (NUL included) never reach a page or a tooltip.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
# A client library's product token: "curl/8.5.0" -> "curl", "python-requests/2.32" -> ...
_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._+-]{0,39}")


def clean_user_agent(user_agent: str) -> str:
    """The header without control characters, spaces squeezed: safe for a title attribute."""
    return " ".join(_CONTROL.sub(" ", user_agent or "").split())


@functools.lru_cache(maxsize=2048)
def browser_label(user_agent: str) -> str:
    """A short name for the client that sent `user_agent`: "Firefox on Linux" for a browser,
    the product's name ("curl", "python-requests") for a library or tool, else the start of
    the header; "" when there is none. Cached: the same few clients repeat on every page."""
    text = clean_user_agent((user_agent or "")[:PARSED_LENGTH])
    if not text:
        return ""
    result = parse(text)
    agent, system = result.user_agent, result.os
    if agent is not None and system is not None and system.family != "Other":
        browser = _BROWSER_NAMES.get(agent.family, agent.family)
        return f"{browser} on {_SYSTEM_NAMES.get(system.family, system.family)}"
    if not text.startswith("Mozilla/"):
        product = _PRODUCT.match(text)
        if product is not None and text[product.end() : product.end() + 1] in ("/", " ", ""):
            return product.group()
    if agent is not None:
        return _BROWSER_NAMES.get(agent.family, agent.family)
    if len(text) <= UNKNOWN_LENGTH:
        return text
    return text[: UNKNOWN_LENGTH - 1].rstrip() + "…"
