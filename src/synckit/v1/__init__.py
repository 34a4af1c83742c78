"""Generated protobuf modules of the ``synckit.v1`` format.

Do not edit: run ``python scripts/gen_proto.py`` after changing a ``.proto`` file.
"""
