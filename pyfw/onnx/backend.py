"""ONNX's backend interface over the importer and libpfw, so that
`onnx.backend.test.BackendTest(pyfw.onnx.backend, __name__)` runs ONNX's own
backend test suite on pyfw. Execution is always libpfw's: nothing here falls
back to ONNX Runtime, ONNX's reference evaluator or NumPy."""
from __future__ import annotations

from typing import Any

import onnx
from onnx.backend.base import Backend, BackendRep

from .. import format as _format
from ..ir import infer_shapes
from .importer import import_model


class PfwBackendRep(BackendRep):
    """A prepared model: a libpfw interpreter and the graph's output order."""

    def __init__(self, interpreter):
        self.interpreter = interpreter

    def run(self, inputs: Any, **kwargs: Any) -> list:
        if isinstance(inputs, dict):
            return self.interpreter.run(inputs)
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        return self.interpreter.run(list(inputs))

    def close(self) -> None:
        self.interpreter.close()


class PfwBackend(Backend):
    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", threads: int = 1, **kwargs: Any):
        from ..runtime import Interpreter

        if not cls.supports_device(device):
            raise ValueError(f"pyfw's ONNX backend runs on CPU, not {device!r}")
        graph = import_model(model)
        infer_shapes(graph)
        return PfwBackendRep(Interpreter(_format.to_bytes(graph), threads=threads))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        rep = cls.prepare(model, device, **kwargs)
        try:
            return rep.run(inputs)
        finally:
            rep.close()

    @classmethod
    def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        raise NotImplementedError("pyfw runs whole models; wrap the node in a model and use run_model")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return str(device).upper() == "CPU"


is_compatible = PfwBackend.is_compatible
prepare = PfwBackend.prepare
run_model = PfwBackend.run_model
run_node = PfwBackend.run_node
supports_device = PfwBackend.supports_device
