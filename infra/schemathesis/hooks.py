"""Schemathesis hooks for `make fuzz-schema` (loaded through SCHEMATHESIS_HOOKS).

A listing's `cursor` is valid only as the `next_cursor` of the previous page
of the same request (same path and filters): a rule of the whole request that
no JSON schema can express, so a cursor generated from the document's pattern
is schema-valid yet refused (400), and schemathesis would report every such
case as "schema-valid request rejected" (ST202).

This hook makes the generated request what the document means by a valid
one: when a case carries a well-formed cursor (one the document's pattern
allows), it asks the API for the first page of the same request (limit=1,
same path, filters and key) and sends that page's `next_cursor` instead, or
no cursor when there is no second page. Malformed cursors (outside the
pattern) are sent as generated, so the API must still refuse them, and any
other generated value is untouched.
"""

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

import schemathesis

CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,2048}$")  # the document's pattern and maxLength
BASE = os.environ.get("GITPULSE_SCHEMATHESIS_URL", "http://127.0.0.1:8000").rstrip("/")
KEY = os.environ.get("API_KEY", "")


def first_page_cursor(path, query):
    """next_cursor of the first page of the request, "" when none, None when the request fails."""
    q = {k: v for k, v in query.items() if k not in ("cursor", "limit")}
    q["limit"] = "1"
    url = BASE + path + "?" + urllib.parse.urlencode(q, doseq=True)
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + KEY, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp).get("next_cursor", "")
    except (urllib.error.URLError, ValueError, OSError):
        return None


@schemathesis.hook
def before_call(context, case, kwargs):
    query = case.query
    if not query or "cursor" not in query:
        return
    cursor = query["cursor"]
    if not isinstance(cursor, str) or not CURSOR.fullmatch(cursor):
        return  # malformed: the API must refuse it as generated
    real = first_page_cursor(case.formatted_path, query)
    if real is None:
        return  # the request is refused for another reason; leave it as generated
    if real:
        query["cursor"] = real
    else:
        del query["cursor"]
