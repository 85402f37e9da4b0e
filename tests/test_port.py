"""``chainrule port``: import rewriting, missing-name detection, the command's output and exit statuses."""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chainrule.cli import main
from chainrule.cli.port import MissingName, port_source

ROOT = Path(__file__).resolve().parents[1]

# (PyTorch source, what port_source must turn it into)
REWRITES = [
    ("import torch\n", "import chainrule as torch\n"),
    ("import torch as T\n", "import chainrule as T\n"),
    ("import torch.nn as nn\n", "import chainrule.nn as nn\n"),
    ("import torch.nn.functional as F\n", "import chainrule.nn.functional as F\n"),
    ("from torch import nn, optim, Tensor\n", "from chainrule import nn, optim, Tensor\n"),
    ("from torch.utils.data import DataLoader, Dataset\n", "from chainrule.utils.data import DataLoader, Dataset\n"),
    ("from torch.optim.lr_scheduler import StepLR\n", "from chainrule.optim.lr_scheduler import StepLR\n"),
    ("import torch.distributed as dist\n", "import chainrule.distributed as dist\n"),
    (
        "from torch.nn.parallel import DistributedDataParallel as DDP\n",
        "from chainrule.nn.parallel import DistributedDataParallel as DDP\n",
    ),
    ("import torch.nn\n", "import chainrule.nn, chainrule as torch\n"),
    ("import os, torch, numpy as np\n", "import os, chainrule as torch, numpy as np\n"),
    ("import torch.nn as nn  # layers\n", "import chainrule.nn as nn  # layers\n"),
    (
        "from torch import (\n    nn,  # layers\n    optim,\n)\n",
        "from chainrule import (\n    nn,  # layers\n    optim,\n)\n",
    ),
    ("from \\\n    torch.nn import Linear\n", "from \\\n    chainrule.nn import Linear\n"),
    ("def f():\n    import torch.nn.functional as F\n", "def f():\n    import chainrule.nn.functional as F\n"),
    ("s = 'é€'; import torch as T\n", "s = 'é€'; import chainrule as T\n"),  # columns are UTF-8 bytes
    ("import torch\r\nx = torch.zeros(2)\r\n", "import chainrule as torch\r\nx = torch.zeros(2)\r\n"),
    # left alone: not torch, torch's name only in text, a relative import, an already ported script
    ("import torchvision\nimport numpy as np  # torch\n", "import torchvision\nimport numpy as np  # torch\n"),
    ("text = 'import torch'\n", "text = 'import torch'\n"),
    ("from .torch import helper\n", "from .torch import helper\n"),
    ("import chainrule as torch\n", "import chainrule as torch\n"),
]


@pytest.mark.parametrize("source, expected", REWRITES, ids=[repr(s[0])[:48] for s in REWRITES])
def test_imports_are_rewritten_and_nothing_else(source, expected):
    assert port_source(source)[0] == expected


@pytest.mark.parametrize("source, _", REWRITES[:11], ids=[repr(s[0])[:48] for s in REWRITES[:11]])
def test_the_rewrite_binds_the_same_names_to_chainrule(source, _):
    """Execute each rewritten import (that chainrule can satisfy) and check every bound name is chainrule's."""
    new, missing = port_source(source)
    if missing:
        pytest.skip(f"chainrule lacks {[m.name for m in missing]}")
    namespace = {}
    exec(compile(new, "<ported>", "exec"), namespace)
    bound = {name: value for name, value in namespace.items() if name not in ("__builtins__", "os", "np")}
    assert bound
    for name, value in bound.items():
        module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        assert module.split(".")[0] == "chainrule", (name, value)


def missing_names(source: str) -> list[tuple[int, str]]:
    return [(entry.line, entry.name) for entry in port_source(textwrap.dedent(source))[1]]


