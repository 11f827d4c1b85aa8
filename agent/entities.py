"""Entity extraction: the identifiers and facts in a ticket that agents would otherwise re-read.

Why it is built this way:

* **Never raises, never hangs.** Ticket text is attacker-controlled. Only stdlib ``re`` is used, every
  pattern is compiled at import, and no pattern nests quantifiers. Every variable-length token either
  starts with a literal (``http``, ``account``, ``$``) or carries a negative look-behind of its own
  character class, so it can only start at the beginning of a run; together with Python 3.11's
  possessive quantifiers that keeps each scan linear even on ``"a@" * 25000``. Patterns find loose
  candidates; plain Python validates them (host names, digit counts), which is easier to get right than
  a regex that tries to do both.
* **Bounded work.** Only the first :data:`MAX_SCAN_CHARS` characters are scanned: the longest valid
  ``Ticket.text`` (1,000-character subject + newline + 50,000-character description), so no real ticket
  loses entities, while oversized input from any other caller costs at most that much CPU.
* **One span, one entity.** Passes run from the strongest evidence to the weakest and blank out what
  they took: URLs, e-mails, keyword-anchored account numbers, service IDs and error codes, then money,
  then phone numbers, then street addresses. So digits inside a URL are not a phone number, ``$49.99`` is not a
  phone number, and an account number is never reported again as a phone number.
* **Context over shape.** Account numbers, and service IDs other than ``SVC-…`` and circuit IDs, are
  taken only after a keyword ("account #", "service id:"): a bare 10- or 16-digit run is too ambiguous.
  Bare 10/11-digit phone numbers need a nearby phone word ("call", "cell", "number" …); formatted ones
  (``(555) 123-4567``, ``+1 555 123 4567``) do not.
* **Street addresses need a street-type word and capitalised names.** "123 Main St", "400 N. Elm Avenue Apt 5",
  "350 5th Ave": a house number, one to four street-name words that start with a capital (or are ordinals), then a
  suffix (Street, St, Avenue, Rd, ...) in any case, then an optional unit. US-style only; "123 main st" typed all in
  lower case is not taken, because "paid 40 for the main st..." shows how loose a case-blind pattern would be.
  City, state and ZIP are left alone: without the street they identify nobody.
* **Spans for masking.** :func:`locate_entities` reports where each value was found in the text as the extractor
  read it (NFKC-folded, invisibles removed), so the agent tier can replace account numbers, phone numbers, e-mail
  and street addresses with placeholders without a second, diverging set of patterns.
* **Order, ticket and case numbers are not service IDs.** They point at records in our own systems, not
  at a provisioned service; putting them in ``service_ids`` would send inventory look-ups after the
  wrong key. They are left out until the model has a field for them.
* **Normalised output, first-seen order, no duplicates,** at most :data:`MAX_PER_FIELD` per field.
  Phone numbers are E.164 (``+15551234567``), account numbers digits only, service IDs and error codes
  upper case, e-mail domains and URL hosts lower case (local parts and paths are case-sensitive).
* **Full-width digits count, other scripts' digits do not.** Input is NFKC-folded, so digits typed on
  CJK keyboards count (``５５５`` is ``555``); digits of other scripts (Arabic-Indic, Devanagari …) do
  not, because NFKC leaves them alone and every pattern uses ``[0-9]``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from datalayer.types.entities import ExtractedEntities, MoneyAmount

logger = logging.getLogger(__name__)

MAX_SCAN_CHARS = 51_001
"""Longest valid ``Ticket.text``; see the module docstring for why text beyond it is ignored."""

MAX_PER_FIELD = 100
"""First-seen entities kept per field: plenty for routing, and it bounds the record stored with the ticket."""

_MAX_URL_CHARS = 2_048  # the de facto limit of browsers and CDNs; anything longer is noise, not a link

# A hit is (start, end, normalised value) in the working text.
_Hit = tuple[int, int, str]
_Finder = Callable[[str], list[_Hit]]


# --------------------------------------------------------------------------------------------------
# Input normalisation


def _build_translation() -> dict[int, str | None]:
    """Map characters that hide or split entities: controls become spaces, invisibles vanish, dashes unify.

    Zero-width and bidi characters are *removed* rather than spaced, so "555", U+200B, "-123-4567" (pasted
    from a web page) still reads as a phone number; NUL and other controls become spaces so they split tokens.
    """
    table: dict[int, str | None] = {code: " " for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
    for keep in "\t\n\r":
        del table[ord(keep)]
    invisible = (0x00AD, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x206A))
    table.update(dict.fromkeys((*invisible, 0xFEFF)))
    table.update(dict.fromkeys((*range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63), "-"))
    table.update(dict.fromkeys((0x2028, 0x2029), "\n"))
    return table


_TRANSLATION = _build_translation()
_SURROGATES = re.compile(r"[\ud800-\udfff]")  # lone surrogates cannot be encoded as JSON/UTF-8 downstream


def _normalise(text: str) -> str:
    """Cap, fold (NFKC: full-width → ASCII, ``№`` → ``No``) and clean the text; cap again after folding
    because NFKC can lengthen a string."""
    text = _SURROGATES.sub("", text[:MAX_SCAN_CHARS])
    return unicodedata.normalize("NFKC", text).translate(_TRANSLATION)[:MAX_SCAN_CHARS]


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the given spans by spaces (same length, so later offsets stay valid)."""
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in sorted(spans):
        start = max(start, last)
        if end <= start:
            continue
        parts.append(text[last:start])
        parts.append(" " * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _run(text: str, finders: tuple[_Finder, ...]) -> tuple[list[_Hit], str]:
    """Apply finders in turn, blanking each one's hits before the next; hits in text order."""
    hits: list[_Hit] = []
    for finder in finders:
        found = finder(text)
        hits.extend(found)
        text = _blank(text, [(start, end) for start, end, _ in found])
    hits.sort(key=lambda hit: hit[0])
    return hits, text


def _distinct(hits: list[_Hit]) -> list[str]:
    """The hits' values in text order, each once, at most :data:`MAX_PER_FIELD`."""
    return list(dict.fromkeys(value for _, _, value in hits))[:MAX_PER_FIELD]


# --------------------------------------------------------------------------------------------------
# Shared validation


def _valid_host(host: str, *, allow_ip: bool) -> bool:
    """A DNS name with at least two labels and an alphabetic (or IDN ``xn--``) TLD, or a dotted IPv4."""
    if not host or len(host) > 253:
        return False
    labels = host.split(".")
    if len(labels) < 2:
        return False
    if all(label.isascii() and label.isdigit() for label in labels):
        return allow_ip and len(labels) == 4 and all(len(label) <= 3 and int(label) <= 255 for label in labels)
    for label in labels:
        if not 0 < len(label) <= 63 or label[0] == "-" or label[-1] == "-":
            return False
        if not all(char.isalnum() or char == "-" for char in label):
            return False
    tld = labels[-1]
    return (len(tld) >= 2 and tld.isalpha()) or (tld.lower().startswith("xn--") and len(tld) > 4)


# Han, kana and Hangul. Chinese, Japanese and Korean text puts no space around an address, so where ASCII
# meets these scripts inside one candidate, the boundary is taken as the end of the address.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _ascii_then_cjk(value: str) -> int:
    """Length of ``value`` up to the first CJK character when it starts in ASCII, else its full length."""
    if not value or not value[0].isascii():
        return len(value)
    found = _CJK.search(value)
    return found.start() if found else len(value)


# Written like a NANP phone number (grouped 3-3-4); such values are left to the phone pass, not taken as
# IDs. Bare ten-digit runs after "account" stay accounts: several carriers use ten-digit account numbers.
_PHONE_SHAPE = re.compile(r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ .-]?|[2-9][0-9]{2}[ .-])[0-9]{3}[ .-][0-9]{4}")


