"""Secrets out of text bound for a log, an exception or MLflow: the one place they are masked.

Imports nothing of the package, so mlflow_writer.py (a script run on its own) loads it by path.
"""
import re

MASK = "***"
_URL_PASSWORD = re.compile(r"(//[^/@\s:]+):[^/@\s]+@")  # scheme://user:password@host


def mask_secrets(text: str, *secrets: str) -> str:
    """`text` with each given secret (an empty one is no secret) and every URL's password as ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
