"""`python -m bench` (what `make bench` runs after the set-up)."""

import sys

from bench.run import main

sys.exit(main())
