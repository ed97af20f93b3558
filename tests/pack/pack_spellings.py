"""Hypothesis strategies for the spellings a crafted `pulumi preview` could send: keys in any
case or style, enum words in any case, booleans and uid 0 in every spelling the runtimes
accept. Shared by the property tests of the pack (tests/pack/test_*_properties.py)."""

from __future__ import annotations

import re

from hypothesis import strategies as st


def _words(key: str) -> list[str]:
    return re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", key)


@st.composite
def spelled(draw: st.DrawFn, key: str) -> str:
    """`networkMode` as `networkMode`, `NetworkMode`, `NETWORK_MODE`, `network-mode`, ..."""
    words = _words(key)
    sep = draw(st.sampled_from(["", "_", "-"]))
    style = draw(st.sampled_from(["camel", "pascal", "lower", "upper", "random"]))
    if style == "camel":
        parts = [words[0].lower(), *(w.capitalize() for w in words[1:])]
    elif style == "pascal":
        parts = [w.capitalize() for w in words]
    elif style == "lower":
        parts = [w.lower() for w in words]
    elif style == "upper":
        parts = [w.upper() for w in words]
    else:
        text = sep.join(words)
        mask = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
        return "".join(c.upper() if up else c.lower() for c, up in zip(text, mask, strict=True))
    return sep.join(parts)


def cased(word: str) -> st.SearchStrategy[str]:
    """`host` as `HOST`, `Host`, ` host `, `hOsT`, ..."""
    return st.tuples(st.lists(st.booleans(), min_size=len(word), max_size=len(word)),
                     st.sampled_from(["", " ", "  "]), st.sampled_from(["", " "])).map(
        lambda t: t[1] + "".join(c.upper() if up else c for c, up in
                                 zip(word, t[0], strict=True)) + t[2])


TRUE = st.one_of(st.just(True), st.sampled_from([1, "1", "on", "y", "t"]),
                 cased("true"), cased("yes"))
FALSE = st.one_of(st.just(False), st.sampled_from([0, "0", "off", "n", "f"]),
                  cased("false"), cased("no"))


@st.composite
def misspelled(draw: st.DrawFn, key: str) -> str:
    """A spelling of `key` that is not `key` itself: one the Kubernetes API server does not
    read (it compares field names exactly)."""
    return draw(spelled(key).filter(lambda k: k != key))


@st.composite
def zero(draw: st.DrawFn) -> str:
    """uid 0 in any numeric spelling Docker's Atoi accepts, or by name."""
    if draw(st.booleans()):
        return draw(cased("root").filter(lambda s: s.strip().lower() == "root"))
    sign = draw(st.sampled_from(["", "+", "-"]))
    return (draw(st.sampled_from(["", " "])) + sign + "0" * draw(st.integers(1, 6))
            + draw(st.sampled_from(["", " "])))
