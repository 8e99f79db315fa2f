"""ONNX function ops: ops that ONNX defines as a graph of other ops (SwiGLU,
MeanVarianceNormalization, CausalConvWithState, LinearAttention...) are
imported as that graph, as ONNX Runtime runs them, when pyfw has no kernel of
their own. The body is the one ONNX's schema gives for the model's opset; a
context-dependent one is built from the node's attributes and input types
(from ONNX's shape inference). Formal inputs and outputs become the node's,
attribute references its attributes (or the schema's defaults), and every
value inside gets a name of its own under the node's name."""
from __future__ import annotations

import onnx
from onnx import AttributeProto

from .. import UnsupportedError
from . import decompose


def _schema(op_type: str, opset: int, domain: str = ""):
    try:
        return onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None


def has_body(op_type: str, opset: int, domain: str = "") -> bool:
    """Whether ONNX defines op_type of `domain` as a function at `opset`."""
    s = _schema(op_type, opset, domain)
    return s is not None and any(v <= opset for v in list(s.function_opset_versions)
                                 + list(s.context_dependent_function_opset_versions))


DEFAULT_DOMAINS = ("", "ai.onnx")
# Other domains whose function ops run as their bodies (FlexAttention).
BODY_DOMAINS = ("ai.onnx.preview",)


def _domain(node: onnx.NodeProto) -> str:
    return "" if node.domain in DEFAULT_DOMAINS else node.domain


def subgraphs(a: AttributeProto) -> list[onnx.GraphProto]:
    """The graphs an attribute holds (none for other kinds)."""
    return [a.g] if a.type == AttributeProto.GRAPH else list(a.graphs)


def value_names(g: onnx.GraphProto) -> set[str]:
    """Every value name in `g` and its subgraphs."""
    names = {v.name for v in list(g.input) + list(g.output) + list(g.value_info)}
    names |= {t.name for t in g.initializer}
    for n in g.node:
        names.update(n.output)
        for a in n.attribute:
            for sub in subgraphs(a):
                names |= value_names(sub)
    return names


def expandable(node: onnx.NodeProto, opsets: dict[str, int], has_kernel) -> bool:
    """Whether pyfw runs `node` as other ops: a rule in decompose.py for its
    domain and op (in the default domain, where pyfw has no kernel), or an
    ONNX function body (default-domain ops without a kernel, BODY_DOMAINS).
    `opsets` maps each domain the model imports ("" the default) to its version."""
    domain, opset = _domain(node), opsets.get("", 0)
    if decompose.has_rule(node):  # (a default-domain op only from the opset that has it)
        return domain != "" or (not has_kernel(node.op_type) and _schema(node.op_type, opset) is not None)
    if domain == "":
        return not has_kernel(node.op_type) and has_body(node.op_type, opset)
    return domain in BODY_DOMAINS and domain in opsets and has_body(node.op_type, opsets[domain], domain)


def supported(node: onnx.NodeProto, opsets: dict[str, int], has_kernel) -> bool:
    """Whether pyfw can run `node`, with a kernel or as other ops."""
    domain = _domain(node)
    return ((domain == "" and has_kernel(node.op_type)) or (domain, node.op_type) in decompose.KERNELS
            or expandable(node, opsets, has_kernel))


def expand_all(nodes, opsets: dict[str, int], types, prefix, has_kernel,
               constant=None) -> list[tuple[onnx.NodeProto, str]]:
    """`nodes` ((node, name) pairs, in order) with every node pyfw runs as
    other ops (see expandable), and every kernel op in a form its kernel
    lacks (decompose.is_partial), replaced by the ops it stands for,
    recursively. prefix(name) gives each expansion a prefix of its own;
    constant(name) gives the values that no node makes but that are known
    (initializers), else None."""
    work, out = list(nodes)[::-1], []
    graph = decompose.GraphView(work[::-1], constant)
    while work:
        n, name = work.pop()
        if (decompose.has_rule(n) and expandable(n, opsets, has_kernel)) or decompose.is_partial(n, opsets[""], graph):
            work.extend(decompose.decompose(n, prefix(name), opsets[""], types, graph, opsets)[::-1])
        elif expandable(n, opsets, has_kernel):
            body = expand(n, prefix(name), opsets, types)
            for m, _ in body:
                if not supported(m, opsets, has_kernel):
                    raise UnsupportedError(f"node {name!r} ({n.op_type}) is not supported yet: pyfw runs it as the "
                                           f"ops ONNX defines it by, and one of them, {m.op_type}, is not supported")
            work.extend(body[::-1])
        else:
            out.append((n, name))
    return out


