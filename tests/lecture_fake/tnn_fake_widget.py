"""A tiny WidgetApp with a slider, a dropdown, a checkbox and a toggle button."""
import numpy as np


def draw_fake(fig, freq=2.0, shape="sin", grid=False, negate=False):
    x = np.linspace(0, 1, 200)
    y = {"sin": np.sin, "cos": np.cos, "square": lambda t: np.sign(np.sin(t))}[shape](2 * np.pi * freq * x)
    y = -y if negate else y
    fig.clear()
    ax = fig.subplots()
    ax.plot(x, y)
    ax.grid(grid)
    ax.set_title(f"{shape}, f = {freq:g}")
    return {"y": y, "summary": f"{shape} at {freq:g}"}


def fake_widget():
    import ipywidgets as widgets

    from tnn_lib.widgets.app import WidgetApp, new_figure
    controls = dict(
        freq=widgets.FloatSlider(value=2.0, min=0.5, max=6.0, step=0.5, description="frequency",
                                 continuous_update=False),
        shape=widgets.Dropdown(options=["sin", "cos", "square"], value="sin", description="shape"),
        grid=widgets.Checkbox(value=False, description="grid"),
        negate=widgets.ToggleButton(value=False, description="negate"),
    )
    return WidgetApp("Fake widget for the lecture tests", controls, draw_fake, new_figure(8, 3))
