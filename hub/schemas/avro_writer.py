"""Avro binary encoding compiled per schema: one generated Python function per record.

Hand-written rather than fastavro's ``schemaless_writer`` for the hot path only: fastavro walks
the parsed schema for every datum (a dict lookup per field and type, union branches tried one
by one), which took 10-26 us a record for the hub's contracts; the function generated here does
the same writes in straight-line code. Its bytes are fastavro's, byte for byte (a property test
compares them for every contract, ``tests/unit/schemas/test_avro_writer.py``), and logical types
go through fastavro's own converters. ``compile_writer`` returns None for a schema with anything
it does not compile (maps, fixed, floats, bytes, unions other than null-or-one-type); the codec
then keeps using fastavro for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastavro.write import LOGICAL_WRITERS  # the converters schemaless_writer uses

Writer = Callable[[Mapping[str, Any]], bytes]

_ONE_BYTE = [bytes([n]) for n in range(128)]


def encode_long(n: int) -> bytes:
    """Avro's zig-zag varint of a long (or int)."""
    n = (n << 1) ^ (n >> 63)
    if n < 128:
        return _ONE_BYTE[n]
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _Unsupported(Exception):
    """The schema has a construct this compiler leaves to fastavro."""


class _Compiler:
    def __init__(self) -> None:
        self.functions: list[str] = []
        self.names: dict[str, str] = {}  # Avro full name -> generated function
        self.enums: dict[str, tuple[str, ...]] = {}
        self.constants: dict[str, Any] = {
            "_long": encode_long,
            "_LOGICAL": LOGICAL_WRITERS,
        }
        self.counter = 0

    def constant(self, value: Any) -> str:
        self.counter += 1
        name = f"_c{self.counter}"
        self.constants[name] = value
        return name

    def record(self, schema: Mapping[str, Any]) -> str:
        full_name = str(schema["name"])
        if full_name in self.names:
            return self.names[full_name]
        self.counter += 1
        function = f"_record{self.counter}"
        self.names[full_name] = function  # before the fields: a recursive record refers to it
        lines = [f"def {function}(d, o):"]
        for field in schema["fields"]:
            variable = "v"
            lines.append(f"    {variable} = d[{field['name']!r}]")
            lines += self.value(field["type"], variable, "    ", 0)
        if len(lines) == 1:
            lines.append("    pass")
        self.functions.append("\n".join(lines))
        return function

    def value(self, schema: Any, variable: str, indent: str, depth: int) -> list[str]:
        """Lines appending ``variable``'s encoding under ``schema`` to the bytearray ``o``."""
        if depth > 8:
            raise _Unsupported("nesting too deep")
        if isinstance(schema, list):
            return self.union(schema, variable, indent, depth)
        if isinstance(schema, str):
            if schema in self.names:
                return [f"{indent}{self.names[schema]}({variable}, o)"]
            if schema in self.enums:
                return self.enum(self.enums[schema], variable, indent)
            return self.primitive(schema, variable, indent)
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if logical is not None:
            key = f"{kind}-{logical}"
            if key not in LOGICAL_WRITERS or kind not in ("long", "int", "string"):
                raise _Unsupported(f"logical type {key}")
            converter = self.constant(LOGICAL_WRITERS[key])
            prepared = self.constant(schema)
            converted = f"{variable}_l{depth}"
            return [
                f"{indent}{converted} = {converter}({variable}, {prepared})",
                *self.primitive(kind, converted, indent),
            ]
        if kind == "record":
            return [f"{indent}{self.record(schema)}({variable}, o)"]
        if kind == "enum":
            symbols = tuple(schema["symbols"])
            self.enums[str(schema["name"])] = symbols
            return self.enum(symbols, variable, indent)
        if kind == "array":
            item = f"i{depth}"
            return [
                f"{indent}if {variable}:",
                f"{indent}    o += _long(len({variable}))",
                f"{indent}    for {item} in {variable}:",
                *self.value(schema["items"], item, indent + "        ", depth + 1),
                f"{indent}o += b'\\x00'",
            ]
        if isinstance(kind, str) and kind in ("null", "boolean", "int", "long", "string"):
            return self.primitive(kind, variable, indent)
        raise _Unsupported(f"type {kind!r}")

    def primitive(self, kind: str, variable: str, indent: str) -> list[str]:
        if kind == "null":
            return []
        if kind == "boolean":
            return [f"{indent}o += b'\\x01' if {variable} else b'\\x00'"]
        if kind in ("int", "long"):
            return [f"{indent}o += _long({variable})"]
        if kind == "string":
            encoded = f"{variable}_b"
            return [
                f"{indent}{encoded} = {variable}.encode()",
                f"{indent}o += _long(len({encoded}))",
                f"{indent}o += {encoded}",
            ]
        raise _Unsupported(f"type {kind!r}")

    def enum(self, symbols: tuple[str, ...], variable: str, indent: str) -> list[str]:
        # fastavro's own lookup (``symbols.index``): an Enum member equals its str value.
        return [f"{indent}o += _long({self.constant(symbols)}.index({variable}))"]

    def union(self, branches: list[Any], variable: str, indent: str, depth: int) -> list[str]:
        if len(branches) != 2 or branches.count("null") != 1:
            raise _Unsupported("a union other than null or one type")
        null_index = branches.index("null")
        other = branches[1 - null_index]
        null_byte, other_byte = encode_long(null_index), encode_long(1 - null_index)
        return [
            f"{indent}if {variable} is None:",
            f"{indent}    o += {null_byte!r}",
            f"{indent}else:",
            f"{indent}    o += {other_byte!r}",
            *self.value(other, variable, indent + "    ", depth + 1),
        ]


def compile_writer(parsed: Mapping[str, Any]) -> Writer | None:
    """A function from a record datum (a dict, as fastavro takes it) to its Avro body, for the
    schema ``parsed`` (fastavro's ``parse_schema`` output); None where fastavro must write it."""
    if not isinstance(parsed, Mapping) or parsed.get("type") != "record":
        return None
    compiler = _Compiler()
    try:
        top = compiler.record(parsed)
    except _Unsupported:
        return None
    source = "\n\n".join(compiler.functions)
    source += f"\n\ndef write(d):\n    o = bytearray()\n    {top}(d, o)\n    return bytes(o)\n"
    namespace: dict[str, Any] = dict(compiler.constants)
    exec(compile(source, f"<avro writer {parsed['name']}>", "exec"), namespace)  # noqa: S102
    writer: Writer = namespace["write"]
    return writer
