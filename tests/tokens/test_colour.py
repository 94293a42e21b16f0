"""A participant's colour: in the range the front end accepts, and the same everywhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from antechamber.tokens.colour import colour_for

HSL = re.compile(r"^hsl\((\d{1,3}), (\d{1,3})%, (\d{1,3})%\)$")
IDENTITIES = ["dev|alice@example.com", "dev|bob@example.com", "", "é🙂", "x" * 1000]


@given(st.text())
def test_it_is_an_hsl_colour_within_the_allowed_ranges(identity: str) -> None:
    match = HSL.fullmatch(colour_for(identity))

    assert match is not None
    hue, saturation, lightness = (int(part) for part in match.groups())
    assert 0 <= hue <= 359
    assert 50 <= saturation <= 75
    assert 25 <= lightness <= 60


@given(st.text())
def test_it_is_a_pure_function_of_the_identity(identity: str) -> None:
    assert colour_for(identity) == colour_for(identity)


def test_it_spreads_participants_over_many_colours() -> None:
    colours = {colour_for(f"participant-{n}") for n in range(200)}

    assert len(colours) > 150


def _colours_in_a_new_process(hash_seed: str) -> list[str]:
    script = (
        "import json, sys\n"
        "from antechamber.tokens.colour import colour_for\n"
        "print(json.dumps([colour_for(i) for i in json.loads(sys.argv[1])]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(IDENTITIES)],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_it_gives_the_same_colours_in_processes_with_different_hash_seeds() -> None:
    first = _colours_in_a_new_process("1")
    second = _colours_in_a_new_process("4242")

    # Built-in hash() of these strings differs between the two; the colours must not.
    assert first == second == [colour_for(identity) for identity in IDENTITIES]
    assert len(set(first)) == len(IDENTITIES)
