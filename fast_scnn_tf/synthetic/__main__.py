"""`python -m fast_scnn_tf.synthetic`: see `fast_scnn_tf.synthetic.generate.main`."""

from fast_scnn_tf.synthetic.generate import main

main()
