"""Key → group: the longest profile prefix that matches, else a pattern inferred from the key's shape.

Inference splits on ':' and replaces the segments that look like identifiers with '*':
numbers, hex and UUIDs, IPv4/IPv6 addresses, and long mixed letter-digit tokens; a short word
followed by a number keeps the word (``u123`` → ``u*``, ``shard7`` → ``shard*``), so that
``user:u123`` and ``user:u124`` share a group instead of making one group per user. Hash tags
keep their braces ('{user:42}' → '{*}'). ``rl:1234:28900000`` → ``rl:*:*``,
``rlz:10.1.2.3`` → ``rlz:*``, ``cache:user:10000042`` → ``cache:user:*``.
"""

from __future__ import annotations

import re

OTHER = "<other>"  # the group that takes keys once max_groups patterns exist
_IDENTIFIER = re.compile(
    rb"[0-9]+([.\-_][0-9]+)*"  # numbers, versions, dotted IPv4, dates
    rb"|[0-9a-fA-F]{8,}"  # hex digests
    rb"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUIDs
    rb"|(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-+/=]{16,}"  # long tokens with digits (ids, base64)
)
_NUMBERED = re.compile(rb"([A-Za-z][A-Za-z_\-]*)[0-9]+")  # a word, then a number: 'u123', 'shard7'
_CACHE_LIMIT = 100_000
# Every rule above treats all digits alike, so two keys that differ only in their digits have the
# same pattern when that pattern holds no digit (every digit became '*'): for those, the key with
# its digits replaced by '0' is a safe cache key (and a cheap one). 'auth:2fa:17' keeps '2fa', so
# its shape would also answer for 'auth:3fa:18'; such patterns are not cached by shape.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DIGITS = frozenset("0123456789")


class Grouper:
    """Maps keys to group names; bounded: at most max_groups distinct groups, then OTHER."""

    def __init__(self, prefixes: tuple[str, ...] = (), max_groups: int = 1000) -> None:
        # Longest prefix first, so that 'rl:user:' wins over 'rl:'.
        self._prefixes = sorted(((p.encode(), p + "*") for p in prefixes), key=lambda p: -len(p[0]))
        self._max_groups = max_groups
        self._groups: set[str] = set()
        self._shapes: dict[bytes, str] = {}
        # A key and its shape (digits as '0') match the same prefixes unless a prefix holds a digit.
        self._by_shape = not any(any(c in b"0123456789" for c in prefix) for prefix, _ in self._prefixes)

    def group_many(self, keys: list[bytes]) -> list[str]:
        """group() for a batch. The cache is by shape (digits as '0'): when no profile prefix holds a digit,
        a key and its shape match the same prefixes, so one dict look-up per key answers for most keys."""
        if not self._by_shape:
            return [self.group(k) for k in keys]
        get = self._shapes.get
        table = _DIGITS_TO_ZERO
        names = [get(k.translate(table)) for k in keys]
        if None in names:
            group = self.group
            names = [n if n is not None else group(k) for n, k in zip(names, keys, strict=True)]
        return names  # type: ignore[return-value]

    def group(self, key: bytes) -> str:
        for prefix, name in self._prefixes:
            if key.startswith(prefix):
                if self._by_shape and len(self._shapes) < _CACHE_LIMIT:  # group_many's look-up
                    self._shapes[key.translate(_DIGITS_TO_ZERO)] = name
                return name
        shape = key.translate(_DIGITS_TO_ZERO)
        found = self._shapes.get(shape)
        if found is not None:
            return found
        name = self.infer(key)
        if name not in self._groups:
            if len(self._groups) >= self._max_groups:
                name = OTHER
            else:
                self._groups.add(name)
        if len(self._shapes) < _CACHE_LIMIT and _DIGITS.isdisjoint(name):
            self._shapes[shape] = name
        return name

    @staticmethod
    def infer(key: bytes) -> str:
        pattern = b":".join(map(_segment_pattern, key.split(b":")))
        # A hash tag may have been split by ':'; re-join and collapse its contents.
        if b"{" in pattern:
            pattern = re.sub(rb"\{[^}]*\}", b"{*}", pattern)
        return pattern.decode("utf-8", "backslashreplace")


def _segment_pattern(part: bytes) -> bytes:
    if _IDENTIFIER.fullmatch(part):
        return b"*"
    numbered = _NUMBERED.fullmatch(part)
    return numbered.group(1) + b"*" if numbered else part
