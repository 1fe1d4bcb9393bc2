"""Training and evaluation mode, shared by every module-like object of `tnn_lib`."""


class TrainEvalMode:
    """A ``training`` flag with ``train()`` and ``eval()``, both returning the object (so that
    ``model.eval()`` can be chained). Training mode: batch statistics and random masks;
    eval mode: running statistics, no masks, nothing updated."""

    training = True

    def train(self):
        """Switch to training mode; returns self."""
        self.training = True
        return self

    def eval(self):
        """Switch to eval mode; returns self."""
        self.training = False
        return self
