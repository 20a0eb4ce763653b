"""Private numba kernels over plain arrays.

Kernels do no argument checking: the public wrappers in :mod:`ngramsim`
validate once and pass contiguous arrays of the documented dtypes.  All
randomness arrives as pre-drawn uniforms, so results do not depend on the
number of threads.
"""
