"""Packaging: pyproject.toml and environment.yml agree; `import tnn_lib` stays light; the
whole public API of the contract exists."""
from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore


def _name(req: str) -> str:
    req = req.split(";")[0]
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    # pip's extras (psycopg[binary]) have no conda spelling: conda's package carries its binary
    wanted = {_name(r): re.sub(r"\[.*?\]", "", r.split(";")[0].replace(" ", ""))
              for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    conda, section = {}, None
    for line in (root / "environment.yml").read_text().splitlines():
        if re.match(r"^[a-z]", line):
            section = line.split(":")[0]
        if section != "dependencies":
            continue
        m = re.match(r"^\s{2}- ([A-Za-z0-9_.\-]+.*)$", line)
        if m and not m.group(1).startswith(("python", "pip")):
            conda[_name(m.group(1))] = m.group(1).replace(" ", "")
    assert conda == wanted, (f"pyproject only: {sorted(set(wanted) - set(conda))}; "
                             f"environment.yml only: {sorted(set(conda) - set(wanted))}; "
                             f"different pins: {[k for k in wanted if k in conda and conda[k] != wanted[k]]}")


def test_import_tnn_lib_is_light():
    code = ("import sys, tnn_lib, tnn_lib.layers, tnn_lib.optim, tnn_lib.batchnorm\n"
            "heavy = [m for m in ('matplotlib', 'ipywidgets', 'sklearn', 'scipy') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import tnn_lib pulled in heavy modules: {out.stdout.strip()}"


API = {
    "layers": ["linear_forward", "linear_backward", "relu_forward", "relu_backward", "sigmoid_forward",
               "sigmoid_backward", "tanh_forward", "tanh_backward", "leaky_relu_forward", "leaky_relu_backward",
               "elu_forward", "elu_backward"],
    "gradcheck": ["numerical_gradient", "rel_error"],
    "divergences": ["softmax", "log_softmax", "l2_divergence", "l2_divergence_grad", "kl_divergence",
                    "kl_divergence_grad", "softmax_kl", "sigmoid_bce"],
    "batchnorm": ["batchnorm_forward", "batchnorm_backward", "batchnorm_jacobian", "population_statistics",
                  "BatchNorm1d", "layernorm_forward", "layernorm_backward",
                  "weightnorm_forward", "weightnorm_backward"],
    "dropout": ["dropout_forward", "dropout_backward", "scale_weights_for_test", "mc_dropout_predict"],
    "init": ["init_weights", "activation_statistics"],
    "optim": ["sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step",
              "adamw_step", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "clip_grad_value", "clip_grad_norm",
              "step_decay", "exponential_decay", "inverse_time_decay"],
    "regularization": ["l2_penalty", "l1_penalty", "early_stopping_epoch", "standardize"],
    "nn": ["Sequential", "Linear", "BatchNorm1d", "Dropout"],
    "train": ["train_epoch", "evaluate"],
    "widgets": ["widgets_for_topic", "TOPIC_WIDGETS"],
}


@pytest.mark.parametrize("module", sorted(API))
def test_every_public_name_of_the_contract_exists(module):
    mod = importlib.import_module(f"tnn_lib.{module}")
    missing = [n for n in API[module] if not hasattr(mod, n)]
    assert not missing, f"tnn_lib.{module} lacks {missing}"


def test_every_topic_widget_factory_exists():
    from tnn_lib.widgets import TOPIC_WIDGETS
    missing = []
    for topic, (mod, fns) in TOPIC_WIDGETS.items():
        try:
            module = importlib.import_module(f"tnn_lib.widgets.{mod}")
        except ModuleNotFoundError:
            missing.append(f"{topic}: tnn_lib.widgets.{mod}")
            continue
        missing += [f"{topic}: {fn}" for fn in fns if not callable(getattr(module, fn, None))]
    assert not missing, f"widgets missing: {missing}"


def test_stopping_workbook_py_stops_what_it_started(root):
    """`python3 workbook.py lab` runs JupyterLab as a child: SIGTERM to workbook.py must end
    that child too, not leave a server running orphaned."""
    import os
    import signal
    import time

    child = "import os, time; print(os.getpid(), flush=True); time.sleep(120)"
    wrapper = (f"import sys; sys.path.insert(0, {str(root)!r}); import workbook; "
               f"sys.exit(workbook.run_forwarding([sys.executable, '-c', {child!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", wrapper], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("+ ")
        pid = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the child of workbook.py outlived it")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_building_the_package_prints_no_setuptools_deprecation(root, tmp_path):
    """`project.license` is an SPDX string with `license-files` (the TOML-table form stops
    building in February 2027); the build, with pip's isolated latest setuptools, says nothing
    deprecated."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    assert all((root / f).is_file() for f in project["project"]["license-files"])
    import shutil
    src = tmp_path / "src"   # a copy: the build writes build/ and *.egg-info next to the sources
    src.mkdir()
    for name in ["pyproject.toml", "README.md", *project["project"]["license-files"]]:
        shutil.copy2(root / name, src / name)
    for pkg in ("tnn_lib", "autograder"):
        shutil.copytree(root / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "examples"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                           "-w", str(tmp_path / "wheel"), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "deprecat" not in (proc.stdout + proc.stderr).lower(), proc.stderr[-3000:]
    assert list((tmp_path / "wheel").glob("tnn_workbook-*.whl"))
