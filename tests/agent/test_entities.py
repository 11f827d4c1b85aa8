"""Entity extraction: real telecom ticket text, false positives, hostile and arbitrary input."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import entities as entities_module
from agent.entities import MAX_PER_FIELD, MAX_SCAN_CHARS, extract_entities, locate_entities
from datalayer.types.entities import ExtractedEntities, MoneyAmount


def money(text: str) -> list[tuple[float, str]]:
    return [(m.amount, m.currency) for m in extract_entities(text).money_amounts]


# --------------------------------------------------------------------------------------------------
# Realistic tickets


def test_fcc_complaint_style_ticket() -> None:
    text = (
        "FCC complaint: I was charged $89.99 instead of the promised $49.99 on account 8771 20 123 4567890, "
        "called 1-800-934-6489 four times since 2015 and was promised a credit of 40 dollars on 03/14/2024. "
        "My box shows error RDK-03003 and the modem page says DNS_PROBE_FINISHED_NXDOMAIN. "
        "Reach me at (617) 555-0142 or Jane.Doe+fcc@Mail.Example.COM. "
        "See https://www.xfinity.com/support/articles/billing?ref=5551234567). Internet is 50 Mbps, not 300 Mbps."
    )
    entities = extract_entities(text)

    assert entities.account_numbers == ["8771201234567890"]
    assert entities.phone_numbers == ["+18009346489", "+16175550142"]
    assert entities.error_codes == ["RDK-03003", "DNS_PROBE_FINISHED_NXDOMAIN"]
    assert entities.emails == ["Jane.Doe+fcc@mail.example.com"]
    assert entities.urls == ["https://www.xfinity.com/support/articles/billing?ref=5551234567"]
    assert entities.money_amounts == [
        MoneyAmount(amount=89.99, currency="USD", text="$89.99"),
        MoneyAmount(amount=49.99, currency="USD", text="$49.99"),
        MoneyAmount(amount=40.0, currency="USD", text="40 dollars"),
    ]
    assert entities.service_ids == []


def test_business_outage_ticket() -> None:
    text = (
        "Our T1 is down again. Circuit ID 12/ABCD/123456, SVC-1234567, service id: AB12345. "
        "Router logs 'error code: 0x80070005' and the CPE shows E-1234. "
        "Billing account number: 84951234. Escalate to noc@corp.example.net or +44 20 7946 0958."
    )
    entities = extract_entities(text)

    assert entities.service_ids == ["12/ABCD/123456", "SVC-1234567", "AB12345"]
    assert entities.error_codes == ["0x80070005", "E-1234"]
    assert entities.account_numbers == ["84951234"]
    assert entities.emails == ["noc@corp.example.net"]
    assert entities.phone_numbers == ["+442079460958"]
    assert entities.money_amounts == []


# --------------------------------------------------------------------------------------------------
# Account numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("account #123456789", "123456789"),
        ("acct no. 8495-1234-5678", "849512345678"),
        ("Account Number: 84951234", "84951234"),
        ("my account 8773 10 123 4567890 is wrong", "8773101234567890"),
        ("acct#123456789", "123456789"),
        ("account number is 0012345678", "0012345678"),
        ("BAN 987654321", "987654321"),
        ("customer id: 12345678", "12345678"),
        ("Account № 84951234", "84951234"),  # NFKC: № -> No
    ],
)
def test_account_numbers(text: str, expected: str) -> None:
    assert extract_entities(text).account_numbers == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "customer since 2015, account opened in 2015",
        "account 2023-05-12 was closed",
        "account 2015 2016",
        "account ending in 4567",
        "8771201234567890 is on the bill",  # no keyword: too ambiguous
        "order #123456789 and ticket 12345678",
        "my account was charged $89.99 on 12/05/2023",
        "ban 987654321",  # lower-case "ban" is a word, not Billing Account Number
    ],
)
def test_not_account_numbers(text: str) -> None:
    assert extract_entities(text).account_numbers == []


def test_phone_after_account_keyword_is_a_phone_not_an_account() -> None:
    entities = extract_entities("account number: 555-123-4567")
    assert entities.account_numbers == []
    assert entities.phone_numbers == ["+15551234567"]


def test_bare_ten_digits_after_account_keyword_stay_an_account() -> None:
    entities = extract_entities("account number 2125550100")
    assert entities.account_numbers == ["2125550100"]
    assert entities.phone_numbers == []


def test_phone_glued_after_account_number_is_split_off() -> None:
    entities = extract_entities("account 8495 1234 5678 555-123-4567")
    assert entities.account_numbers == ["849512345678"]
    assert entities.phone_numbers == ["+15551234567"]


# --------------------------------------------------------------------------------------------------
# Service IDs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SVC-1234567", "SVC-1234567"),
        ("svc 1234567", "SVC-1234567"),
        ("service id: AB12345", "AB12345"),
        ("Service ID ab-12345.", "AB-12345"),
        ("circuit ID 12/ABCD/123456", "12/ABCD/123456"),
        ("circuit 12/KQGN/123456/000/SB is bouncing", "12/KQGN/123456/000/SB"),
        ("ckt# DHEC.123456..ATI", "DHEC.123456"),
    ],
)
def test_service_ids(text: str, expected: str) -> None:
    assert extract_entities(text).service_ids == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "order #12345678 never shipped",  # orders point at our records, not at a provisioned service
        "the circuit is down",
        "circuit 12/circuit",
        "service number 555-123-4567",
        "appointment on 12/05/2023",
    ],
)
def test_not_service_ids(text: str) -> None:
    assert extract_entities(text).service_ids == []


# --------------------------------------------------------------------------------------------------
# Error codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("error 651 when dialing", "651"),
        ("Error code: S0A00", "S0A00"),
        ("Error Code: s0a00", "S0A00"),
        ("TV says S0600", "S0600"),
        ("E-1234 on the gateway", "E-1234"),
        ("code 404", "404"),
        ("status code 503", "503"),
        ("got a 691 error", "691"),
        ("RDK-03003", "RDK-03003"),
        ("XRE-03059 on every channel", "XRE-03059"),
        ("DNS_PROBE_FINISHED_NXDOMAIN", "DNS_PROBE_FINISHED_NXDOMAIN"),
        ("NET::ERR_CERT_DATE_INVALID", "ERR_CERT_DATE_INVALID"),
        ("0x80070005", "0x80070005"),
        ("error code is 0X800f081f", "0x800F081F"),
        ("error #678.", "678"),
    ],
)
def test_error_codes(text: str, expected: str) -> None:
    assert extract_entities(text).error_codes == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "zip code 90210",
        "promo code SAVE20 did not apply",
        "area code 555",
        "verification code 123456",
        "QR code ABC123",
        "Error: the page cannot be displayed",
        "E-911 address update",  # emergency calling is a service, not an error
        "I got 100 errors",
        "error 3 times",
        "billing error of 300 dollars",
        "error 1-code",
    ],
)
def test_not_error_codes(text: str) -> None:
    assert extract_entities(text).error_codes == []


def test_billing_error_amount_stays_money() -> None:
    assert money("billing error of 300 dollars") == [(300.0, "USD")]


# --------------------------------------------------------------------------------------------------
# Phone numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(555) 123-4567", "+15551234567"),
        ("(555)123-4567", "+15551234567"),
        ("555.123.4567", "+15551234567"),
        ("555-123-4567", "+15551234567"),
        ("555 123 4567", "+15551234567"),
        ("+1 555 123 4567", "+15551234567"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("+15551234567", "+15551234567"),
        ("1-800-934-6489", "+18009346489"),
        ("call me at 5551234567", "+15551234567"),
        ("cell: 15551234567", "+15551234567"),
        ("1-800-COMCAST", "+18002662278"),
        ("1-888-XFINITY", "+18889346489"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+49-30-1234567", "+49301234567"),
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    assert extract_entities(text).phone_numbers == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "$1,234.56 overcharge",
        "charged $555.123.4567?",
        "ticket 5551234567",  # bare digits need a phone word nearby
        "on 2023-05-12 at 14:30:22",
        "12/05/2023",
        "gateway 192.168.100.1",
        "zip 22345-6789",
        "card 4111 2222 3333 4444",
        "123-456-7890",  # area codes never start with 0 or 1
        "account 8773 10 123 4567890",
        "٥٥٥-١٢٣-٤٥٦٧",  # Arabic-Indic digits are not folded by NFKC, so they do not count
        "1-800-flowers",  # vanity needs upper-case letters so ordinary words are not dialled
    ],
)
def test_not_phone_numbers(text: str) -> None:
    assert extract_entities(text).phone_numbers == []


def test_full_width_digits_count() -> None:
    entities = extract_entities("ａｃｃｏｕｎｔ ８４９５１２３４ 電話 ５５５－１２３－４５６７")
    assert entities.account_numbers == ["84951234"]
    assert entities.phone_numbers == ["+15551234567"]


# --------------------------------------------------------------------------------------------------
# E-mail addresses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail John.Doe@Example.COM please", "John.Doe@example.com"),
        ("jane+billing@mail.sub.example.co.uk.", "jane+billing@mail.sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("'jane@example.org'", "jane@example.org"),
        ("mailto:support@comcast.net", "support@comcast.net"),
        ("josé.núñez@exemplo.com.br", "josé.núñez@exemplo.com.br"),
        ("用户@例子.广告", "用户@例子.广告"),
        ("请联系我user@example.com谢谢", "user@example.com"),
        ("メールはtaro.yamada@example.jpです", "taro.yamada@example.jp"),
        ("user@xn--80ak6aa92e.xn--p1ai", "user@xn--80ak6aa92e.xn--p1ai"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert extract_entities(text).emails == [expected]


@pytest.mark.parametrize(
    "text",
    ["a@b", "x@192.168.1.1", ".a@example.com", "a..b@example.com", "@example.com", "user@-bad.com", "😀@x.com"],
)
def test_not_emails(text: str) -> None:
    assert extract_entities(text).emails == []


# --------------------------------------------------------------------------------------------------
# Money


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("$1,234.56", 1234.56, "USD"),
        ("$45", 45.0, "USD"),
        ("45 dollars", 45.0, "USD"),
        ("USD 30", 30.0, "USD"),
        ("30.00 USD", 30.0, "USD"),
        ("€20", 20.0, "EUR"),
        ("20,50 €", 20.5, "EUR"),
        ("£15.50", 15.5, "GBP"),
        ("$ 99.99", 99.99, "USD"),
        ("$30 CAD", 30.0, "CAD"),
        ("C$15", 15.0, "CAD"),
        ("99 cents", 0.99, "USD"),
        ("$1,000,000.00", 1_000_000.0, "USD"),
        ("＄４５", 45.0, "USD"),
    ],
)
def test_money(text: str, amount: float, currency: str) -> None:
    [found] = extract_entities(f"charged {text} today").money_amounts
    assert (found.amount, found.currency, found.text) == (amount, currency, text.replace("＄４５", "$45"))


@pytest.mark.parametrize(
    "text",
    ["50 Mbps", "upgrade to 1 Gbps", "300 Mbps down, 10 up", "channel 45", "2 years", "555-123-4567", "a$5"],
)
def test_not_money(text: str) -> None:
    assert extract_entities(text).money_amounts == []


# --------------------------------------------------------------------------------------------------
# URLs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://www.xfinity.com/support.", "https://www.xfinity.com/support"),
        ("(https://example.com/a?b=1&c=2)", "https://example.com/a?b=1&c=2"),
        ("https://en.wikipedia.org/wiki/Foo_(bar), ok", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("www.comcast.com/billing!", "www.comcast.com/billing"),
        ("HTTPS://User@Example.COM:443/Path?Q=1#F", "https://User@example.com:443/Path?Q=1#F"),
        ("http://192.168.100.1/", "http://192.168.100.1/"),
        ("访问https://例子.广告/路径。谢谢", "https://例子.广告/路径"),
        ("见https://example.com谢谢", "https://example.com"),
        ('<a href="http://x.example.org/p">', "http://x.example.org/p"),
    ],
)
def test_urls(text: str, expected: str) -> None:
    assert extract_entities(text).urls == [expected]


@pytest.mark.parametrize("text", ["http://", "https://nodot/", "http://x.com:port/", "example.com", "e.g. this"])
def test_not_urls(text: str) -> None:
    assert extract_entities(text).urls == []


def test_digits_and_addresses_inside_urls_are_not_other_entities() -> None:
    entities = extract_entities("https://portal.example.com/acct/84951234?phone=555-123-4567&to=a@b.example.com&p=$45")
    assert entities.urls == ["https://portal.example.com/acct/84951234?phone=555-123-4567&to=a@b.example.com&p=$45"]
    assert entities.phone_numbers == entities.emails == entities.money_amounts == entities.account_numbers == []


# --------------------------------------------------------------------------------------------------
# Dedupe, normalisation, odd characters, odd input


def test_dedupe_keeps_first_seen_order() -> None:
    entities = extract_entities(
        "Call 555-123-4567, or (555) 123-4567, or 212-555-0100, or +1 555 123 4567. "
        "Charged $45, then 45 dollars, then $10, then USD 45.00. "
        "error 651, error 651, Error code 651. A@Example.com a@x.org A@EXAMPLE.COM"
    )
    assert entities.phone_numbers == ["+15551234567", "+12125550100"]
    assert [(m.amount, m.text) for m in entities.money_amounts] == [(45.0, "$45"), (10.0, "$10")]
    assert entities.error_codes == ["651"]
    assert entities.emails == ["A@example.com", "a@x.org"]  # local parts are case-sensitive (RFC 5321)


def test_invisible_and_control_characters() -> None:
    text = "call 555\u200b-123-4567\x00 then\u202e ‮ acct\u00a0#\u2060123456789 😀👍🏽 error\u00a0651\x07"
    entities = extract_entities(text)
    assert entities.phone_numbers == ["+15551234567"]
    assert entities.account_numbers == ["123456789"]
    assert entities.error_codes == ["651"]


def test_rtl_text_around_entities() -> None:
    entities = extract_entities("رقم الحساب account #84951234 البريد user@example.com شكرا")
    assert entities.account_numbers == ["84951234"]
    assert entities.emails == ["user@example.com"]


@pytest.mark.parametrize("value", [None, b"account #123456789", 123456789, ["$45"], object(), ""])
def test_non_str_or_empty_input_gives_empty_entities(value: object) -> None:
    result = extract_entities(value)  # type: ignore[arg-type]
    assert isinstance(result, ExtractedEntities)
    assert result.is_empty()


def test_scan_is_capped() -> None:
    padding = "x " * (MAX_SCAN_CHARS // 2)
    assert extract_entities(padding + "call 555-123-4567").phone_numbers == []
    assert extract_entities("call 555-123-4567 " + padding).phone_numbers == ["+15551234567"]


def test_entities_per_field_are_capped() -> None:
    text = " ".join(f"user{i}@example.com ${i}" for i in range(MAX_PER_FIELD + 50))
    entities = extract_entities(text)
    assert entities.emails[0] == "user0@example.com"
    assert len(entities.emails) == len(entities.money_amounts) == MAX_PER_FIELD


def test_lone_surrogates_do_not_reach_the_output() -> None:
    entities = extract_entities("see https://example.com/a\ud800b and \udfffuser@example.com")
    assert entities.urls == ["https://example.com/ab"]
    assert entities.emails == ["user@example.com"]
    entities.model_dump_json()  # would raise on a surrogate


# --------------------------------------------------------------------------------------------------
# Hostile input: each is built to trigger catastrophic backtracking in a naive pattern.


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("a@" * 25_000, lambda e: e.emails == []),
        ("1-" * 25_000, lambda e: e.is_empty()),
        ("http://" + "a" * 50_000, lambda e: e.urls == []),
        ("https://example.com/" + "a" * 50_000, lambda e: e.urls == []),  # longer than 2,048 characters
        ("www." * 20_000, lambda e: e.urls == []),
        ("a" * 100_000, lambda e: e.is_empty()),
        ("x@x." * 12_500, lambda e: e.emails == []),
        ("a.b@c.de " * 6_000, lambda e: e.emails == ["a.b@c.de"]),
        ("$1," * 20_000, lambda e: [m.amount for m in e.money_amounts] == [1.0]),
        ("1,000" * 12_000, lambda e: e.is_empty()),
        ("9" * 60_000, lambda e: e.is_empty()),
        ("+1 " * 20_000, lambda e: e.phone_numbers == []),
        ("+1-" * 20_000, lambda e: e.phone_numbers == []),
        ("account " + "1 " * 25_000, lambda e: e.account_numbers == []),
        ("error " * 10_000, lambda e: e.error_codes == []),
        ("code 1-" * 7_000, lambda e: e.error_codes == []),
        ("0x" * 25_000, lambda e: e.is_empty()),
        ("ERR_" * 12_500, lambda e: e.error_codes == []),
        ("circuit 12/" * 5_000, lambda e: e.service_ids == []),
        ("555-123-4567 " * 4_000, lambda e: e.phone_numbers == ["+15551234567"]),
        ("(" * 25_000 + ")" * 25_000, lambda e: e.is_empty()),
        ("\x00" * 50_000, lambda e: e.is_empty()),
        ("\u200b" * 50_000 + "call 555-123-4567", lambda e: e.phone_numbers == ["+15551234567"]),
        ("\ufdfa" * 10_000, lambda e: e.is_empty()),  # NFKC expands this 18-fold
    ],
    ids=lambda value: value[:12].encode("unicode_escape").decode() if isinstance(value, str) else "",
)
def test_hostile_input_finishes(text: str, check: object) -> None:
    result = entities_module._extract(text)
    assert callable(check) and check(result)


# --------------------------------------------------------------------------------------------------
# Properties

_FRAGMENTS = [
    "account #", "acct no. ", "customer id: ", " ", "-", ".", ",", "(", ")", "+", "+1 ", "1-800-", "$", "€", "£",
    "USD ", " dollars", "error ", "code ", "0x", "E-", "RDK-", "ERR_", "SVC-", "service id: ", "circuit ID ", "/",
    "@", "a", "Z", "http://", "https://", "www.", ".com", "555", "123", "4567", "2015", "9", "0", "\u200b", "\x00",
    "５", "😀", "ا", "\n", ":", "#", "'", "_", "(0)", "Main", " St", " Ave.", "Apt ", "N. ", "5th",
]  # fmt: skip

_ticketish = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=4)), max_size=60).map("".join)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _assert_well_formed(result: ExtractedEntities) -> None:
    assert isinstance(result, ExtractedEntities)
    assert ExtractedEntities.model_validate_json(result.model_dump_json()) == result
    assert all(_E164.fullmatch(phone) for phone in result.phone_numbers)
    assert all(number.isascii() and number.isdigit() for number in result.account_numbers)
    assert all(email.count("@") >= 1 and email == email.split("@")[0] + "@" + email.split("@")[-1].lower()
               for email in result.emails)  # fmt: skip
    assert all(url.lower().startswith(("http://", "https://", "www.")) for url in result.urls)
    strings = ("account_numbers", "service_ids", "error_codes", "phone_numbers", "emails", "urls", "street_addresses")
    for field in strings:
        values = getattr(result, field)
        assert len(values) == len(set(values)), field


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    _assert_well_formed(entities_module._extract(text))
    _assert_well_formed(extract_entities(text))


@settings(max_examples=150, deadline=None)
@given(_ticketish)
def test_ticket_like_noise_never_raises(text: str) -> None:
    _assert_well_formed(entities_module._extract(text))


# --------------------------------------------------------------------------------------------------
# Street addresses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live at 123 Main St and it's down", "123 Main St"),
        ("400 N. Elm Avenue Apt 5, Springfield", "400 N. Elm Avenue Apt 5"),
        ("new office: 350 5th Ave, Suite 200.", "350 5th Ave, Suite 200"),
        ("Move service to 12B Oak Street #4 please", "12B Oak Street #4"),
        ("200 W 42nd St", "200 W 42nd St"),
        ("1600 Pennsylvania Avenue NW, Washington", "1600 Pennsylvania Avenue NW"),
        ("address: 77 Martin Luther King Jr Blvd.", "77 Martin Luther King Jr Blvd"),
        ("1234 ELM STREET", "1234 ELM STREET"),
        ("12  Oak\u00a0Rd", "12 Oak Rd"),  # NBSP folded, whitespace collapsed
        ("９ Ｍａｉｎ Ｓｔ", "9 Main St"),  # full width folded
    ],
)
def test_street_addresses(text: str, expected: str) -> None:
    assert extract_entities(text).street_addresses == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "123 main st",  # all lower case: deliberately not taken (see the module docstring)
        "I have 2 Dr appointments",
        "3 Way calling stopped working",
        "$5 Main St",
        "5 Main Streets",
        "room 5 Stadium",
        "v1.2 Main St",
        "Main Street has no service",
        "at 10:30 Main St",
    ],
)
def test_not_street_addresses(text: str) -> None:
    assert extract_entities(text).street_addresses == []


def test_street_address_after_a_phone_number_keeps_both() -> None:
    entities = extract_entities("call 555-123-4567 at 10 Downing Street")
    assert entities.phone_numbers == ["+15551234567"]
    assert entities.street_addresses == ["10 Downing Street"]


@pytest.mark.parametrize(
    "text",
    ["1 " * 25_000, "1 A " * 12_000, "12 Main " * 6_000, "1 " + "Ab " * 16_000 + "St", "1 A.A.A." * 8_000],
    ids=["digits", "capitals", "no-suffix", "long-name", "dots"],
)
def test_street_address_scan_is_linear(text: str) -> None:
    start = time.perf_counter()
    entities_module._extract(text)
    assert time.perf_counter() - start < 2.0


# --------------------------------------------------------------------------------------------------
# Spans (what the agent tier masks)


def test_locate_entities_gives_spans_in_the_text_it_read() -> None:
    read, spans = locate_entities("Ｃall (617) 555-0142 at 12 Oak St, acct 12345678, Jane@Example.com")
    assert read.startswith("Call (617)")  # full width folded: offsets refer to this text
    assert [(s.field, read[s.start : s.end], s.value) for s in spans] == [
        ("phone_numbers", "(617) 555-0142", "+16175550142"),
        ("street_addresses", "12 Oak St", "12 Oak St"),
        ("account_numbers", "12345678", "12345678"),
        ("emails", "Jane@Example.com", "Jane@example.com"),
    ]


@pytest.mark.parametrize("value", [None, "", 42])
def test_locate_entities_of_nothing(value: object) -> None:
    assert locate_entities(value) == ("", [])  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(_ticketish | st.text())
def test_spans_agree_with_the_entities_and_never_overlap(text: str) -> None:
    read, spans = locate_entities(text)
    entities = extract_entities(text)
    for span in spans:
        assert 0 <= span.start < span.end <= len(read)
        assert span.value in getattr(entities, span.field)
    for first, second in itertools.pairwise(spans):
        assert first.end <= second.start
