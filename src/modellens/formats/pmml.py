"""PMML (Predictive Model Markup Language) documents, parsed safely.

A PMML file (https://dmg.org/pmml/v4-4-1/GeneralStructure.html) is XML::

    <PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4.1">
      <Header copyright=… description=…><Application name="Nyoka" version="5.5.0"/><Timestamp/></Header>
      <DataDictionary numberOfFields="5"><DataField name=… optype=… dataType=…/>…</DataDictionary>
      <TransformationDictionary><DerivedField …/>…</TransformationDictionary>
      <TreeModel functionName="classification" …>        one or more model elements
        <MiningSchema><MiningField name=… usageType="target"/>…</MiningSchema>
        <Output/> <Node>…</Node>
      </TreeModel>
    </PMML>

PMML holds no tensors: ``inspect`` reports the PMML version, the producing application, the
data dictionary's fields, and each model element (regression, tree, neural network, mining
model with its segments …) with the counts that size it (nodes, neurons, connections,
segments); its inputs and outputs (active and target mining fields) form the ``graph``.

The XML is parsed by the standard library's expat parser, streaming (no element tree is built,
so memory stays flat), with every DOCTYPE, entity declaration and external entity refused (what
defusedxml does, without the dependency): a PMML file needs none, and they are how XML files
attack parsers (billion laughs, external entity reads).
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from xml.parsers import expat

from ..core.errors import CorruptFileError, UnsafeError
from ..core.io import ByteSource
from ..core.model import FileInfo, ModelInfo
from . import FormatSpec, Probe, register

__all__ = ["detect", "read", "MODEL_ELEMENTS"]

FORMAT_ID = "pmml"
MODEL_ELEMENTS = (
    "AnomalyDetectionModel", "AssociationModel", "BayesianNetworkModel", "BaselineModel",
    "ClusteringModel", "GaussianProcessModel", "GeneralRegressionModel", "MiningModel",
    "NaiveBayesModel", "NearestNeighborModel", "NeuralNetwork", "RegressionModel",
    "RuleSetModel", "SequenceModel", "Scorecard", "SupportVectorMachineModel", "TextModel",
    "TimeSeriesModel", "TreeModel",
)
_COUNTED = {"Node": "nodes", "Neuron": "neurons", "NeuralLayer": "neural_layers",
            "Con": "connections", "Segment": "segments", "RegressionTable": "regression_tables",
            "NumericPredictor": "numeric_predictors", "CategoricalPredictor": "categorical_predictors",
            "SimpleRule": "rules", "SupportVector": "support_vectors", "Cluster": "clusters"}
MAX_FIELDS = 10_000
MAX_MODELS = 1_000
CHUNK = 1 << 20


class _Forbidden(Exception):
    pass


def _forbid(*_: Any) -> None:
    raise _Forbidden()


def _local(tag: str) -> str:
    return tag.rsplit(" ", 1)[-1]


def _parser(state: "_State") -> Any:
    p = expat.ParserCreate(namespace_separator=" ")
    p.StartDoctypeDeclHandler = _forbid
    p.EntityDeclHandler = _forbid
    p.UnparsedEntityDeclHandler = _forbid
    p.ExternalEntityRefHandler = _forbid
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.StartElementHandler = state.start
    p.EndElementHandler = state.end
    p.CharacterDataHandler = state.text
    return p


def detect(probe: Probe) -> int:
    head = probe.head[:4096]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head.lstrip().startswith(b"<"):
        return 0
    return 95 if (b"<PMML" in head or b":PMML" in head) else 0


def read(src: ByteSource, probe: Probe | None = None) -> ModelInfo:
    state = _State()
    parser = _parser(state)
    try:
        for off in range(0, src.size, CHUNK):
            parser.Parse(src.read(off, min(CHUNK, src.size - off)), False)
        parser.Parse(b"", True)
    except _Forbidden:
        raise UnsafeError(f"{src.name}: the XML declares a DOCTYPE or entities; PMML needs none "
                          "and modellens refuses them (entity expansion, external reads)") from None
    except expat.ExpatError as e:
        raise CorruptFileError(src.name, f"XML is not well-formed (line {e.lineno}, column "
                               f"{e.offset}: {expat.ErrorString(e.code)})") from None
    if state.root != "PMML":
        raise CorruptFileError(src.name, f"the root element is <{state.root}>, not <PMML>")
    return state.info(src)


class _State:
    def __init__(self) -> None:
        self.root: str | None = None
        self.version: str | None = None
        self.path: list[str] = []
        self.header: dict[str, Any] = {}
        self.fields: list[dict[str, Any]] = []
        self.derived = 0
        self.models: list[dict[str, Any]] = []
        self.operators: Counter = Counter()
        self.model_stack: list[dict[str, Any]] = []
        self.timestamp: list[str] | None = None

    def start(self, tag: str, a: dict[str, str]) -> None:
        name = _local(tag)
        self._start(name, a)
        self.path.append(name)
        if name == "Timestamp" and len(self.path) >= 2 and self.path[-2] == "Header":
            self.timestamp = []

    def end(self, tag: str) -> None:
        name = _local(tag)
        self.path.pop()
        if name == "Timestamp" and self.timestamp is not None:
            self.header["timestamp"] = "".join(self.timestamp).strip()[:64]
            self.timestamp = None
        if name in MODEL_ELEMENTS and self.model_stack:
            self.model_stack.pop()

    def text(self, data: str) -> None:
        if self.timestamp is not None and sum(map(len, self.timestamp)) < 256:
            self.timestamp.append(data)

    def _start(self, name: str, a: dict[str, str]) -> None:
        if not self.path:
            self.root = name
            self.version = a.get("version")
            return
        parent = self.path[-1]
        if name == "Header" and parent == "PMML":
            for k in ("copyright", "description", "modelVersion"):
                if a.get(k):
                    self.header[k] = a[k]
        elif parent == "Header" and name == "Application":
            self.header["application"] = a.get("name")
            self.header["application_version"] = a.get("version")
        elif parent == "DataDictionary" and name == "DataField" and len(self.fields) < MAX_FIELDS:
            self.fields.append({"name": a.get("name"), "optype": a.get("optype"),
                                "dataType": a.get("dataType")})
        elif name == "DerivedField" and "TransformationDictionary" in self.path:
            self.derived += 1
        elif name in MODEL_ELEMENTS:
            self.operators[name] += 1
            m = {"element": name, "functionName": a.get("functionName"),
                 "modelName": a.get("modelName"), "algorithmName": a.get("algorithmName"),
                 "inputs": [], "targets": [], "counts": Counter()}
            self.model_stack.append(m)
            if len(self.models) < MAX_MODELS and len(self.model_stack) == 1:
                self.models.append(m)
        elif self.model_stack:
            m = self.model_stack[-1]
            if name == "MiningField" and parent == "MiningSchema" and len(m["inputs"]) < MAX_FIELDS:
                usage = a.get("usageType", "active")
                if usage in ("target", "predicted"):
                    m["targets"].append(a.get("name"))
                elif usage == "active":
                    m["inputs"].append(a.get("name"))
            elif name in _COUNTED:
                for outer in self.model_stack:
                    outer["counts"][_COUNTED[name]] += 1

    def info(self, src: ByteSource) -> ModelInfo:
        types = {f["name"]: f["dataType"] for f in self.fields}
        models = []
        for m in self.models:
            d = {k: v for k, v in m.items() if k not in ("counts",) and v not in (None, [])}
            d.update(dict(m["counts"]))
            models.append(d)
        md: dict[str, Any] = {"pmml_version": self.version, **{k: v for k, v in self.header.items() if v}}
        md["model_type"] = models[0]["element"] if models else None
        md["data_fields"] = self.fields
        if self.derived:
            md["derived_fields"] = self.derived
        md["models"] = models
        first = self.models[0] if self.models else None
        graph = None
        if first is not None:
            graph = {
                "inputs": [{"name": n, "dtype": _dtype(types.get(n)), "shape": None,
                            "pmml_type": types.get(n)} for n in first["inputs"]],
                "outputs": [{"name": n, "dtype": _dtype(types.get(n)), "shape": None,
                             "pmml_type": types.get(n)} for n in first["targets"]],
                "operators": dict(sorted(self.operators.items(), key=lambda kv: (-kv[1], kv[0]))),
                "opsets": {"pmml": self.version},
                "node_count": sum(self.operators.values()),
            }
        warnings = () if models else ("the document holds no model element",)
        return ModelInfo(source=src.name, format=FORMAT_ID,
                         files=(FileInfo(src.name, FORMAT_ID, src.size),),
                         metadata={k: v for k, v in md.items() if v is not None},
                         architecture={"name": models[0].get("modelName") or models[0]["element"],
                                       "model_type": models[0]["element"]} if models else None,
                         graph=graph, warnings=warnings)


_PMML_TYPES = {"double": "F64", "float": "F32", "integer": "I64", "boolean": "BOOL",
               "string": "STRING"}


def _dtype(t: str | None) -> str | None:
    return _PMML_TYPES.get(t or "", None)


register(FormatSpec(id=FORMAT_ID, detect=detect, read=read, extensions=(".pmml", ".xml"),
                    description="PMML XML (regression, tree, neural network, mining models …)"))
