"""The near-twins of the exercises: callables of `tnn_lib` other than an exercise's own
reference that reproduce its answer (:mod:`autograder.release.shortcuts` finds them and
explains why they matter). The table is here, beside the sandbox that stubs the twins of an
assignment's exercises (:mod:`autograder.sandbox.launch`); the student edition stubs every
twin (:mod:`autograder.release.edition`). ``python -m autograder.release.shortcuts`` prints
what the search finds and what :data:`TWINS` lacks (``tests/test_shortcuts.py`` fails then).
"""
from __future__ import annotations

# exercise -> the callables ("module.name", or "module.Class" for a class) that reproduce it.
# Found by find_twins() (tests/test_shortcuts.py keeps this table complete).
TWINS: dict[str, tuple[str, ...]] = {
    "relu_backward": ("layers.elu_backward", "layers.leaky_relu_backward"),     # with alpha or slope 0
    "softmax": ("divergences.log_softmax",),                                    # exp(log_softmax(z))
    "activation_statistics": ("init._forward", "init.forward_activations"),    # the layers' mean and std
    "rmsprop_step": ("optim._rmsprop",),                                        # the reference's body
    "adam_step": ("optim._adam",),
    "adamw_step": ("optim._adam", "optim.adamw_convention_step"),
}


def twin_names(exercises) -> dict[str, set[str]]:
    """{module file stem: {names}} of the twins of `exercises` (from :data:`TWINS`)."""
    out: dict[str, set[str]] = {}
    for ex in exercises:
        for dotted in TWINS.get(ex, ()):
            mod, name = dotted.split(".", 1)
            out.setdefault(mod, set()).add(name)
    return out
