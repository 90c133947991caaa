"""Seer request signatures."""

from __future__ import annotations

import hashlib
import hmac

from consumers.seer.signing import authorization_value, signature, verify_authorization

BODY = b'{"project_id":1,"hash_list":[]}'


def test_signature_is_hmac_sha256_of_body() -> None:
    expected = hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()
    assert signature("secret", BODY) == expected


def test_authorization_value_format() -> None:
    value = authorization_value("secret", BODY)
    assert value == f"Rpcsignature rpc0:{signature('secret', BODY)}"


def test_verify_accepts_own_signature() -> None:
    assert verify_authorization("secret", BODY, authorization_value("secret", BODY))


def test_verify_rejects_other_body() -> None:
    header = authorization_value("secret", BODY)
    assert not verify_authorization("secret", BODY + b" ", header)


def test_verify_rejects_other_secret() -> None:
    header = authorization_value("other", BODY)
    assert not verify_authorization("secret", BODY, header)


def test_verify_rejects_malformed_headers() -> None:
    digest = signature("secret", BODY)
    for header in [None, "", f"Bearer {digest}", f"Rpcsignature {digest}", "x y"]:
        assert not verify_authorization("secret", BODY, header), header
