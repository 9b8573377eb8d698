"""Client tokens: signed, expiring, bound to the API key, and robust to garbage."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from omnivox.agent.api.access.tokens import ClientTokens


def test_a_minted_token_is_valid_until_it_expires() -> None:
    tokens = ClientTokens("sk-test", ttl_s=60)
    token = tokens.mint(now=1000.0)
    assert token.expires_at == 1060
    assert tokens.valid(token.value, 1000.0)
    assert tokens.valid(token.value, 1059.9)
    assert not tokens.valid(token.value, 1060.0)


def test_tokens_are_bound_to_the_key_and_cannot_be_altered() -> None:
    token = ClientTokens("sk-test", 60).mint(0.0).value
    assert not ClientTokens("sk-other", 60).valid(token, 1.0)
    prefix, expires, nonce, signature = token.split(".")
    later = f"{prefix}.{int(expires) + 3600}.{nonce}.{signature}"
    assert not ClientTokens("sk-test", 60).valid(later, 1.0)
    assert ClientTokens("sk-test", 60).valid(token, 1.0)


def test_each_token_is_different() -> None:
    tokens = ClientTokens("k", 60)
    assert tokens.mint(0.0).value != tokens.mint(0.0).value


@given(st.text(max_size=200))
def test_garbage_is_never_valid_and_never_raises(value: str) -> None:
    assert not ClientTokens("k", 60).valid(value, 0.0)
