"""`python -m tb_assets.cli`: the same as `tb`."""

import sys

from tb_assets.cli import main

sys.exit(main())
