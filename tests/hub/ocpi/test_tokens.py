import base64

from hub.ocpi.tokens import encode_token, generate_token, header_token_candidates, is_valid_token


def test_generate_token_is_long_random_and_valid() -> None:
    tokens = {generate_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(is_valid_token(t) and len(t) >= 43 for t in tokens)


def test_encode_token_base64_and_raw_forms() -> None:
    assert encode_token("example-token", "BASE64") == "Token ZXhhbXBsZS10b2tlbg=="
    assert encode_token("example-token", "RAW") == "Token example-token"


def test_header_candidates_base64_first_then_raw() -> None:
    encoded = base64.b64encode(b"abc-123").decode()
    assert header_token_candidates(encoded)[0] == ("abc-123", "BASE64")
    assert (encoded, "RAW") in header_token_candidates(encoded)


def test_header_candidates_strip_the_spec_examples_trailing_newline() -> None:
    # The spec's own example encodes "example-token\n".
    assert header_token_candidates("ZXhhbXBsZS10b2tlbgo=")[0] == ("example-token", "BASE64")


def test_header_candidates_raw_token_that_is_not_base64() -> None:
    assert header_token_candidates("not_base64!") == [("not_base64!", "RAW")]


def test_is_valid_token_refuses_whitespace_and_length() -> None:
    assert not is_valid_token("has space")
    assert not is_valid_token("x" * 65)
    assert not is_valid_token("")
    assert is_valid_token("x" * 64)
