"""The signed readiness report: canonical JSON, in-toto Statement v1, DSSE envelopes, keys and signers.

The layer is independent of the report's shape: it wraps any JSON-able predicate that carries the
target fingerprint at `predicate.target.fingerprint` and the verdict at `predicate.verdict`.
"""

import logging

# A library must not print through logging's last-resort handler; the CLI prints returned warnings.
logging.getLogger(__name__).addHandler(logging.NullHandler())
