"""``cr.backends.cudnn``: cuDNN's switches, accepted and without effect (chainrule does not use cuDNN)."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