def test_a_made_up_name_is_reported_with_its_line_and_existing_names_are_not():
    source = """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        import numpy as np
        x = torch.randn(3, requires_grad=True)
        y = torch.foo_bar(x)
        layer = nn.Linear(3, 4)
        torch.nn.init.kaiming_uniform_(layer.weight)
        z = F.relu(layer(x)).sum()
        w = np.foo_bar(3)              # not torch: not checked
        v = F.no_such_function(x) + torch.foo_bar(x)
    """
    assert missing_names(source) == [
        (6, "torch.foo_bar"),
        (11, "torch.foo_bar"),
        (11, "torch.nn.functional.no_such_function"),
    ]


def test_names_imported_from_torch_are_checked_on_their_own_line():
    source = """\
        from torch import (
            nn,
            foo_bar,
        )
        from torch.nn import Linear as L, NoSuchLayer
        model = nn.Sequential(L(2, 3))
        model2 = nn.NotALayer(3)
    """
    assert missing_names(source) == [(3, "torch.foo_bar"), (5, "torch.nn.NoSuchLayer"), (7, "torch.nn.NotALayer")]


def test_chains_through_any_binding_are_resolved_against_chainrule():
    source = """\
        import torch as T
        from torch import nn
        from torch.nn import functional
        a = T.nn.Linear
        b = nn.Module.__call__
        c = functional.cross_entropy
        d = T.Tensor.no_such_method
        T.nn.anything_assigned = 1     # only the owner (torch.nn) must exist
        T.made_up.attribute = 1
    """
    assert missing_names(source) == [(7, "torch.Tensor.no_such_method"), (9, "torch.made_up")]


def test_a_submodule_that_import_chainrule_does_not_load_needs_its_own_import():
    """``torch.x.y`` after a bare ``import torch`` works only for modules that importing the package loads.

    chainrule's command-line package is such a module (the core never imports it), whatever this
    process has loaded: the set comes from a fresh interpreter.
    """
    import chainrule.cli.port  # noqa: F401 (loaded here; a ported script still could not count on it)

    assert port_source("import torch\ntorch.cli.port.port_source\n")[1] == [
        MissingName(2, "torch.cli.port.port_source", "chainrule loads it only after `import torch.cli`")
    ]
    assert missing_names("import torch\nimport torch.cli.port\ntorch.cli.port.port_source\n") == []
    assert missing_names("import torch\nfrom torch.cli import port\ntorch.cli.port.port_source\n") == []


def test_packages_chainrule_does_not_provide_are_reported():
    source = """\
        import torch
        import torchvision.transforms as transforms
        from torchaudio import load
        import lightning as L
        import torchtext
    """
    entries = port_source(textwrap.dedent(source))[1]
    assert [(e.line, e.name, e.reason) for e in entries] == [
        (2, "torchvision", "not provided by chainrule"),
        (3, "torchaudio", "not provided by chainrule"),
        (4, "lightning", "not provided by chainrule"),
        (5, "torchtext", "not provided by chainrule"),
    ]
    assert str(entries[0]) == "2: torchvision \u2014 not provided by chainrule"


def test_an_already_ported_script_is_checked_the_same_way():
    assert missing_names("import chainrule as torch\ntorch.foo_bar()\n") == [(2, "torch.foo_bar")]


def test_not_python_raises_syntax_error():
    with pytest.raises(SyntaxError):
        port_source("def broken(:\n")


