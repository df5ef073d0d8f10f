"""Text content: the seed's vocabulary and topics, request token masks, and output texts.

A request is a set of 5-12 tokens drawn from its topic's words, held as a boolean *mask* over
the topic's ``topic_words`` words; a rephrase modifies a few tokens of its parent's mask. The
vocabulary and topics depend on the seed only (not on the chunk), so they are shared by all
chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from .params import TextParams
from .strings import concat, join_tokens
from .vocab import CHAT, CODE, SEARCH

__all__ = [
    "Lexicon",
    "Texts",
    "build_lexicon",
    "build_texts",
    "first_k",
    "modify_masks",
    "random_masks",
]

_ONSETS = (
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
    "br", "ch", "cl", "dr", "fl", "gr", "kr", "pl", "pr", "sh", "sk", "st", "th", "tr",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou")
_CODAS = ("", "", "", "", "n", "r", "s", "l", "x", "k", "m", "t")
_CANDIDATES = 512  # candidate words drawn per round while building the vocabulary
_OUTPUT_WORDS = 8  # words drawn for every output text


@dataclass(frozen=True)
class Lexicon:
    """The vocabulary and topics of a seed.

    Attributes
    ----------
    vocab : pyarrow.StringArray
        Word strings; index ``vocab_size`` is the separator token ``"|"``.
    topic_words : numpy.ndarray of int32, shape (3 * n_topics, topic_words)
        Word ids of every topic; topic ``t`` of surface ``s`` is row ``s * n_topics + t``.
    topic_cdf : numpy.ndarray of float64, shape (n_topics,)
        Cumulative Zipf-like topic popularity within a surface.
    """

    vocab: pa.Array
    topic_words: NDArray[np.int32]
    topic_cdf: NDArray[np.float64]


def build_lexicon(seed: int, params: TextParams) -> Lexicon:
    """Draw the vocabulary (pronounceable pseudo-words) and the topics of ``seed``.

    Parameters
    ----------
    seed : int
        The simulation seed; the lexicon uses its own generator ``[seed, 0x5EED, 1]``.
    params : TextParams
        Vocabulary and topic sizes.

    Returns
    -------
    Lexicon
        Vocabulary, topic words and topic popularity.
    """
    rng = np.random.default_rng([seed, 0x5EED, 1])
    onsets, vowels, codas = np.array(_ONSETS), np.array(_VOWELS), np.array(_CODAS)
    words: dict[str, None] = {}
    while len(words) < params.vocab_size:  # one-off loop over a few thousand candidate words
        n_syl = rng.integers(2, 4, _CANDIDATES)
        sy = rng.integers(0, [len(onsets), len(vowels)], size=(_CANDIDATES, 3, 2))
        coda = rng.integers(0, len(codas), _CANDIDATES)
        for i in range(_CANDIDATES):
            w = "".join(onsets[a] + vowels[b] for a, b in sy[i, : n_syl[i]]) + codas[coda[i]]
            words.setdefault(w, None)
            if len(words) == params.vocab_size:
                break
    vocab = pa.array([*words, "|"], type=pa.string())
    topic_words = np.empty((3 * params.n_topics, params.topic_words), dtype=np.int32)
    for t in range(3 * params.n_topics):
        topic_words[t] = rng.choice(params.vocab_size, params.topic_words, replace=False)
    weights = (np.arange(params.n_topics) + params.topic_offset) ** -params.topic_exponent
    return Lexicon(vocab, topic_words, np.cumsum(weights / weights.sum()))


def first_k(keys: NDArray[np.float64], k: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
    """Boolean mask of the ``k[i]`` smallest keys of every row.

    Parameters
    ----------
    keys : numpy.ndarray of float, shape (n, m)
        Sort keys.
    k : numpy.ndarray of int, shape (n,)
        How many to select per row.

    Returns
    -------
    numpy.ndarray of bool, shape (n, m)
        True for the selected entries.
    """
    order = keys.argsort(1)
    out = np.empty(keys.shape, dtype=bool)
    np.put_along_axis(out, order, np.arange(keys.shape[1])[None, :] < k[:, None], axis=1)
    return out


def random_masks(rng: np.random.Generator, n: int, params: TextParams) -> NDArray[np.bool_]:
    """Token masks of ``n`` new requests over their topic's words.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    n : int
        Number of masks.
    params : TextParams
        Topic size and token count range.

    Returns
    -------
    numpy.ndarray of bool, shape (n, topic_words)
        ``min_tokens`` to ``max_tokens`` tokens per row.
    """
    n_tok = rng.integers(params.min_tokens, params.max_tokens + 1, n)
    return first_k(rng.random((n, params.topic_words)), n_tok)


def modify_masks(
    rng: np.random.Generator, masks: NDArray[np.bool_], max_tokens: int
) -> NDArray[np.bool_]:
    """Rephrase token masks: replace 1..n//4 tokens and sometimes add one.

    Token Jaccard with the original is ``(n - m) / (n + m + extra) >= 6/11`` and the result is
    never identical to the input.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    masks : numpy.ndarray of bool, shape (n, topic_words)
        The original masks.
    max_tokens : int
        A token is only added to masks with fewer tokens than this.

    Returns
    -------
    numpy.ndarray of bool, shape (n, topic_words)
        The modified masks.
    """
    n = len(masks)
    n_tok = masks.sum(1)
    m_max = np.maximum(1, n_tok // 4)
    m = 1 + (rng.random(n) * m_max).astype(np.int64)
    extra = (n_tok < max_tokens) & (rng.random(n) < 0.3)
    keys = rng.random(masks.shape)
    remove = masks & first_k(np.where(masks, keys, 2.0), m)
    add = ~masks & first_k(np.where(masks, 2.0, keys), m + extra)
    out: NDArray[np.bool_] = (masks & ~remove) | add
    return out


@dataclass(frozen=True)
class Texts:
    """The texts of a chunk's requests and outputs.

    Attributes
    ----------
    request : pyarrow.StringArray
        Request text of every request.
    output : pyarrow.StringArray
        Output text of every request's output.
    output_chars : numpy.ndarray of int64
        Length of every output text in characters.
    """

    request: pa.Array
    output: pa.Array
    output_chars: NDArray[np.int64]


def build_texts(
    rng: np.random.Generator,
    lexicon: Lexicon,
    params: TextParams,
    req: dict[str, NDArray[Any]],
    surface: NDArray[np.integer[Any]],
) -> Texts:
    """Build request texts from their masks and draw output texts.

    A good output draws more of its words from the request's topic. Chat outputs are 6-10
    words, search outputs three two-word titles separated by ``"|"``, code outputs a code-like
    line.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    lexicon : Lexicon
        Vocabulary and topics.
    params : TextParams
        Vocabulary and topic sizes.
    req : dict of str to numpy.ndarray
        Request columns; uses ``topic``, ``mask`` and ``good``.
    surface : numpy.ndarray of int
        Surface code of every request.

    Returns
    -------
    Texts
        Request texts, output texts and output lengths.
    """
    n_req = len(surface)
    vocab = lexicon.vocab
    req_words = lexicon.topic_words[req["topic"]][req["mask"]]
    req_text = join_tokens(req_words, req["mask"].sum(1), vocab)
    p_on = np.where(req["good"], *params.on_topic)
    size = (n_req, _OUTPUT_WORDS)
    on_topic = rng.random(size) < p_on[:, None]
    topic_pick = lexicon.topic_words[
        req["topic"][:, None], rng.integers(0, params.topic_words, size)
    ]
    out_w = np.where(on_topic, topic_pick, rng.integers(0, params.vocab_size, size))
    sep = params.vocab_size
    n_chat = rng.integers(6, 11, n_req)
    chat_mask = np.arange(10)[None, :] < n_chat[:, None]
    chat_w = np.concatenate([out_w, out_w[:, :2]], axis=1)
    search_w = np.stack(
        [out_w[:, 0], out_w[:, 1], np.full(n_req, sep), out_w[:, 2], out_w[:, 3],
         np.full(n_req, sep), out_w[:, 4], out_w[:, 5]], axis=1,
    )  # fmt: skip
    is_chat, is_search = surface == CHAT, surface == SEARCH
    text_mask = np.where(
        is_chat[:, None], chat_mask, np.where(is_search[:, None], np.arange(10) < 8, False)
    )
    text_words = np.where(is_chat[:, None], chat_w, np.pad(search_w, ((0, 0), (0, 2))))
    prose = join_tokens(text_words[text_mask], text_mask.sum(1), vocab)
    w = [vocab.take(pa.array(out_w[:, k])) for k in range(4)]
    code_text = concat("def ", w[0], "_", w[1], "(", w[2], "): return ", w[3], "(", w[2], ")")
    out_text = pc.if_else(pa.array(surface == CODE), code_text, prose)
    out_nchars = pc.utf8_length(out_text).to_numpy(zero_copy_only=False).astype(np.int64)
    return Texts(request=req_text, output=out_text, output_chars=out_nchars)
