"""The process's standard output and error, with secrets masked in whatever is written to them:
log lines, the start-up error, a library's print, a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from bot.logs import RedactSecrets


class MaskedStream:
    """A text stream that masks secrets in each piece written, then passes it on."""

    def __init__(self, inner: TextIO, redact: Callable[[str], str]) -> None:
        self._inner = inner
        self._redact = redact

    def write(self, text: str) -> int:
        self._inner.write(self._redact(text))
        # What the caller asked to write, as a stream's write says.
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def mask_standard_streams(secrets: Iterable[str]) -> None:
    """Put masking streams in place of sys.stdout and sys.stderr. Call it before logging is set
    up: a log handler keeps the stream it was given."""
    redact = RedactSecrets(secrets).redact
    sys.stdout = MaskedStream(sys.stdout, redact)
    sys.stderr = MaskedStream(sys.stderr, redact)