def _is_phone_shaped(value: str) -> bool:
    return _PHONE_SHAPE.fullmatch(value) is not None


# --------------------------------------------------------------------------------------------------
# URLs

# Starts after anything but an ASCII word character, so "访问https://…" (no space in CJK text) is found.
# Ends at whitespace, at characters never legal in a URL, and at CJK/typographic punctuation and quotes
# (Chinese and Japanese text puts no space before "。").
_URL = re.compile(
    r"(?<![A-Za-z0-9_@./])(?:https?://|www\.)"
    r"[^\s<>\"'`{}|\\^\u00ab\u00bb\u2018\u2019\u201c\u201d\u3001\u3002\u3008-\u3011]++",
    re.IGNORECASE,
)
_URL_TRAILING = frozenset(".,;:!?*")
_URL_CLOSERS = {")": "(", "]": "["}


def _clean_url(raw: str) -> str | None:
    """Strip sentence punctuation (and unbalanced closing brackets) off the end, check the host, lower-case
    the scheme and host only (paths and queries are case-sensitive)."""
    url = raw
    while url:
        last = url[-1]
        if last in _URL_TRAILING or (last in _URL_CLOSERS and url.count(last) > url.count(_URL_CLOSERS[last])):
            url = url[:-1]
            continue
        break
    if len(url) > _MAX_URL_CHARS:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    cut = min((index for index in (rest.find(char) for char in "/?#") if index >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = authority.rpartition("@")
    if (keep := _ascii_then_cjk(hostport)) < len(hostport):  # "见https://example.com谢谢"
        hostport, tail = hostport[:keep], ""
    host, colon, port = hostport.partition(":")
    if colon and not (port.isascii() and port.isdigit()):
        return None
    if not _valid_host(host, allow_ip=True):
        return None
    prefix = f"{scheme.lower()}://" if sep else ""
    return f"{prefix}{userinfo}{at}{hostport.lower()}{tail}"


def _find_urls(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _URL.finditer(text):
        url = _clean_url(match.group())
        if url is not None:
            hits.append((match.start(), match.end(), url))
    return hits


# --------------------------------------------------------------------------------------------------
# E-mail addresses

# ``\w`` is Unicode-aware, so "josé@exemplo.com.br" and "用户@例子.广告" are found; emoji are not.
_EMAIL = re.compile(r"(?<![\w.+%'-])[\w.+%'-]{1,64}+@[\w.-]{1,255}+")


def _clean_email(raw: str) -> str | None:
    local, _, domain = raw.partition("@")
    ascii_tail = len(local) - _ascii_then_cjk(local[::-1])
    local = local[ascii_tail:].lstrip("'")  # "请联系我user@example.com谢谢"
    domain = domain[: _ascii_then_cjk(domain)].rstrip(".-")
    if not local or local[0] == "." or local[-1] == "." or ".." in local:
        return None
    if not _valid_host(domain, allow_ip=False):
        return None
    return f"{local}@{domain.lower()}"


def _find_emails(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _EMAIL.finditer(text):
        email = _clean_email(match.group())
        if email is not None:
            hits.append((match.start(), match.end(), email))
    return hits


# --------------------------------------------------------------------------------------------------
# Account numbers (keyword-anchored only)

_ACCOUNT = re.compile(
    r"""
    \b(?:
        (?:billing[ ]|customer[ ])?(?:account|acct|acc|a/c|(?-i:BAN))\.?
            (?:\s{0,3}(?:number|num|nbr|no\.?|id|\#))?
      | customer\s{0,3}(?:number|num|no\.?|id|\#)
    )
    \s{0,3}[:#=.-]?\s{0,3}(?:is\s{1,3})?
    (?P<value>[0-9](?:[0-9]|[ -](?=[0-9])){5,29}+)
    (?![0-9A-Za-z])
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Years, year ranges and dates that happen to follow "account" ("account 2023-05-12 was closed").
_DATE_LIKE = re.compile(
    r"(?:19|20)[0-9]{2}(?:[ -][0-9]{1,2}[ -][0-9]{1,2}|[ -](?:19|20)[0-9]{2})"
    r"|[0-9]{1,2}[ -][0-9]{1,2}[ -](?:19|20)[0-9]{2}"
)


# "account 84951234 555-123-4567": the space-grouping that Comcast numbers need also glues on a phone number.
_TRAILING_PHONE = re.compile(r"(?P<head>[0-9 -]+?) (?:1[ -]?)?[2-9][0-9]{2}[ -][0-9]{3}[ -][0-9]{4}")


def _find_accounts(text: str) -> list[_Hit]:
    """Digits only, 6-20 of them: Comcast prints 16 digits in groups ("8773 10 123 4567890") and customers
    copy whatever grouping they see, so the grouping is not part of the identity."""
    hits: list[_Hit] = []
    for match in _ACCOUNT.finditer(text):
        value = match.group("value")
        glued = _TRAILING_PHONE.fullmatch(value)
        if glued:
            value = glued.group("head")
        digits = value.replace(" ", "").replace("-", "")
        if not 6 <= len(digits) <= 20 or _is_phone_shaped(value) or _DATE_LIKE.fullmatch(value):
            continue
        hits.append((match.start("value"), match.start("value") + len(value), digits))
    return hits


# --------------------------------------------------------------------------------------------------
# Service IDs

_SERVICE_PREFIXED = re.compile(r"(?<![0-9A-Za-z])SVC[-_ ]?(?P<digits>[0-9]{4,12})(?![0-9A-Za-z])", re.IGNORECASE)
_SERVICE_KEYWORD = re.compile(
    r"""
    \b(?:
        (?:service|svc)[ ]?(?:id|identifier|\#)
      | (?:circuit|ckt)(?:[ ]?(?:id|identifier|number|no\.?|\#))?
    )
    \s{0,3}[:#=]?\s{0,3}(?:is\s{1,3})?
    (?P<value>[A-Za-z0-9](?:[A-Za-z0-9]|[-/_.](?=[A-Za-z0-9])){2,39}+)
    (?![A-Za-z0-9])
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Telcordia-style serial-number circuit IDs: prefix/service code/serial[/suffix][/company].
_CIRCUIT = re.compile(r"(?<![0-9A-Za-z/])[0-9]{2}/[A-Z]{2,4}/[0-9]{5,6}(?:/[0-9]{3})?(?:/[A-Z]{2,4})?(?![0-9A-Za-z/])")


def _find_prefixed_services(text: str) -> list[_Hit]:
    return [(m.start(), m.end(), f"SVC-{m.group('digits')}") for m in _SERVICE_PREFIXED.finditer(text)]


def _find_keyword_services(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _SERVICE_KEYWORD.finditer(text):
        value = match.group("value")
        # Service IDs carry at least three digits; "circuit 12/circuit" is prose.
        if sum(char.isdigit() for char in value) >= 3 and not _is_phone_shaped(value):
            hits.append((match.start("value"), match.end("value"), value.upper()))
    return hits


def _find_circuits(text: str) -> list[_Hit]:
    return [(m.start(), m.end(), m.group()) for m in _CIRCUIT.finditer(text)]


# --------------------------------------------------------------------------------------------------
# Error codes

# Browser network errors, as Chrome/Edge/Firefox print them ("NET::ERR_CERT_DATE_INVALID").
_NET_ERROR = re.compile(
    r"(?<![A-Za-z0-9_])(?:NET::)?"
    r"(?P<value>(?:ERR|DNS_PROBE|INET_E|SSL_ERROR|SEC_ERROR|NS_ERROR|MOZILLA_PKIX_ERROR)_[A-Z0-9_]{2,60}+)"
    r"(?![A-Za-z0-9_])"
)
# Set-top and platform codes (Comcast X1 "RDK-03003", "XRE-03059"). Generic "E-" needs four digits so that
# "E-911" (emergency calling, a service) is not an error.
_PREFIXED_ERROR = re.compile(r"(?<![A-Za-z0-9-])(?:(?:RDK|XRE|RNG|TVE|VOD|STB)-[0-9]{3,6}|E-[0-9]{4,5})(?![A-Za-z0-9])")
_S_ERROR = re.compile(r"(?<![A-Za-z0-9])S0[0-9A-F][0-9]{2}(?![A-Za-z0-9])")  # Comcast "S0A00", "S0600"
_HEX_ERROR = re.compile(r"(?<![0-9A-Za-z])0[xX](?P<hex>[0-9A-Fa-f]{4,8})(?![0-9A-Za-z])")  # Windows HRESULTs
_KEYWORD_ERROR = re.compile(
    r"""
    \b(?:
        errors?(?:[ -]?(?:code|number|no\.?|num|\#))?
      | err\.?(?:[ -]?(?:code|no\.?|\#))?
      | (?:fault|status|reason|return|exit)[ -]code
      | (?P<bare>code)
    )
    \s{0,3}[:#=]?\s{0,3}(?:(?:is|was)\s{1,3})?
    (?P<value>[A-Za-z0-9](?:[A-Za-z0-9]|[-_](?=[A-Za-z0-9])){2,31}+)
    (?![A-Za-z0-9])
    """,
    re.IGNORECASE | re.VERBOSE,
)
_ERROR_BEFORE_WORD = re.compile(r"(?<![0-9A-Za-z.,$])[0-9]{3}(?=[ -]error\b)", re.IGNORECASE)  # "a 651 error"
# "code" alone is an error code unless the word before says it is something else ("zip code 90210").
_NOT_ERROR_CODE = re.compile(
    r"\b(?:zip|postal|post|area|promo|promotional|discount|coupon|voucher|gift|referral|verification|security"
    r"|access|activation|confirmation|reference|pin|qr|bar|country|source|tax|offer|sort|swift|otp|auth"
    r"|authorization|authentication|one-time|2fa|mfa|login|sms)[\s-]{0,3}$",
    re.IGNORECASE,
)
_HEX_VALUE = re.compile(r"0[xX][0-9A-Fa-f]{4,8}")


def _normalise_error(value: str) -> str:
    return f"0x{value[2:].upper()}" if _HEX_VALUE.fullmatch(value) else value.upper()


def _find_net_errors(text: str) -> list[_Hit]:
    return [(m.start(), m.end(), m.group("value").rstrip("_")) for m in _NET_ERROR.finditer(text)]


def _find_pattern_errors(text: str) -> list[_Hit]:
    hits = [(m.start(), m.end(), m.group()) for m in _PREFIXED_ERROR.finditer(text)]
    hits += [(m.start(), m.end(), m.group()) for m in _S_ERROR.finditer(text)]
    hits += [(m.start(), m.end(), f"0x{m.group('hex').upper()}") for m in _HEX_ERROR.finditer(text)]
    return hits


def _find_keyword_errors(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _KEYWORD_ERROR.finditer(text):
        value = match.group("value")
        # Codes are at least as much digits as letters ("S0A00", "RDK-03003"); "error 1-code" is prose.
        digits = sum(char.isdigit() for char in value)
        if not digits or digits < sum(char.isalpha() for char in value) or _is_phone_shaped(value):
            continue
        if match.group("bare") and _NOT_ERROR_CODE.search(text, max(0, match.start() - 32), match.start()):
            continue
        hits.append((match.start("value"), match.end("value"), _normalise_error(value)))
    hits += [(m.start(), m.end(), m.group()) for m in _ERROR_BEFORE_WORD.finditer(text)]
    return hits


# --------------------------------------------------------------------------------------------------
# Money

# "1,234.56", "45", "45.5", "20,50" (decimal comma, exactly two digits). Bounded so that the float is finite.
_AMOUNT = r"(?:[0-9]{1,3}(?:,[0-9]{3}){1,4}(?:\.[0-9]{1,2})?|[0-9]{1,12}(?:\.[0-9]{1,2}|,[0-9]{2})?)(?![0-9]|[.,][0-9])"
_ISO = r"USD|EUR|GBP|CAD|AUD|JPY|INR|MXN"
_MONEY = re.compile(
    rf"""
      (?<![A-Za-z0-9])(?P<sym>(?-i:US\$|CA?\$|AU?\$)|[$€£¥₹])\s?(?P<amt1>{_AMOUNT})(?:\s?(?P<iso1>USD|CAD|AUD)\b)?
    | (?<![A-Za-z])(?P<iso2>{_ISO})\s?(?P<amt2>{_AMOUNT})
    | (?<![\w.,$€£¥₹])(?P<amt3>{_AMOUNT})\s?
        (?P<unit>{_ISO}|(?:US\s)?dollars?|bucks|euros?|cents?|[¢€£¥])(?![A-Za-z])
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SYMBOL_CURRENCY = {
    "$": "USD",
    "US$": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
}
_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]{2}")


def _parse_amount(text: str) -> float:
    if _DECIMAL_COMMA.fullmatch(text):
        return float(text.replace(",", "."))
    return float(text.replace(",", ""))


def _unit_currency(unit: str) -> tuple[str, float]:
    """Currency of a trailing unit word and the factor that turns the number into that currency."""
    unit = unit.lower()
    if unit.startswith("cent") or unit == "¢":
        return "USD", 0.01
    if unit.startswith("euro"):
        return "EUR", 1.0
    if unit in _SYMBOL_CURRENCY:
        return _SYMBOL_CURRENCY[unit], 1.0
    if unit.upper() in _ISO.split("|"):
        return unit.upper(), 1.0
    return "USD", 1.0  # dollars, bucks


def _find_money(text: str) -> tuple[list[MoneyAmount], list[tuple[int, int]]]:
    """Money needs a currency marker: "$45", "USD 30", "30.00 USD", "45 dollars"; "50 Mbps" is a speed.

    Returns the amounts deduplicated by (amount, currency), first mention kept, so hostile input does not
    build thousands of models, and the span of every mention, to blank before the phone pass.
    """
    spans: list[tuple[int, int]] = []
    seen: dict[tuple[float, str], MoneyAmount] = {}
    for match in _MONEY.finditer(text):
        if match.group("sym"):
            amount = _parse_amount(match.group("amt1"))
            currency = (match.group("iso1") or "").upper() or _SYMBOL_CURRENCY[match.group("sym").upper()]
        elif match.group("iso2"):
            amount = _parse_amount(match.group("amt2"))
            currency = match.group("iso2").upper()
        else:
            currency, factor = _unit_currency(match.group("unit"))
            amount = round(_parse_amount(match.group("amt3")) * factor, 4)
        if (amount, currency) not in seen:
            seen[amount, currency] = MoneyAmount(amount=amount, currency=currency, text=match.group())
        spans.append(match.span())
    return list(seen.values()), spans


# --------------------------------------------------------------------------------------------------
# Phone numbers

# NANP: optional +1/1, area code 2-9xx (parenthesised or not), exchange, line. Not inside a longer number,
# a word, an amount or a path; separators are optional here, bare runs are checked for context in Python.
_NANP = re.compile(
    r"""
    (?<![0-9A-Za-z+$€£¥/])(?<![0-9][.,-])
    (?P<cc>\+?1[ .-]?)?
    (?:\((?P<area1>[2-9][0-9]{2})\)[ .-]?|(?P<area2>[2-9][0-9]{2})[ .-]?)
    (?P<exchange>[0-9]{3})[ .-]?(?P<line>[0-9]{4})
    (?![0-9]|[.-][0-9])
    """,
    re.VERBOSE,
)
# Toll-free vanity numbers ("1-800-COMCAST"), upper-case letters only so ordinary words are not dialled.
_VANITY = re.compile(
    r"(?<![0-9A-Za-z+])(?:\+?1[ .-]?)?(?P<prefix>8(?:00|33|44|55|66|77|88))[ .-](?P<word>[A-Z0-9]{3}-?[A-Z0-9]{4})"
    r"(?![A-Za-z0-9-])"
)
# International: "+" then 7-15 digits with single separators; "(0)" is the UK/EU trunk prefix, dropped.
_INTERNATIONAL = re.compile(r"(?<![0-9A-Za-z+])\+[1-9](?:[0-9]|[ .-](?=[0-9(])|\([0-9]{1,4}\)){6,24}+(?![0-9])")
_PHONE_CONTEXT = re.compile(
    r"\b(?:call(?:ed|ing)?|phone|tel|telephone|cell|mobile|text|sms|reach|contact|number|callback|landline|fax)\b",
    re.IGNORECASE,
)
_KEYPAD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")


def _find_nanp(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _NANP.finditer(text):
        raw = match.group()
        # A bare digit run ("5551234567") is a phone number only where a phone word precedes it.
        if raw.isdigit() and not _PHONE_CONTEXT.search(text, max(0, match.start() - 32), match.start()):
            continue
        area = match.group("area1") or match.group("area2")
        hits.append((match.start(), match.end(), f"+1{area}{match.group('exchange')}{match.group('line')}"))
    return hits


def _find_vanity(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _VANITY.finditer(text):
        word = match.group("word").replace("-", "")
        if not word.isdigit():
            hits.append((match.start(), match.end(), f"+1{match.group('prefix')}{word.translate(_KEYPAD)}"))
    return hits


def _find_international(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _INTERNATIONAL.finditer(text):
        digits = "".join(char for char in match.group().replace("(0)", "") if char.isdigit())
        if 7 <= len(digits) <= 15:
            hits.append((match.start(), match.end(), f"+{digits}"))
    return hits


# --------------------------------------------------------------------------------------------------
# Street addresses (US style)

_STREET_SUFFIXES = (
    "Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Drive", "Dr", "Lane", "Ln", "Court", "Ct",
    "Place", "Pl", "Way", "Terrace", "Ter", "Circle", "Cir", "Parkway", "Pkwy", "Highway", "Hwy", "Square", "Sq",
    "Trail", "Trl", "Plaza", "Plz", "Alley", "Crescent", "Loop", "Pike",
)  # fmt: skip
# Each part is bounded and possessive where it can be, and a house number can only start at the beginning of a
# token, so a scan does a bounded amount of work per digit run: linear in the text.
_STREET = re.compile(
    rf"""
    (?<![0-9A-Za-z#/.,:$-])
    [0-9]{{1,6}}+(?:[A-Za-z](?![A-Za-z]))?                                # 123, 12B
    [ ]{{1,3}}
    (?:(?:[A-Z][A-Za-z'-]{{0,30}}+\.?|[0-9]{{1,3}}(?:st|nd|rd|th))[ ]{{1,3}}){{1,4}}?   # N. Elm, 5th, Park
    (?i:{"|".join(sorted(_STREET_SUFFIXES, key=len, reverse=True))})\.?
    (?![A-Za-z0-9])
    (?:[ ]{{1,3}}(?:[NS][EW]?|[EW])\.?(?![A-Za-z0-9]))?                       # Pennsylvania Avenue NW
    (?:,?[ ]{{1,3}}(?:(?i:apartment|apt|suite|ste|unit|floor|fl)\.?[ ]{{0,3}}\#?|\#[ ]?)
        [0-9A-Za-z][0-9A-Za-z-]{{0,7}}+(?![0-9A-Za-z]))?                    # Apt 5, Suite 200, #12
    """,
    re.VERBOSE,
)


def _find_street_addresses(text: str) -> list[_Hit]:
    """Whitespace collapsed and a trailing period left to the sentence: "400 N. Elm  Ave." gives "400 N. Elm Ave"."""
    hits: list[_Hit] = []
    for match in _STREET.finditer(text):
        address = match.group().rstrip(".,")
        hits.append((match.start(), match.start() + len(address), " ".join(address.split())))
    return hits


# --------------------------------------------------------------------------------------------------
# Entry point

EntityField = str
"""The name of an ``ExtractedEntities`` list of strings (``"phone_numbers"``, ``"street_addresses"`` ...)."""


@dataclass(frozen=True)
class EntitySpan:
    """Where one entity was found: ``text[start:end]`` of the text :func:`locate_entities` returns, and the
    normalised value ``extract_entities`` reports for it."""

    field: EntityField
    start: int
    end: int
    value: str


def extract_entities(text: str | None) -> ExtractedEntities:
    """Everything recognisable in ``text``; empty entities for ``None``, non-``str`` input or empty text.

    Never raises: extraction is enrichment, and a routing decision without entities beats a failed ticket.
    The guard below is for bugs only; the property tests check that :func:`_extract` itself does not raise.
    """
    if not isinstance(text, str) or not text:
        return ExtractedEntities()
    try:
        return _extract(text)
    except Exception:  # pragma: no cover - defensive; ticket text is deliberately not logged (PII)
        logger.exception("entity extraction failed; continuing without entities")
        return ExtractedEntities()


def locate_entities(text: str | None) -> tuple[str, list[EntitySpan]]:
    """The text as the extractor read it (NFKC-folded, invisible characters removed, capped at
    :data:`MAX_SCAN_CHARS`) and every entity found in it, in text order; money is not located.

    Offsets refer to the returned text, not to ``text``: folding can change lengths. Never raises, like
    :func:`extract_entities`.
    """
    if not isinstance(text, str) or not text:
        return "", []
    try:
        read, hits, _ = _passes(text)
    except Exception:  # pragma: no cover - defensive, as in extract_entities
        logger.exception("entity location failed; continuing without entities")
        return "", []
    spans = [EntitySpan(name, start, end, value) for name, found in hits.items() for start, end, value in found]
    return read, sorted(spans, key=lambda span: span.start)


def _extract(text: str) -> ExtractedEntities:
    _, hits, money = _passes(text)
    return ExtractedEntities(**{name: _distinct(found) for name, found in hits.items()}, money_amounts=money)


def _passes(text: str) -> tuple[str, dict[EntityField, list[_Hit]], list[MoneyAmount]]:
    """The passes, strongest evidence first; each blanks what it took (see the module docstring). Returns the text
    they read, the hits of every string field and the money amounts."""
    read = _normalise(text)
    hits: dict[EntityField, list[_Hit]] = {}
    hits["urls"], work = _run(read, (_find_urls,))
    hits["emails"], work = _run(work, (_find_emails,))
    hits["account_numbers"], work = _run(work, (_find_accounts,))
    hits["service_ids"], work = _run(work, (_find_prefixed_services, _find_circuits, _find_keyword_services))
    hits["error_codes"], work = _run(work, (_find_net_errors, _find_pattern_errors, _find_keyword_errors))
    money, spans = _find_money(work)
    work = _blank(work, spans)
    hits["phone_numbers"], work = _run(work, (_find_nanp, _find_vanity, _find_international))
    hits["street_addresses"], _ = _run(work, (_find_street_addresses,))
    return read, hits, money[:MAX_PER_FIELD]
