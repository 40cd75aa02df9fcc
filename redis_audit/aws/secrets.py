"""The data-plane password from Secrets Manager: the only code that reads a secret value.

The value is wrapped in `Secret` the moment it arrives (so every later error text is scrubbed of
it), and error messages here never quote the secret string.
"""

from __future__ import annotations

import json

from redis_audit.aws.clients import AwsApi, AwsCallFailed
from redis_audit.exitcodes import UsageError
from redis_audit.secret import Secret

DEFAULT_JSON_KEYS = ("password", "auth_token", "authToken")


def fetch_password(api: AwsApi, secret_id: str, key: str | None = None) -> Secret:
    """The password in a secret: a JSON key (`key`, else password/auth_token) or the plain string."""
    try:
        response = api.call("secretsmanager", "get_secret_value", SecretId=secret_id)
    except AwsCallFailed as exc:
        raise UsageError(f"--password-secret: cannot read {secret_id}: {exc.error.describe()}") from None
    raw = response.get("SecretString")
    if not isinstance(raw, str):
        raise UsageError(f"--password-secret: {secret_id} has no SecretString (binary secrets are not supported)")
    whole = Secret(raw)  # registers the value for scrubbing before anything else happens
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if isinstance(document, dict):
        names = (key,) if key else DEFAULT_JSON_KEYS
        for name in names:
            value = document.get(name)
            if isinstance(value, str):
                return Secret(value)
        wanted = key or " or ".join(DEFAULT_JSON_KEYS)
        raise UsageError(f"--password-secret: {secret_id} is a JSON secret without a string key {wanted} "
                         f"(keys: {', '.join(sorted(str(k) for k in document))}); use --password-secret-key")
    if key:
        raise UsageError(f"--password-secret-key {key}: {secret_id} is a plain-string secret, not JSON")
    return whole
