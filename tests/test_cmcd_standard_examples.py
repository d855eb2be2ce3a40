"""The standard's own CMCD strings as golden parser tests (issue 20, item 4).

The request-mode, header-mode, query and event-mode strings of CTA-5004-B, and their
decoded values, as the SVTA's common-media-library publishes them in its CMCD tests:
github.com/streaming-video-technology-alliance/common-media-library, commit 0dee24be,
libs/cmcd/test/data/ (CMCD_STRING_REQUEST.ts, CMCD_STRING_EVENT.ts, CMCD_STRING_RESPONSE.ts,
CMCD_STRING_V1.ts, CMCD_HEADERS.ts, CMCD_QUERY.ts, CMCD_OUTPUT.ts, CMCD_OUTPUT_REQUEST.ts)
and the examples of decodeCmcd.test.ts, fromCmcdQuery.test.ts, fromCmcdUrl.test.ts and
fromCmcdHeaders.test.ts. Each string goes through Marquee's own parser
(`ingestion_api.cmcd.parse_dictionary`, the query and header readers of the CDN-log path,
`ingestion_api.cmcd_v1_log`) and must decode to the library's values: a token as its
name, an inner list as a list, a flag as True.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from ingestion_api.cmcd import Item, parse_dictionary, read_report
from ingestion_api.cmcd_v1_log import members_of_headers, members_of_query

pytestmark = pytest.mark.unit

QUOTE = '"\\"Quote\\""'
"""`com.example-quote`'s sf-string, an escaped quote inside."""

REQUEST = (
    'ab=(2500),bg,bl=(5000),br=(200),bs,bsd=(2000),cdn="cdn-provider",cid="content-id",'
    'com.example-exists,com.example-hello="world",com.example-quote=' + QUOTE + ","
    'com.example-testing=1234,com.example-token=s,cs="123456",d=325,dfa=5,dl=10000,'
    'ec=("ERR001" "ERR002"),lab=(200),lb=(100),ltc=1500,msd=2500,mtp=(10000),'
    'nor=("../testing/3.m4v"),ot=m,pb=(1000),pt=45000,rtp=8000,sf=d,sid="session-id",sn=1,'
    "st=v,sta=p,su,tab=(3000),tb=(5000),tbl=(8000),tpb=(4000),v=2"
)
"""CMCD_STRING_REQUEST: every v2 request-mode key."""

OUTPUT_REQUEST: dict[str, Any] = {
    "ab": [2500], "bg": True, "bl": [5000], "br": [200], "bs": True, "bsd": [2000],
    "cdn": "cdn-provider", "cid": "content-id", "com.example-exists": True,
    "com.example-hello": "world", "com.example-quote": '"Quote"',
    "com.example-testing": 1234, "com.example-token": "s", "cs": "123456", "d": 325,
    "dfa": 5, "dl": 10000, "ec": ["ERR001", "ERR002"], "lab": [200], "lb": [100],
    "ltc": 1500, "msd": 2500, "mtp": [10000], "nor": ["../testing/3.m4v"], "ot": "m",
    "pb": [1000], "pt": 45000, "rtp": 8000, "sf": "d", "sid": "session-id", "sn": 1,
    "st": "v", "sta": "p", "su": True, "tab": [3000], "tb": [5000], "tbl": [8000],
    "tpb": [4000], "v": 2,
}  # fmt: skip
"""CMCD_OUTPUT_REQUEST (and CMCD_OUTPUT: the same keys and values)."""

EVENT = REQUEST.replace("dl=10000,", "dl=10000,e=t,").replace("v=2", "ts=1640995200000,v=2")
"""CMCD_STRING_EVENT: the request keys with `e=t` and `ts`."""

