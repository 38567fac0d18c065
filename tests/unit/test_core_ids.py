import uuid

from publisher.core.ids import HEX_BATCH, HexUuids


def test_hex_ids_are_distinct_version_4_uuids_as_uuid4_hex_writes_them() -> None:
    ids = HexUuids()
    drawn = [ids.next() for _ in range(3 * HEX_BATCH + 7)]  # across refills
    assert len(set(drawn)) == len(drawn)
    for text in drawn:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == text


def test_two_sources_of_hex_ids_do_not_repeat_each_other() -> None:
    first, second = HexUuids(), HexUuids()
    assert {first.next() for _ in range(HEX_BATCH)}.isdisjoint(
        second.next() for _ in range(HEX_BATCH)
    )
