"""Readers of the official NB101 formats, on small files written here in those formats."""

from __future__ import annotations

import base64
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from suite.benchmarks import nb101, nb101_space
from suite.benchmarks import nb101_official as official
from suite.errors import DataError

# (hash, repeats of (valid, test, time), params); hashes are real NB101 cells
CELLS = [
    ("00005c142e6f48ac74fdcf73e3439874",
     [(0.93, 0.925, 1768.9), (0.931, 0.92, 1770.1), (0.929, 0.93, 1769.0)], 8555530),
    ("0000718c96730a92ea6d5242f8ce77e2",
     [(0.89, 0.88, 1203.2), (0.9, 0.895, 1201.0), (0.893, 0.89, 1204.4)], 5878154),
]
MATRIX = "0100110001000000100100000010000001000000100000000"  # 7x7, row-major, as nasbench stores it
OPS = "input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", value)


def _bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _model_metrics(valid: float, test: float, seconds: float, params: int) -> bytes:
    evaluations = [
        _double(1, 0.0) + _double(2, 0.0) + _double(4, 0.1) + _double(5, 0.1),
        _double(1, 54.0) + _double(2, seconds / 2) + _double(3, 0.8) + _double(4, valid - 0.05)
        + _double(5, test - 0.05),
        _double(1, 108.0) + _double(2, seconds) + _double(3, 1.0) + _double(4, valid) + _double(5, test)
        + _bytes(6, b"/path/model.ckpt-42"),
    ]
    fixed = _varint(2 << 3 | 0) + _varint(params) + _double(3, seconds + 60)
    return b"".join(_bytes(1, e) for e in evaluations) + fixed


def _masked(data: bytes) -> bytes:
    return struct.pack("<I", int(official.masked_crc(official.crc32c(data))))


def _write_tfrecord(path: Path, records: list[bytes]) -> None:
    with path.open("wb") as fh:
        for record in records:
            header = struct.pack("<Q", len(record))
            fh.write(header + _masked(header) + record + _masked(record))


def _records(epochs: int = 108) -> list[bytes]:
    out = []
    for digest, repeats, params in CELLS:
        for valid, test, seconds in repeats:
            metrics = base64.b64encode(_model_metrics(valid, test, seconds, params)).decode()
            out.append(json.dumps([digest, epochs, MATRIX, OPS, metrics]).encode())
    return out


def _check(results: official.Nb101Results) -> None:
    assert [h.decode() for h in results.hashes] == sorted(c[0] for c in CELLS)
    for k, (_, repeats, params) in enumerate(sorted(CELLS)):
        assert results.valid_acc[k].tolist() == [r[0] for r in repeats]
        assert results.test_acc[k].tolist() == [r[1] for r in repeats]
        assert results.train_time[k].tolist() == [r[2] for r in repeats]
        assert results.params[k] == params


def test_crc32c_known_value():
    assert official.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert official.crc32c(b"") == 0


def test_protobuf_parser_reads_the_fields():
    evaluations, params = official.parse_model_metrics(_model_metrics(0.9, 0.8, 100.0, 1234567))
    assert params == 1234567
    assert evaluations[2] == official.Evaluation(100.0, 0.9, 0.8)


def test_tfrecord_round_trip(tmp_path):
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, _records())
    _check(official.read_tfrecord(path))


def test_tfrecord_skips_other_epochs(tmp_path):
    path = tmp_path / "nasbench_full.tfrecord"
    _write_tfrecord(path, _records(epochs=36) + _records())
    _check(official.read_tfrecord(path))


def test_truncated_tfrecord_names_the_file(tmp_path):
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, _records())
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"truncated TFRecord file .*nasbench_only108\.tfrecord"):
        official.read_tfrecord(path)


def test_corrupt_tfrecord_fails_its_crc(tmp_path):
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, _records())
    raw = bytearray(path.read_bytes())
    raw[40] ^= 0x01  # a byte inside the first record's data
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"corrupt TFRecord file .*CRC mismatch in record 0"):
        official.read_tfrecord(path)


def test_tfrecord_with_a_bad_payload(tmp_path):
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, [b"not json"])
    with pytest.raises(DataError, match="record 0 is not a NAS-Bench-101 result"):
        official.read_tfrecord(path)


def test_tfrecord_with_missing_repeats(tmp_path):
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, _records()[:-1])
    with pytest.raises(DataError, match="has 2 repeats, expected 3"):
        official.read_tfrecord(path)


def _naslib_layout() -> dict:
    table = {}
    for digest, repeats, params in CELLS:
        fixed = {
            "module_adjacency": np.array([int(c) for c in MATRIX], dtype=np.int8).reshape(7, 7),
            "module_operations": OPS.split(","),
            "trainable_parameters": params,
        }
        computed = {108: [
            {"final_validation_accuracy": v, "final_test_accuracy": t, "final_training_time": s,
             "halfway_validation_accuracy": v - 0.05, "final_train_accuracy": 1.0}
            for v, t, s in repeats
        ]}
        table[digest] = (fixed, computed)
    return table


