"""``python -m matcalc``: the command line."""
import sys

from matcalc.cli.main import main

sys.exit(main())
