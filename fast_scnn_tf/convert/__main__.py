"""`python -m fast_scnn_tf.convert`: the command of `fast_scnn_tf/convert/__init__.py`."""

import sys

from fast_scnn_tf.convert import main

sys.exit(main())
