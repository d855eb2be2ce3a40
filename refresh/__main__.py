"""`python -m refresh`: the refresh loop (see `refresh.loop`)."""

import sys

from refresh.loop import main

sys.exit(main())
