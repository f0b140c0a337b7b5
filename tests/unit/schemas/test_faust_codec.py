"""faust topics can name the hub codec; it encodes and decodes events like the codec itself."""

from __future__ import annotations

from faust.serializers import codecs

from hub.schemas.codec import Codec
from hub.schemas.faust_codec import FaustAvroCodec, register_codec
from tests.support.samples import sample


def test_registered_codec_round_trips_an_event() -> None:
    register_codec(Codec(), name="hub-avro-test")
    faust_codec = codecs.get_codec("hub-avro-test")
    event = sample("TicketOpened")
    data = faust_codec.dumps(event)
    assert data[:2] == b"\xc3\x01"
    assert faust_codec.loads(data) == event


def test_cloned_codec_keeps_the_hub_codec() -> None:
    codec = Codec()
    clone = FaustAvroCodec(codec=codec).clone()
    assert isinstance(clone, FaustAvroCodec)
    assert clone.codec is codec
