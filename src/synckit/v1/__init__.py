"""Generated protobuf modules of the ``synckit.v1`` format (do not edit; see scripts/gen_proto.py)."""
