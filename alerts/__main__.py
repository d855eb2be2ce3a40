"""`python -m alerts`: the alert evaluator (see `alerts.loop`)."""

import sys

from alerts.loop import main

sys.exit(main())
