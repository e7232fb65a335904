"""Teaches schemathesis the inputs no JSON Schema can describe (loaded by tests/api/contract.rs
through SCHEMATHESIS_HOOKS).

- A lead list's `cursor` is opaque: base64url of the JSON `{"at", "id"}` the API itself returns in
  X-Next-Cursor. Its schema says `format: page-cursor`; valid ones are generated here.
- A voice note is audio, recognised by its first bytes. Its schema says `format: binary` (a file
  upload), which schemathesis fills with random bytes or sample images; here every generated file
  starts with an Ogg page header, as a real voice note does.
- A webhook endpoint's URL must resolve to addresses the service may reach. Its schema says
  `format: webhook-url`; the contract test's app allows loopback (WEBHOOK_ALLOW_PRIVATE, as the
  suite's fake receivers need), so generated ones name 127.0.0.1 with any port and path.
- Every date-time a client sends is an RFC 3339 instant in the years 2000–2099 (domain::dates):
  its schema says so with a pattern beside `format: date-time`, which hypothesis can only meet by
  filtering, too rarely for a required field (`POST /api/webhooks/{id}/recover`'s `since`).
  Generated ones are in the window, with any offset.
"""

import base64
import json
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st

OGG_PAGE = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"


def _cursor(at: datetime, lead_id) -> str:
    raw = json.dumps({"at": at.isoformat(), "id": str(lead_id)}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


schemathesis.openapi.format(
    "page-cursor",
    st.builds(
        _cursor,
        st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2099, 12, 31),
            timezones=st.just(timezone.utc),
        ),
        st.uuids(),
    ),
)

# The only file the API takes is a voice note.
schemathesis.openapi.format("binary", st.binary(max_size=256).map(lambda tail: OGG_PAGE + tail))

schemathesis.openapi.format(
    "webhook-url",
    st.builds(
        "http://127.0.0.1:{}/{}".format,
        st.integers(min_value=1, max_value=65535),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/", max_size=40),
    ),
)

schemathesis.openapi.format(
    "date-time",
    st.builds(
        lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
        st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
        st.integers(min_value=-12 * 60, max_value=14 * 60),
    ),
)
