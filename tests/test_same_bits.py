"""Refactoring changes no result: the same seeds give the recorded samples and numbers (tests/same_bits.py)."""

import numpy as np

from tests.same_bits import PATH, record


def test_outputs_equal_the_recorded_fixture():
    stored = np.load(PATH)
    arrays = record()
    assert sorted(arrays) == sorted(stored.files)
    for name, value in arrays.items():
        want = stored[name]
        assert value.shape == want.shape, name
        if np.issubdtype(want.dtype, np.integer):
            np.testing.assert_array_equal(value, want, err_msg=name)
        else:
            # Bit for bit on the recording machine; a few ulps allowed for other vector units.
            assert np.array_equal(np.isnan(value), np.isnan(want)), name
            finite = ~np.isnan(want)
            np.testing.assert_array_max_ulp(value[finite], want[finite], maxulp=64)
