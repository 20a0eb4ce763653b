"""Refactoring changes no result: the same seeds give the recorded samples and numbers (tests/same_bits.py).

The fixture was recorded before the restructuring of the code.  Every integer output
(samples, NFEs, step records, fallbacks) must be identical.  Floats may move at rounding
level only, for two stated reasons: the tempered model rows ``p_theta`` now have one
implementation (the kernel's; ``ser_one_step``/``ser_autoregressive`` moved by at most 16
ulps), and stationary laws come from GTH elimination (at most 7 ulps on ``mu`` of the
Dirichlet languages, amplified up to ~2e-13 relative in sums with cancellation such as KL
and Phi).  Anything beyond 1e-11 relative is a change of result, not of rounding.
"""

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
            np.testing.assert_allclose(value, want, rtol=1e-11, atol=1e-14, equal_nan=True, err_msg=name)
