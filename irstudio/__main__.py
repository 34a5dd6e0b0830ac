"""``python -m irstudio``: the same as the ``irstudio`` command."""

import sys

from irstudio.cli import main

sys.exit(main())
