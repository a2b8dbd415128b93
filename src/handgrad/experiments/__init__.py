"""Runnable experiments: each module has ``run(config) -> result dict`` (usable from
Python and tests) and ``add_arguments``/``main`` for the ``handgrad`` command. They
write ``metrics.json`` and PNG plots into their output folder. The edge of handgrad:
nothing in the core imports from here.
"""