def test_port_works_without_torch_installed():
    """In a process where `import torch` fails, port_source still resolves names (through chainrule only)."""
    program = (
        "import sys; sys.modules['torch'] = None\n"  # makes `import torch` raise ImportError
        "from chainrule.cli.port import port_source\n"
        "new, missing = port_source('import torch.nn as nn\\nnn.Linear\\nnn.foo_bar\\n')\n"
        "print(new.splitlines()[0]); print([(m.line, m.name) for m in missing])\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["import chainrule.nn as nn", "[(3, 'torch.nn.foo_bar')]"]


# ---------------------------------------------------------------------- the command
GOOD = "import torch  # the framework\nimport torch.nn as nn\n\nmodel = nn.Linear(2, 3)\nx = torch.zeros(1, 2)\n"
BAD = "import torch\n\ny = torch.foo_bar(1)\n"


@pytest.fixture
def scripts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("good.py").write_text(GOOD)
    Path("bad.py").write_text(BAD)
    return tmp_path


def test_the_command_prints_a_unified_diff_and_exits_0_when_everything_resolves(scripts, capsys):
    assert main(["port", "good.py"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "--- a/good.py",
        "+++ b/good.py",
        "@@ -1,5 +1,5 @@",
        "-import torch  # the framework",
        "-import torch.nn as nn",
        "+import chainrule as torch  # the framework",
        "+import chainrule.nn as nn",
        " ",
        " model = nn.Linear(2, 3)",
        " x = torch.zeros(1, 2)",
    ]
    assert err == ""
    assert Path("good.py").read_text() == GOOD  # without --write nothing changes


def test_missing_names_are_listed_with_file_and_line(scripts, capsys):
    assert main(["port", "bad.py"]) == 0  # a report, not a failure, without --check
    out, err = capsys.readouterr()
    assert "+import chainrule as torch" in out
    assert err.splitlines() == ["bad.py:3: torch.foo_bar \u2014 not in chainrule"]


def test_check_prints_no_diff_and_exits_1_when_a_name_is_missing(scripts, capsys):
    assert main(["port", "--check", "good.py"]) == 0
    assert main(["port", "--check", "good.py", "bad.py"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["bad.py:3: torch.foo_bar \u2014 not in chainrule"]


@pytest.mark.parametrize(
    "content, expected",
    [(None, "cannot read"), ("def broken(:\n", "not a Python file (line 1)"), (b"\xff\xfe\x00", "not a")],
)
def test_unreadable_or_non_python_files_exit_2_and_the_others_are_still_ported(scripts, capsys, content, expected):
    if isinstance(content, bytes):
        Path("odd.py").write_bytes(content)
    elif content is not None:
        Path("odd.py").write_text(content)
    assert main(["port", "odd.py", "good.py"]) == 2
    out, err = capsys.readouterr()
    assert f"chainrule port: odd.py: {expected}" in err
    assert "+++ b/good.py" in out


def test_write_rewrites_in_place_keeping_mode_and_leaving_no_temporary_file(scripts, capsys):
    os.chmod("good.py", 0o751)
    assert main(["port", "--write", "good.py"]) == 0
    assert Path("good.py").read_text() == GOOD.replace("import torch  #", "import chainrule as torch  #").replace(
        "import torch.nn", "import chainrule.nn"
    )
    assert stat.S_IMODE(os.stat("good.py").st_mode) == 0o751
    assert sorted(p.name for p in scripts.iterdir()) == ["bad.py", "good.py"]
    capsys.readouterr()
    assert main(["port", "good.py"]) == 0  # a ported script needs no more change
    assert capsys.readouterr().out == ""


def test_write_keeps_crlf_line_endings_and_the_encoding_declaration(scripts):
    source = "# -*- coding: latin-1 -*-\r\nimport torch\r\nname = 'caf\xe9'\r\n"
    Path("legacy.py").write_bytes(source.encode("latin-1"))
    assert main(["port", "--write", "legacy.py"]) == 0
    assert Path("legacy.py").read_bytes() == source.replace("import torch", "import chainrule as torch").encode(
        "latin-1"
    )


def test_the_installed_command_runs_port():
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "port", "--check", "tests/programs/mlp_spirals.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = subprocess.run([sys.executable, "-m", "chainrule", "port"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "FILE" in done.stderr


def test_help_documents_the_flags_and_exit_statuses(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["port", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--write" in out and "--check" in out and "Exit status: 0" in out


def test_missing_name_records_sort_by_line():
    assert sorted([MissingName(9, "torch.b"), MissingName(2, "torch.z")])[0].line == 2
