"""Readers for the official NAS-Bench-101 results, without TensorFlow, and their compact cached form.

Two sources, one result (`Nb101Results`: per cell, sorted by hash, all three 108-epoch repeats):

- nasbench's `nasbench_only108.tfrecord`. TFRecord framing: per record a little-endian uint64 length,
  the masked CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data. As nasbench's
  `api.NASBench` reads it, each record is UTF-8 JSON `[hash, epochs, raw_adjacency, raw_operations,
  raw_metrics]`: the adjacency as a string of 0/1 digits (row-major, V*V), the ops comma-separated, and
  base64 of a serialized `nasbench.ModelMetrics` protobuf (field 1: repeated EvaluationData, field 2:
  int32 trainable_parameters, field 3: double total_time; EvaluationData fields 1 current_epoch,
  2 training_time, 3 train_accuracy, 4 validation_accuracy, 5 test_accuracy (doubles), 6 checkpoint_path).
  `evaluation_data[2]` is the end of training, as nasbench's `final_*` metrics.
- NASLib's `nasbench_only108.pkl`: a dict hash -> (fixed statistics {module_adjacency, module_operations,
  trainable_parameters}, computed statistics {108: [three dicts with final_validation_accuracy,
  final_test_accuracy, final_training_time, ...]}). Unpickled with only numpy's array classes allowed.

Any framing, CRC, JSON, protobuf or layout problem raises a DataError naming the file.
"""

from __future__ import annotations

import base64
import json
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from suite import data
from suite.benchmarks import cache_files
from suite.errors import DataError

EPOCHS = 108
N_REPEATS = 3
FINAL_EVALUATION = 2  # evaluation_data: [initialisation, halfway, end of training]
CONVERTED_VERSION = 2  # 2: checked by a sha256 beside the file (suite.benchmarks.cache_files)
_CRC_MASK_DELTA = 0xA282EAD8


# ---------------------------------------------------------------------------------------------- CRC-32C
def _crc32c_table() -> np.ndarray:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(poly), table >> 1).astype(np.uint32)
    return table


_TABLE = _crc32c_table()