RESPONSE = (
    REQUEST.replace('cid="content-id",', 'cid="content-id",cmsdd="base64-encoded-cmsd-dynamic-'
    'data",cmsds="base64-encoded-cmsd-static-data",')
    .replace("dl=10000,", "dl=10000,e=rr,")
    .replace("rtp=8000,", "rc=200,rtp=8000,")
    .replace('sid="session-id",', 'sid="session-id",smrt="12345",')
    .replace(
        "v=2",
        'ts=1640995200000,ttfb=150,ttfbb=200,ttlb=500,url="https://example.com/media/'
        'segment.m4s",v=2',
    )
)  # fmt: skip
"""CMCD_STRING_RESPONSE: the event keys with `e=rr` and the response-received keys."""

V1 = (
    'bl=5000,br=200,bs,cid="content-id",com.example-exists,com.example-hello="world",'
    "com.example-quote=" + QUOTE + ",com.example-testing=1234,com.example-token=s,d=325,"
    'dl=10000,mtp=10000,nor="..%2Ftesting%2F3.m4v",ot=m,rtp=8000,sf=d,sid="session-id",'
    "st=v,su,tb=5000"
)
"""CMCD_STRING_V1: v1 scalars, and `nor` a percent-encoded string."""

OUTPUT_V1: dict[str, Any] = {
    "bl": 5000, "br": 200, "bs": True, "cid": "content-id", "com.example-exists": True,
    "com.example-hello": "world", "com.example-quote": '"Quote"',
    "com.example-testing": 1234, "com.example-token": "s", "d": 325, "dl": 10000,
    "mtp": 10000, "nor": "..%2Ftesting%2F3.m4v", "ot": "m", "rtp": 8000, "sf": "d",
    "sid": "session-id", "st": "v", "su": True, "tb": 5000,
}  # fmt: skip

HEADERS = {
    "CMCD-Object": 'ab=(2500),br=(200),com.example-hello="world",d=325,lab=(200),lb=(100),'
    "ot=m,tab=(3000),tb=(5000),tpb=(4000)",
    "CMCD-Status": 'bg,bs,bsd=(2000),cdn="cdn-provider",com.example-exists,'
    'ec=("ERR001" "ERR002"),pt=45000,rtp=8000',
    "CMCD-Request": "bl=(5000),com.example-quote=" + QUOTE + ",com.example-token=s,"
    'cs="123456",dfa=5,dl=10000,ltc=1500,mtp=(10000),nor=("../testing/3.m4v"),pb=(1000),'
    "sn=1,sta=p,su,tbl=(8000)",
    "CMCD-Session": 'cid="content-id",com.example-testing=1234,msd=2500,sf=d,'
    'sid="session-id",st=v,v=2',
}
"""CMCD_HEADERS: the same data sharded over the four headers."""

EXAMPLE_OUTPUT: dict[str, Any] = {
    "br": 1000, "com.example-hello": "world", "ec": ["ERR001", "ERR002"], "su": True,
}  # fmt: skip
"""What the libraries' short examples decode to (v1: a scalar `br`)."""


