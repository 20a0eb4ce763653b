"""The SPEC §1 file format: lossless round trips, clear errors, provenance hash."""

import hashlib
import json
import os
import stat

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from ngramsim import (
    LanguageFormatError,
    dirichlet_language,
    language_sha256,
    language_to_dict,
    read_language,
    uniform_language,
    window_language,
    write_language,
)
from ngramsim.io import write_text_atomic
from ngramsim.strategies import languages


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(languages())
def test_round_trip_preserves_every_probability(tmp_path, language):
    path = tmp_path / "lang.json"
    write_language(language, path)
    back = read_language(path)
    assert (back.vocab_size, back.order, back.name) == (language.vocab_size, language.order, language.name)
    # SPEC §1 asks for 1 ulp; validation is idempotent, so the round trip is exact.
    np.testing.assert_array_equal(back.transitions, language.transitions)
    np.testing.assert_array_equal(back.initial, language.initial)
    assert language_sha256(back) == language_sha256(language)


@pytest.mark.parametrize(
    "language",
    [window_language(7, 3), uniform_language(3, 3), dirichlet_language(4, 3, forbidden=0.3, rng=9)],
    ids=["window", "uniform", "dirichlet"],
)
def test_constructor_languages_round_trip_bit_for_bit(tmp_path, language):
    path = tmp_path / "lang.json"
    write_language(language, path)
    back = read_language(path)
    np.testing.assert_array_equal(back.transitions, language.transitions)
    np.testing.assert_array_equal(back.initial, language.initial)
    assert back.meta == language.meta
    assert language_sha256(back) == language_sha256(language)


def test_sha256_follows_spec_definition():
    language = window_language(4, 2)
    text = json.dumps(
        {
            "vocab_size": 4,
            "order": 2,
            "transitions": [[0.5 if (b - a) % 4 < 2 else 0.0 for b in range(4)] for a in range(4)],
            "initial": [0.25] * 4,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    assert language_sha256(language) == hashlib.sha256(text.encode()).hexdigest()


def test_file_has_spec_fields(tmp_path):
    path = tmp_path / "w.json"
    write_language(window_language(3, 2), path)
    data = json.loads(path.read_text())
    assert data["format"] == "ngramsim.language/1"
    assert set(data) == {"format", "vocab_size", "order", "transitions", "initial", "name", "meta"}


def test_order_one_accepts_empty_initial(tmp_path):
    path = tmp_path / "iid.json"
    path.write_text(
        json.dumps({"format": "ngramsim.language/1", "vocab_size": 2, "order": 1, "transitions": [[0.3, 0.7]], "initial": []})
    )
    language = read_language(path)
    assert language.order == 1 and list(language.initial) == [1.0]


GOOD = {
    "format": "ngramsim.language/1",
    "vocab_size": 2,
    "order": 2,
    "transitions": [[0.5, 0.5], [0.1, 0.9]],
    "initial": [0.5, 0.5],
    "name": "ok",
    "meta": {},
}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"format": "ngramsim.language/2"}, "format"),
        ({"vocab_size": 1}, "vocab_size"),
        ({"vocab_size": "2"}, "vocab_size"),
        ({"order": 0}, "order"),
        ({"order": 3}, "transitions"),
        ({"transitions": [[0.5, 0.5]]}, "transitions"),
        ({"transitions": [[0.5, 0.5], [0.1, 0.8]]}, "transitions"),
        ({"transitions": [[0.5, 0.5], [0.1, 0.9, 0.0]]}, "transitions"),
        ({"transitions": [[0.5, 0.5], [-0.1, 1.1]]}, "transitions"),
        ({"transitions": [[0.5, 0.5], ["a", 0.9]]}, "transitions"),
        ({"transitions": [[0.5, 0.5], [True, 0.9]]}, "transitions"),
        ({"transitions": [[0.5, 0.5], [float("nan"), 0.9]]}, "transitions"),
        ({"initial": [1.0]}, "initial"),
        ({"initial": [0.7, 0.7]}, "initial"),
        ({"initial": "uniform"}, "initial"),
        ({"name": 3}, "name"),
        ({"meta": []}, "meta"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_file_names_the_field(tmp_path, change, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**GOOD, **change}))
    with pytest.raises(LanguageFormatError, match=field):
        read_language(path)


@pytest.mark.parametrize("field", ["format", "vocab_size", "order", "transitions", "initial"])
def test_missing_field_is_named(tmp_path, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({k: v for k, v in GOOD.items() if k != field}))
    with pytest.raises(LanguageFormatError, match=f"missing field '{field}'"):
        read_language(path)


def test_not_json_and_missing_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(LanguageFormatError, match="not valid JSON"):
        read_language(path)
    path.write_text("[1, 2]")
    with pytest.raises(LanguageFormatError, match="JSON object"):
        read_language(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_language(tmp_path / "absent.json")


def test_write_is_atomic_and_leaves_no_temporaries(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "w.json"
    write_language(window_language(3, 2), path)
    assert [p.name for p in path.parent.iterdir()] == ["w.json"]
    with pytest.raises(TypeError, match="language"):
        write_language(language_to_dict(window_language(3, 2)), path)


# ------------------------------------------------------------------ safe file writes
def test_new_files_follow_the_umask_and_existing_ones_keep_their_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "w.json"
        write_language(window_language(3, 2), path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o640)
        write_language(window_language(4, 2), path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert read_language(path).vocab_size == 4
    finally:
        os.umask(old)


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_language(window_language(3, 2), tmp_path / "nope" / "w.json")
    assert not (tmp_path / "nope").exists()


def test_symlink_is_written_through_and_kept(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    write_language(window_language(3, 2), real)
    link.symlink_to(real)
    write_language(window_language(5, 2), link)
    assert link.is_symlink() and read_language(real).vocab_size == 5


def test_character_devices_and_fifos_are_written_through(tmp_path):
    write_text_atomic("/dev/null", "x")  # not replaced by a regular file
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_text_atomic(fifo, "hello")
    reader.join(timeout=10)
    assert got == ["hello"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_directories_and_unwritable_targets_are_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        write_text_atomic(tmp_path, "x")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(PermissionError):
            write_text_atomic(locked / "f.txt", "x")
