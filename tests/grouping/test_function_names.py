from __future__ import annotations

import pytest

from consumers.grouping.function_names import split_tokens, trim_function_name


@pytest.mark.parametrize(
    ("function", "platform", "expected"),
    [
        (
            "std::vector<int>::push_back(int const&)",
            "native",
            "std::vector<T>::push_back",
        ),
        ("void foo::Bar::run(int, char**) const", "native", "foo::Bar::run"),
        (
            "core::panicking::panic::h1234567890abcdef",
            "native",
            "core::panicking::panic",
        ),
        ("memcpy@GLIBC_2.14", "native", "memcpy"),
        (
            "-[NSObject doesNotRecognizeSelector:]",
            "cocoa",
            "-[NSObject doesNotRecognizeSelector:]",
        ),
        (
            "main::{lambda(int)#1}::operator()(int) const",
            "native",
            "main::lambda::operator()",
        ),
        ("std::ostream::operator<<(int)", "native", "std::ostream::operator<<"),
        ("foo() [clone .cold]", "native", "foo"),
        (
            "@objc ViewController.buttonTapped(_:) -> ()",
            "swift",
            "ViewController.buttonTapped",
        ),
        ("MyApp.Service.Run (System.String arg)", "csharp", "MyApp.Service.Run"),
        ("handle_request", "python", "handle_request"),
        ("<unknown>", "native", "<unknown>"),
    ],
)
def test_trim_function_name(function: str, platform: str, expected: str) -> None:
    assert trim_function_name(function, platform) == expected


def test_split_tokens_keeps_brackets_together() -> None:
    assert split_tokens("unsigned int foo<a b>(x y)") == [
        "unsigned",
        "int",
        "foo<a b>(x y)",
    ]
