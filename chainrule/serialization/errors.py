"""The error ``cr.load`` raises for a file it cannot read."""


class UnreadableCheckpointError(ValueError, RuntimeError):
    """A checkpoint file that is truncated, corrupt or in no format ``cr.load`` reads.

    Both a ValueError and a RuntimeError (the latter is what ``torch.load`` raises).
    """
