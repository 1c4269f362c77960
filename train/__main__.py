"""``python -m train TASK ...``."""

import sys

from train.cli import main

sys.exit(main())