def value_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """Every value's type that ONNX's shape inference knows, subgraphs included."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is best effort here; a missing type is reported where needed
        inferred = model
    out: dict[str, onnx.TypeProto] = {}

    def walk(g: onnx.GraphProto) -> None:
        for init in g.initializer:
            out[init.name] = onnx.helper.make_tensor_type_proto(init.data_type, list(init.dims))
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            if vi.type.WhichOneof("value"):
                out.setdefault(vi.name, vi.type)
        for n in g.node:
            for a in n.attribute:
                for sub in subgraphs(a):
                    walk(sub)

    walk(inferred.graph)
    return out


def _body(node: onnx.NodeProto, opset: int, types) -> onnx.FunctionProto:
    s = _schema(node.op_type, opset, _domain(node))
    fp = onnx.FunctionProto()
    plain = [v for v in s.function_opset_versions if v <= opset]
    if plain:
        fp.ParseFromString(s.get_function_with_opset_version(max(plain)))
        return fp
    version = max(v for v in s.context_dependent_function_opset_versions if v <= opset)
    known = types()
    missing = [i for i in node.input if i and i not in known]
    if missing:
        raise UnsupportedError(f"node {node.name!r} ({node.op_type}): expanding it into the ops ONNX defines it by "
                               f"needs the type of input {missing[0]!r}, which shape inference does not give")
    tps = [(known[i] if i else onnx.TypeProto()).SerializeToString() for i in node.input]
    fp.ParseFromString(s.get_context_dependent_function_with_opset_version(version, node.SerializeToString(), tps))
    return fp


def _substitute(attrs, given: dict[str, AttributeProto], renamed) -> list[AttributeProto]:
    """A body node's attributes with references to the function's replaced
    and the values inside its subgraphs renamed."""
    out = []
    for a in attrs:
        if a.ref_attr_name:
            if a.ref_attr_name in given:
                b = AttributeProto()
                b.CopyFrom(given[a.ref_attr_name])
                b.name = a.name
                out.append(b)
            continue  # not given and no default: the inner op's own default
        b = AttributeProto()
        b.CopyFrom(a)
        for g in subgraphs(b):
            _rename_graph(g, given, renamed)
        out.append(b)
    return out


def _rename_node(m: onnx.NodeProto, given, renamed) -> None:
    attrs = _substitute(m.attribute, given, renamed)
    ins, outs = [renamed(i) for i in m.input], [renamed(o) for o in m.output]
    del m.input[:], m.output[:], m.attribute[:]
    m.input.extend(ins)
    m.output.extend(outs)
    m.attribute.extend(attrs)


def _rename_graph(g: onnx.GraphProto, given, renamed) -> None:
    """A body's subgraph, in place: every value gets its name under the node
    (the function's formal names none of them shadow), as in the body."""
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = renamed(vi.name)
    for init in g.initializer:
        init.name = renamed(init.name)
    for m in g.node:
        _rename_node(m, given, renamed)


def expand(node: onnx.NodeProto, name: str, opsets: dict[str, int], types) -> list[tuple[onnx.NodeProto, str]]:
    """The nodes (with names) that `node` stands for, each node and value
    named under `name` (a prefix no other name in the model uses). `types()`
    gives value types for a context-dependent body."""
    opset = opsets[_domain(node)]
    s = _schema(node.op_type, opset, _domain(node))
    fp = _body(node, opset, types)
    # The body's default-domain ops are read at the model's opset; the body may
    # say which it needs (preview bodies, which do not, use opset-13 forms).
    needed = {o.domain: o.version for o in fp.opset_import}.get("", 13 if _domain(node) else 0)
    if opsets.get("", 0) < needed:
        raise UnsupportedError(f"node {name!r} ({node.op_type}): its ONNX body needs default-domain opset {needed} "
                               f"or later, and the model imports {opsets.get('', 0)}")
    given = {a.name: a for a in node.attribute}
    for key, attr in s.attributes.items():  # the schema's defaults, as ONNX Runtime applies them
        if key not in given and attr.default_value and attr.default_value.type:
            given[key] = attr.default_value
    # A formal input the node leaves out is an absent optional input.
    rename = {f: node.input[k] if k < len(node.input) else "" for k, f in enumerate(fp.input)}
    rename.update({f: a for f, a in zip(fp.output, node.output) if a})
    prefix = f"{name}/"

    def renamed(v: str) -> str:
        return "" if not v else rename.get(v, prefix + v)

    out = []
    for k, inner in enumerate(fp.node):
        m = onnx.NodeProto()
        m.CopyFrom(inner)
        _rename_node(m, given, renamed)
        m.name = f"{prefix}{inner.name or inner.op_type + '_' + str(k)}"
        out.append((m, m.name))
    return out