def crc32c_many(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC-32C of many byte ranges of `buf` at once: byte position k of every range in one numpy step."""
    order = np.argsort(-lengths, kind="stable")  # longest first, so the ranges still running are a prefix
    starts, lengths = starts[order].astype(np.int64), lengths[order].astype(np.int64)
    crc = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    neg_lengths = -lengths
    for k in range(int(lengths.max(initial=0))):
        m = int(np.searchsorted(neg_lengths, -k, side="left"))  # ranges with length > k
        head = crc[:m]
        crc[:m] = _TABLE[(head ^ buf[starts[:m] + k]) & 0xFF] ^ (head >> 8)
    out = np.empty_like(crc)
    out[order] = crc ^ np.uint32(0xFFFFFFFF)
    return out


def crc32c(data_bytes: bytes) -> int:
    buf = np.frombuffer(data_bytes, dtype=np.uint8)
    return int(crc32c_many(buf, np.zeros(1, np.int64), np.array([len(buf)]))[0])


def masked_crc(crc: np.ndarray | int):
    """TFRecord's mask: rotate right by 15 bits and add a constant (mod 2**32)."""
    crc = np.asarray(crc, dtype=np.uint64)
    rotated = ((crc >> np.uint64(15)) | (crc << np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return ((rotated + np.uint64(_CRC_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def tfrecord_records(path: Path) -> list[bytes]:
    """The data of every record of a TFRecord file, CRCs checked; DataError if truncated or corrupt."""
    raw = path.read_bytes()
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts, lengths = [], []
    pos, size = 0, len(raw)
    while pos < size:
        if pos + 12 > size:
            raise DataError(f"truncated TFRecord file {path}: record header cut off at byte {pos}")
        (length,) = struct.unpack_from("<Q", raw, pos)
        if pos + 12 + length + 4 > size:
            raise DataError(f"truncated TFRecord file {path}: record at byte {pos} needs {length} bytes")
        starts.append(pos)
        lengths.append(length)
        pos += 12 + length + 4
    starts_a = np.array(starts, dtype=np.int64)
    lengths_a = np.array(lengths, dtype=np.int64)
    header_crc = masked_crc(crc32c_many(buf, starts_a, np.full(len(starts_a), 8)))
    data_crc = masked_crc(crc32c_many(buf, starts_a + 12, lengths_a))
    stored_header = _read_u32(buf, starts_a + 8)
    stored_data = _read_u32(buf, starts_a + 12 + lengths_a)
    bad = np.flatnonzero((header_crc != stored_header) | (data_crc != stored_data))
    if len(bad):
        raise DataError(f"corrupt TFRecord file {path}: CRC mismatch in record {int(bad[0])} "
                        f"(byte {int(starts_a[bad[0]])}); {len(bad)} bad record(s)")
    return [raw[s + 12 : s + 12 + n] for s, n in zip(starts, lengths, strict=True)]


def _read_u32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    b = [buf[at + k].astype(np.uint32) for k in range(4)]
    return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)


# ---------------------------------------------------------------------------------------------- protobuf
def _varint(msg: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(msg):
            raise ValueError("varint runs past the end of the message")
        byte = msg[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def proto_fields(msg: bytes) -> list[tuple[int, int | float | bytes]]:
    """(field number, value) pairs of a protobuf message: varints as int, fixed64 as double,
    length-delimited as bytes, fixed32 as float (the wire format; no schema needed)."""
    fields: list[tuple[int, int | float | bytes]] = []
    pos = 0
    while pos < len(msg):
        key, pos = _varint(msg, pos)
        number, wire = key >> 3, key & 7
        value: int | float | bytes
        if wire == 0:
            value, pos = _varint(msg, pos)
        elif wire == 1:
            if pos + 8 > len(msg):
                raise ValueError("fixed64 field runs past the end")
            (value,) = struct.unpack_from("<d", msg, pos)
            pos += 8
        elif wire == 2:
            length, pos = _varint(msg, pos)
            if pos + length > len(msg):
                raise ValueError("length-delimited field runs past the end")
            value, pos = msg[pos : pos + length], pos + length
        elif wire == 5:
            if pos + 4 > len(msg):
                raise ValueError("fixed32 field runs past the end")
            (value,) = struct.unpack_from("<f", msg, pos)
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, value))
    return fields


@dataclass(frozen=True)
class Evaluation:
    training_time: float
    validation_accuracy: float
    test_accuracy: float


def parse_model_metrics(msg: bytes) -> tuple[list[Evaluation], int]:
    """nasbench ModelMetrics -> (evaluation_data, trainable_parameters)."""
    evaluations, params = [], None
    for number, value in proto_fields(msg):
        if number == 1:
            ev = dict(proto_fields(cast(bytes, value)))  # field 1: a message (length-delimited)
            evaluations.append(Evaluation(float(ev.get(2, 0.0)), float(ev.get(4, 0.0)), float(ev.get(5, 0.0))))
        elif number == 2:
            params = int(value)
    if params is None:
        raise ValueError("ModelMetrics has no trainable_parameters")
    return evaluations, params


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Nb101Results:
    """Official results per cell, sorted by hash: repeats along axis 1 (accuracies as fractions)."""

    hashes: np.ndarray  # S32
    valid_acc: np.ndarray  # [N, 3]
    test_acc: np.ndarray  # [N, 3]
    train_time: np.ndarray  # [N, 3] seconds
    params: np.ndarray  # [N]


class _Collector:
    """Gathers repeats by hash and checks the count."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, list[tuple[float, float, float]]] = {}
        self.params: dict[str, int] = {}

    def add(self, digest: str, params: int, repeat: tuple[float, float, float]) -> None:
        self.rows.setdefault(digest, []).append(repeat)
        self.params[digest] = params

    def result(self) -> Nb101Results:
        if not self.rows:
            raise DataError(f"{self.path} holds no {EPOCHS}-epoch NAS-Bench-101 results")
        for digest, repeats in self.rows.items():
            if len(repeats) != N_REPEATS:
                raise DataError(f"{self.path}: cell {digest} has {len(repeats)} repeats, expected {N_REPEATS}")
        order = sorted(self.rows)
        values = np.array([self.rows[h] for h in order], dtype=np.float64)  # [N, 3, (valid, test, time)]
        return Nb101Results(
            hashes=np.array(order, dtype="S32"),
            valid_acc=values[:, :, 0],
            test_acc=values[:, :, 1],
            train_time=values[:, :, 2],
            params=np.array([self.params[h] for h in order], dtype=np.int64),
        )


def read_tfrecord(path: Path) -> Nb101Results:
    out = _Collector(path)
    for k, record in enumerate(tfrecord_records(path)):
        try:
            digest, epochs, _adjacency, _ops, raw_metrics = json.loads(record.decode("utf-8"))
            if int(epochs) != EPOCHS:
                continue
            evaluations, params = parse_model_metrics(base64.b64decode(raw_metrics, validate=True))
            final = evaluations[FINAL_EVALUATION]
        except (ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: record {k} is not a NAS-Bench-101 result ({exc})") from None
        out.add(str(digest), params, (final.validation_accuracy, final.test_accuracy, final.training_time))
    return out.result()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    # A pickle can run arbitrary code; NASLib's file needs numpy arrays and nothing else.
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


def read_naslib_pickle(path: Path) -> Nb101Results:
    try:
        with path.open("rb") as fh:
            table = _NumpyOnlyUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"cannot read {path} as NASLib's NAS-Bench-101 pickle: {exc}") from None
    if not isinstance(table, dict):
        raise DataError(f"{path}: expected a dict hash -> (fixed, computed) statistics")
    out = _Collector(path)
    for digest, stats in table.items():
        try:
            fixed, computed = stats
            params = int(fixed["trainable_parameters"])
            for repeat in computed[EPOCHS]:
                out.add(str(digest), params, (
                    float(repeat["final_validation_accuracy"]),
                    float(repeat["final_test_accuracy"]),
                    float(repeat["final_training_time"]),
                ))
        except (ValueError, TypeError, KeyError) as exc:
            raise DataError(f"{path}: entry {digest!r} is not in NASLib's layout ({exc!r})") from None
    return out.result()


READERS = {"nasbench_only108.tfrecord": read_tfrecord, "nasbench_only108.pkl": read_naslib_pickle}
OFFICIAL_DIR = "nb101"


def official_file() -> Path | None:
    """The official NB101 file in the data directory, if present (TFRecord preferred)."""
    for name in READERS:
        path = data.data_dir() / OFFICIAL_DIR / name
        if path.is_file():
            return path
    return None


# ---------------------------------------------------------------------------------------------- cache
def _converted_path(source: Path) -> Path:
    return data.cache_dir() / f"nb101_official_v{CONVERTED_VERSION}_{source.name}.npz"


def load_official(source: Path) -> tuple[Nb101Results, str]:
    """The results of an official file and its sha256, converted once into cache_dir().

    The cache records the source's size, mtime and sha256; a changed source is converted again."""
    stat = source.stat()
    stamp = np.array([stat.st_size, stat.st_mtime_ns], dtype=np.int64)
    cached = _converted_path(source)
    npz = cache_files.load_npz(cached, "converted NB101 official results")
    if npz is not None:
        try:
            if np.array_equal(npz["stamp"], stamp) and int(npz["version"]) == CONVERTED_VERSION:
                fields = {name: npz[name] for name in Nb101Results.__dataclass_fields__}
                return Nb101Results(**fields), str(npz["sha256"])
        except KeyError:
            pass  # another layout: convert again
    data.writable_cache_dir()  # an unwritable cache is refused before converting, a complete one is only read
    results = READERS[source.name](source)
    sha256 = data.sha256_of(source)
    arrays = {name: getattr(results, name) for name in Nb101Results.__dataclass_fields__}
    cache_files.save_npz(cached, {"stamp": stamp, "version": np.array(CONVERTED_VERSION),
                                  "sha256": np.array(sha256), **arrays})
    return results, sha256
