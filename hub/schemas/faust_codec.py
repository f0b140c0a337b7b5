"""Registers the hub codec with faust, so topics name it and agents never touch bytes."""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from hub.schemas.codec import Codec

CODEC_NAME = "hub-avro"


class FaustAvroCodec(codecs.Codec):
    """faust's codec interface over ``hub.schemas.codec.Codec``."""

    def __init__(self, children: Any = None, *, codec: Codec, **kwargs: Any) -> None:
        # faust clones codecs with type(self)(children=..., **self.kwargs): keep codec in kwargs.
        super().__init__(children=children, codec=codec, **kwargs)
        self.codec = codec

    def _dumps(self, obj: Any) -> bytes:
        return self.codec.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self.codec.decode(s)


def register_codec(codec: Codec, name: str = CODEC_NAME) -> FaustAvroCodec:
    """Register ``codec`` under ``name`` for ``value_serializer=name`` on faust topics."""
    faust_codec = FaustAvroCodec(codec=codec)
    codecs.register(name, faust_codec)
    return faust_codec
