"""mkdocs hook: a bracketed phrase in a docstring that is not a cross-reference does not fail the build.

mkdocstrings renders docstrings as Markdown, so text such as a printed list
``['a', 'b']`` after a doctest prompt can read as a reference link, and
mkdocs-autorefs warns that it found no target. With ``strict: true`` that
warning would fail the build over prose in the package's source. This hook
reports such warnings, when they come from a docstring (the message names a
``.py`` file), at INFO level instead; unresolved references in the pages
themselves stay warnings.
"""

from __future__ import annotations

import logging
import re

_FROM_DOCSTRING = re.compile(r"from \S+\.py:\d+: .*Could not find cross-reference target")


class _DocstringReferenceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and _FROM_DOCSTRING.search(record.getMessage()):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_FILTER = _DocstringReferenceFilter()


def on_startup(command, dirty) -> None:
    for handler in logging.getLogger("mkdocs").handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def on_config(config):
    on_startup(None, False)  # handlers added after startup (the strict-mode warning counter) get it too
    return config
