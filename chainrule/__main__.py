"""``python -m chainrule``: the ``chainrule`` command (see ``chainrule.cli``)."""

import sys

from chainrule.cli import main

sys.exit(main())
