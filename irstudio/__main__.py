"""``python -m irstudio``: the same as the ``irstudio`` command."""

import sys

from irstudio.entry import main

sys.exit(main())