def encode_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent, as CMCD_QUERY is built."""
    return urllib.parse.quote(text, safe="-_.!~*'()")


def plain(members: dict[str, Item]) -> dict[str, Any]:
    """A parsed dictionary as the library's decoded object: tokens as their names, inner
    lists as lists, flags as True (no parameters in these strings)."""

    def value(item: Item) -> Any:
        assert not item.params, item
        if isinstance(item.value, tuple):
            return [value(element) for element in item.value]
        return str(item.value) if isinstance(item.value, str) else item.value

    return {key: value(item) for key, item in members.items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(REQUEST, OUTPUT_REQUEST, id="request mode (CMCD_STRING_REQUEST)"),
        pytest.param(
            EVENT, OUTPUT_REQUEST | {"e": "t", "ts": 1640995200000}, id="event mode (time interval)"
        ),
        pytest.param(
            RESPONSE,
            OUTPUT_REQUEST
            | {
                "e": "rr",
                "ts": 1640995200000,
                "rc": 200,
                "ttfb": 150,
                "ttfbb": 200,
                "ttlb": 500,
                "url": "https://example.com/media/segment.m4s",
                "cmsdd": "base64-encoded-cmsd-dynamic-data",
                "cmsds": "base64-encoded-cmsd-static-data",
                "smrt": "12345",
            },
            id="event mode (response received)",
        ),
        pytest.param(V1, OUTPUT_V1, id="v1 request mode (CMCD_STRING_V1)"),
        pytest.param(
            'br=(1000),com.example-hello="world",ec=("ERR001" "ERR002"),su,v=2',
            EXAMPLE_OUTPUT | {"br": [1000], "v": 2},
            id="decodeCmcd example (v2)",
        ),
        pytest.param(
            'br=1000,com.example-hello="world",ec=("ERR001" "ERR002"),su',
            EXAMPLE_OUTPUT,
            id="decodeCmcd example (v1)",
        ),
    ],
)
def test_a_standard_string_decodes_to_the_libraries_values(
    text: str, expected: dict[str, Any]
) -> None:
    assert plain(parse_dictionary(text)) == expected


EXAMPLE_QUERY = (
    "br%3D1000%2Ccom.example-hello%3D%22world%22%2Cec%3D(%22ERR001%22%20%22ERR002%22)%2Csu"
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(f"CMCD={EXAMPLE_QUERY}", EXAMPLE_OUTPUT, id="fromCmcdQuery example"),
        pytest.param(EXAMPLE_QUERY, EXAMPLE_OUTPUT, id="fromCmcdUrl example (the value)"),
        pytest.param(
            f"https://cdn.example/seg_1.m4s?x=1&CMCD={EXAMPLE_QUERY}",
            EXAMPLE_OUTPUT,
            id="a whole URL",
        ),
        pytest.param(
            f"CMCD={encode_uri_component(REQUEST)}", OUTPUT_REQUEST, id="CMCD_QUERY"
        ),
        pytest.param(REQUEST, OUTPUT_REQUEST, id="the value already decoded"),
        pytest.param("CMCD=bl%3D2000%2Cbr%3D3000%2Csu", {"bl": 2000, "br": 3000, "su": True},
                     id="v1 query"),
    ],
)  # fmt: skip
def test_a_query_argument_decodes_to_the_libraries_values(
    query: str, expected: dict[str, Any]
) -> None:
    assert plain(members_of_query(query)) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(HEADERS, OUTPUT_REQUEST, id="CMCD_HEADERS"),
        pytest.param(
            {
                "CMCD-Object": "br=200",
                "CMCD-Status": 'ec=("ERR001" "ERR002"),pt=45000,rtp=8000',
                "CMCD-Request": "su",
                "CMCD-Session": "v=2",
            },
            {"br": 200, "ec": ["ERR001", "ERR002"], "pt": 45000, "rtp": 8000, "su": True,
             "v": 2},
            id="fromCmcdHeaders example",
        ),
        pytest.param(
            {"cmcd-object": "br=200", "cmcd-request": "su", "user-agent": "x"},
            {"br": 200, "su": True},
            id="lower-case names, other headers ignored",
        ),
    ],
)  # fmt: skip
def test_the_headers_decode_to_the_libraries_values(
    headers: dict[str, str], expected: dict[str, Any]
) -> None:
    assert plain(members_of_headers(headers)) == expected


def test_the_event_example_reads_into_the_fields_the_mapping_uses() -> None:
    report = read_report(parse_dictionary(EVENT), 0, "com.example-viewer", "com.example-pf")
    assert (report.sid, report.cid, report.event, report.state) == (
        "session-id",
        "content-id",
        "t",
        "p",
    )
    assert (report.ts_ms, report.sn) == (1640995200000, 1)
    # `pb` (the rendition on screen) is preferred to `br` (the one requested).
    assert report.bitrate_kbps == 1000
    assert (report.buffer_ms, report.playhead_ms, report.startup_ms) == (5000, 45000, 2500)
    assert (report.stall_ms, report.live_latency_ms) == (2000, 1500)
    assert report.error_codes == ("ERR001", "ERR002")