def test_naslib_pickle_round_trip(tmp_path):
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps(_naslib_layout(), protocol=4))
    _check(official.read_naslib_pickle(path))


def test_truncated_pickle_names_the_file(tmp_path):
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps(_naslib_layout(), protocol=4)[:-50])
    with pytest.raises(DataError, match=r"nasbench_only108\.pkl"):
        official.read_naslib_pickle(path)


def test_pickle_with_foreign_objects_is_refused(tmp_path):
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps({"x": Path("/etc")}))
    with pytest.raises(DataError, match="unexpected object"):
        official.read_naslib_pickle(path)


def test_pickle_in_another_layout(tmp_path):
    path = tmp_path / "nasbench_only108.pkl"
    path.write_bytes(pickle.dumps({"00005c142e6f48ac74fdcf73e3439874": ({}, {})}))
    with pytest.raises(DataError, match="not in NASLib's layout"):
        official.read_naslib_pickle(path)


def test_conversion_is_cached_and_redone_when_the_source_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, _records())
    first, sha = official.load_official(path)
    _check(first)
    assert len(sha) == 64
    cached = list((tmp_path / "cache").glob("nb101_official_*.npz"))
    assert len(cached) == 1
    again, _ = official.load_official(path)
    _check(again)
    _write_tfrecord(path, _records()[:3])  # one cell only now
    changed, _ = official.load_official(path)
    assert len(changed.hashes) == 1


# ------------------------------------------------------------------ independent of the code's own mask
def _masked_by_definition(crc: int) -> int:
    """TFRecord's masked CRC, as the format defines it: ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_tfrecord_mask_of_the_published_check_value():
    # crc32c(b"123456789") = 0xE3069283 (the CRC-32C check value); rotated right by 15 bits: 0x1C60D from
    # the high 17 bits, 0x1283 << 17 = 0x25060000 from the low 15, so 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5.
    assert _masked_by_definition(0xE3069283) == 0xC78AB0E5
    assert int(official.masked_crc(official.crc32c(b"123456789"))) == 0xC78AB0E5
    for crc in (0, 1, 0xFFFFFFFF, 0x80000000, 0x12345678):
        assert int(official.masked_crc(crc)) == _masked_by_definition(crc)


def test_a_tfrecord_masked_by_the_definition_is_read(tmp_path):
    """The fixture writer above uses the code's own mask; this file is written with the definition's."""
    path = tmp_path / "nasbench_only108.tfrecord"
    with path.open("wb") as fh:
        for record in _records():
            header = struct.pack("<Q", len(record))
            for part in (header, record):
                fh.write(part + struct.pack("<I", _masked_by_definition(official.crc32c(part))))
    _check(official.read_tfrecord(path))
    unmasked = tmp_path / "unmasked.tfrecord"  # plain CRCs, no mask: refused
    with unmasked.open("wb") as fh:
        for record in _records():
            header = struct.pack("<Q", len(record))
            fh.write(b"".join(part + struct.pack("<I", official.crc32c(part)) for part in (header, record)))
    with pytest.raises(DataError, match="CRC mismatch"):
        official.read_tfrecord(unmasked)


# ------------------------------------------------------------------ the tabular oracle's metrics
def _two_cell_table() -> nb101_space.CellTable:
    """A cell table holding only the fixture's two cells (the oracle needs results for every table cell)."""
    n = len(CELLS)
    return nb101_space.CellTable(
        hashes=np.array(sorted(c[0] for c in CELLS), dtype="S32"), n_vertices=np.full(n, 7, np.int8),
        edges=np.zeros(n, np.int64), labels=np.zeros((n, 7), np.int8), params=np.array([c[2] for c in sorted(CELLS)]),
        lookup_keys=np.zeros(0, np.int64), lookup_rows=np.zeros(0, np.int64),
    )


@pytest.mark.parametrize("search_repeat", [None, 1])
def test_the_tabular_oracle_searches_on_validation_and_reports_test(tmp_path, monkeypatch, search_repeat):
    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(nb101_space, "table", _two_cell_table)
    path = tmp_path / "nasbench_only108.tfrecord"
    _write_tfrecord(path, _records())
    bench = nb101.Nb101(nb101.Nb101Settings(search_repeat=search_repeat), official_path=path)
    assert bench.oracle == "nb101-tabular"
    assert bench.search_metric == ("valid_acc" if search_repeat is None else "valid_acc_r1")
    for arch, (_, repeats, _) in enumerate(sorted(CELLS)):
        valid, test, seconds = (np.array(column) for column in zip(*repeats, strict=True))
        expected = valid.mean() if search_repeat is None else valid[search_repeat]
        obs = bench.query(arch)
        assert obs.value == pytest.approx(100 * expected) and obs.value != pytest.approx(100 * test.mean())
        assert obs.cost == pytest.approx(seconds.mean() if search_repeat is None else seconds[search_repeat])
        assert bench.final(arch)["test_acc"] == pytest.approx(100 * test.mean())
