import os

import pytest
from hypothesis import HealthCheck, settings

# deadline=None: the first call of a kernel pays numba compilation.
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """``reproduce("tiny")`` in this process (the default executor): ``(out_dir, result)``, shared by the test modules."""
    from ngramsim.reproduce import reproduce

    out = tmp_path_factory.mktemp("tiny")
    result = reproduce("tiny", out, jobs=1, seed=0, progress=False)
    return out, result
