"""The Web API's MD5 challenge against MetaQuotes' documented test vectors."""

from __future__ import annotations

from mt_bridge.mt5.auth import answers_match, challenge_answer, new_rand, password_hash

# From MetaQuotes' page webapi_rest_authentication.
DOC_PASSWORD = "Password1"
DOC_PASSWORD_HASH = "904ba8ecb16273d2f0ae9c3b8a023752"
DOC_SRV_RAND = "73007dc7184747ce0f7c98516ef1c851"
DOC_SRV_RAND_ANSWER = "77fe51827f7fa69dd80fbec9aa33f1bb"
DOC_CLI_RAND = "4db98fec17aab4dc5a240bdc659e8395"
DOC_CLI_RAND_ANSWER = "1732021b1b332f51660b2b315eed3a35"


def test_password_hash_matches_documented_vector() -> None:
    assert password_hash(DOC_PASSWORD).hex() == DOC_PASSWORD_HASH


def test_srv_rand_answer_matches_documented_vector() -> None:
    assert challenge_answer(password_hash(DOC_PASSWORD), DOC_SRV_RAND) == DOC_SRV_RAND_ANSWER


def test_cli_rand_answer_matches_documented_vector() -> None:
    assert challenge_answer(password_hash(DOC_PASSWORD), DOC_CLI_RAND) == DOC_CLI_RAND_ANSWER


def test_password_is_hashed_as_utf16le_not_utf8() -> None:
    # ASCII-only passwords differ between encodings too; a non-ASCII one makes the point sharper.
    assert password_hash("Pässword1") != password_hash("Password1")
    assert password_hash("Password1") != password_hash("password1")


def test_new_rand_is_sixteen_fresh_bytes_as_hex() -> None:
    first, second = new_rand(), new_rand()
    assert len(bytes.fromhex(first)) == 16
    assert first != second


def test_answers_compare_without_letter_case() -> None:
    assert answers_match(DOC_CLI_RAND_ANSWER, DOC_CLI_RAND_ANSWER.upper())
    assert not answers_match(DOC_CLI_RAND_ANSWER, DOC_SRV_RAND_ANSWER)
