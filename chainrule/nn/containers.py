"""Containers of modules: ``Sequential``, ``ModuleList``, ``ModuleDict``, and the ``Residual`` wrapper."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping

from chainrule.nn.module import Module


def _index(position, length: int, container: str) -> int:
    position = operator.index(position)
    if not -length <= position < length:
        raise IndexError(f"{container}: index {position} is out of range for {length} modules")
    return position % length


class Sequential(Module):
    """Modules applied in order, each to the output of the previous one.

        model = Sequential(Linear(784, 128), ReLU(), Linear(128, 10))
        model = Sequential(OrderedDict([("hidden", Linear(784, 128)), ("act", ReLU())]))

    Children are named "0", "1", ... (or by the OrderedDict's keys), so
    ``model[0]`` is the first layer and its weight is ``"0.weight"`` in the
    state dict, as in PyTorch.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> model(cr.zeros(5, 4)).shape
    chainrule.Size([5, 2])
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *args: Module):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[_index(index, len(self), type(self).__name__)]

    def __setitem__(self, index, module: Module) -> None:
        key = list(self._modules)[_index(index, len(self), type(self).__name__)]
        setattr(self, key, module)

    def __delitem__(self, index) -> None:
        keys = list(self._modules)
        chosen = keys[index] if isinstance(index, slice) else [keys[_index(index, len(self), type(self).__name__)]]
        for key in chosen:
            del self._modules[key]
        # Keep the names 0..n-1 after deleting from the middle, as PyTorch does.
        self.__dict__["_modules"] = {str(i): module for i, module in enumerate(self._modules.values())}

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self.__dict__["_modules"] = {}
        for i, child in enumerate(modules):
            self.add_module(str(i), child)
        return self


class ModuleList(Module):
    """A list of modules whose parameters all belong to the owner (a plain list would hide them).

    >>> from chainrule import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), sum(p.numel() for p in layers.parameters())
    (3, 18)
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(_index(index, len(self), "ModuleList"))]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        del modules[index]
        self.__dict__["_modules"] = {str(i): module for i, module in enumerate(modules)}

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError(f"ModuleList.extend should be called with an iterable, got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self.__dict__["_modules"] = {}
        for i, child in enumerate(modules):
            self.add_module(str(i), child)


class ModuleDict(Module):
    """A dict of modules (insertion-ordered) whose parameters all belong to the owner.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> heads = nn.ModuleDict({"digit": nn.Linear(4, 10), "parity": nn.Linear(4, 2)})
    >>> parity = heads["parity"]
    >>> list(heads.keys()), parity(cr.zeros(1, 4)).shape
    (['digit', 'parity'], chainrule.Size([1, 2]))
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module


class Residual(Module):
    """``x + fn(x)``: a skip connection around ``fn`` (a module, registered as the child "fn", or any callable).

    block = Residual(Sequential(Linear(64, 64), ReLU(), Linear(64, 64)))

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Residual(lambda x: 2 * x)(cr.tensor([1.0, 2.0]))
    tensor([3., 6.], shape=(2,), dtype=float32)
    """

    def __init__(self, fn: Module | Callable):
        super().__init__()
        self.fn = fn

    def forward(self, input):
        return input + self.fn(input)
