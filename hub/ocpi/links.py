"""Reading a partner's `Link` header: the one parser of `rel="next"` in the hub.

2.2.1 transport_and_format, Pagination: a Sender's paginated GET answers with
`Link: <url>; rel="next"` unless it is the last page. The header's grammar is RFC 8288 §3: a
comma-separated list of link-values `<target>` followed by `;`-separated parameters, whose
values may be quoted (and then may contain `;` and `,`); `rel` holds space-separated relation
types, compared case-insensitively, and only its first occurrence in a link-value counts.
Partners get this wrong in every way (`rel=next` unquoted, no space after `;`, several
relations), so the parser is lenient in what it reads.
"""

import re
from urllib.parse import urljoin

# A link-value: the target in angle brackets, then its parameters up to the next target.
_LINK_VALUE_RE = re.compile(r"<(?P<target>[^>]*)>(?P<params>[^<]*)")
# One parameter: `; name`, `; name=token` or `; name="quoted string"`.
_PARAM_RE = re.compile(
    r';\s*(?P<name>[^\s=;,"]+)\s*(?:=\s*(?:"(?P<quoted>[^"]*)"?|(?P<bare>[^\s;,"]*)))?'
)


def link_relations(params: str) -> list[str]:
    """The relation types of a link-value's parameters (lower-cased; none without `rel`)."""
    for param in _PARAM_RE.finditer(params):
        if param.group("name").lower() == "rel":
            value = param.group("quoted") or param.group("bare") or ""
            return value.lower().split()
    return []


def parse_next_link(header: str | None, base_url: str = "") -> str | None:
    """The target of the first link-value of a Link header whose `rel` names "next"
    (`rel="next last"` included, `rel="nextpage"` not), resolved against `base_url` when one
    is given (a relative target); None when the header has no such link-value."""
    for value in _LINK_VALUE_RE.finditer(header or ""):
        if "next" in link_relations(value.group("params")):
            return urljoin(base_url, value.group("target").strip())
    return None
