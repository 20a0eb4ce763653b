r"""Incremental selection for the adaptive samplers: the smallest keys in order without scanning every position.

A tournament tree over the positions (leaves: blocks of ``2^BLOCK_SHIFT``
positions) holds the keys of the masked ones (``val[i]``; ``+inf`` once
revealed).  A step takes keys in ascending order (:func:`choose`) by removing
the tree's minimum, ``O(log L)`` each, puts back those it does not reveal, and
collects the keys tied with the last one by a pruned walk of the tree.  Keys that change after a step are rewritten in
contiguous runs (:func:`tree_fill`, ``O(run + log L)``).  So a step costs
``O(m log L)`` for the ``m`` keys it takes, whatever the number of masked
positions.

The stream feeds SPEC's rule exactly as :func:`.adaptive.select` does on an
array: ranks are taken while :func:`.adaptive.takes` says so (``b`` = the last key
taken), then every key up to ``b + TIE`` is taken too; :func:`.adaptive.classify`
and :func:`.adaptive.draw_ties` (tied positions sorted ascending) finish the
choice.  Equal keys may leave the tree in any order: the partial sums of
``eb``/``esum`` add the same values in the same ascending order of values, and the
classification does not depend on the order.

A bitset of revealed positions answers "nearest revealed token left / right of
``i``" in ``O(log_32 L)`` (:func:`bits_pred`, :func:`bits_succ`).

Performance notes (numba 0.68, measured): a call with array arguments inside a
loop makes the caller increment and decrement the reference count of every
array it received, on every call of the caller; and a call passes every field
of every array it receives (hundreds of stack pushes for tuples of arrays).  So
the helpers used once per step or inside loops are inlined at numba's IR level,
and the comparisons avoid unpredictable branches.
"""

import numba
import numpy as np

from ngramsim._kernels.adaptive import TIE, classify, draw_ties, takes


# ------------------------------------------------------------------ tournament tree over positions
#: Positions per leaf block of the tree (2^4; a block's least key is found by a short sequential scan).
BLOCK_SHIFT = 4


@numba.njit(cache=True)
def tree_new(size):
    """A tournament tree ``(val, block_val, block_pos, node)`` over ``size`` positions with key ``+inf``.

    Leaves are blocks of ``2^BLOCK_SHIFT`` positions holding their least key ``block_val`` at
    ``block_pos`` (the first on equality); ``node`` has ``2 P`` entries (``P`` the least power
    of two ``>=`` the number of blocks ``B``): leaf ``P + c`` holds block ``c`` (the sentinel
    block ``B``, key ``+inf``, past the end), an inner node the block with the least key below it.
    """
    blocks = (size + (1 << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT
    width = 1
    while width < blocks:
        width *= 2
    node = np.full(2 * width, blocks, dtype=np.int64)
    for c in range(blocks):
        node[width + c] = c
    tree = (np.full(size, np.inf), np.full(blocks + 1, np.inf), np.zeros(blocks + 1, dtype=np.int64), node)
    tree_fill(tree, 0, size - 1)
    return tree


@numba.njit(cache=True, inline="always")
def _better(left, right, val):
    """The block with the smaller key (the left one on equality)."""
    return left if val[left] <= val[right] else right


@numba.njit(cache=True, inline="always")
def _scan_block(val, block_val, block_pos, c):
    """Recompute the least key of block ``c`` (the value kept in a register: no unpredictable branch)."""
    first = c << BLOCK_SHIFT
    best = first
    least = val[first]
    for i in range(first + 1, min(first + (1 << BLOCK_SHIFT), val.shape[0])):
        key = val[i]
        smaller = key < least
        least = key if smaller else least
        best = i if smaller else best
    block_val[c] = least
    block_pos[c] = best


@numba.njit(cache=True, inline="always")
def tree_top(tree):
    """``(position, key)`` of the least key (key ``+inf`` when every key is)."""
    c = tree[3][1]
    return tree[2][c], tree[1][c]


@numba.njit(cache=True, inline="always")
def tree_set(tree, i, key):
    """Set position ``i`` to ``key`` and repair its path; stop as soon as a node keeps an unchanged winner."""
    val, block_val, block_pos, node = tree
    val[i] = key
    c = i >> BLOCK_SHIFT
    _scan_block(val, block_val, block_pos, c)
    p = (node.shape[0] // 2 + c) >> 1
    while p >= 1:
        best = _better(node[2 * p], node[2 * p + 1], block_val)
        if best == node[p] and best != c:
            break  # same winner with the same key: nothing above changes
        node[p] = best
        p >>= 1


@numba.njit(cache=True, inline="always")
def tree_fill(tree, lo, hi):
    """Repair the tree after ``val[lo .. hi]`` changed: the blocks, then each level's parents of them, up
    to the first node whose winner is unchanged and outside the run (``O(run + log L)``)."""
    val, block_val, block_pos, node = tree
    changed_lo = lo >> BLOCK_SHIFT
    changed_hi = hi >> BLOCK_SHIFT
    for c in range(changed_lo, changed_hi + 1):
        _scan_block(val, block_val, block_pos, c)
    first = (node.shape[0] // 2 + changed_lo) >> 1
    last = (node.shape[0] // 2 + changed_hi) >> 1
    while first >= 1:
        if first == last:
            best = _better(node[2 * first], node[2 * first + 1], block_val)
            if best == node[first] and not changed_lo <= best <= changed_hi:
                return  # same winner with the same key: nothing above changes
            node[first] = best
        else:
            for p in range(first, last + 1):
                node[p] = _better(node[2 * p], node[2 * p + 1], block_val)
        first >>= 1
        last >>= 1


# ------------------------------------------------------------------ bitset of revealed positions
@numba.njit(cache=True)
def bits_new(size):
    """An empty set of positions ``0 .. size-1``: ``(words, offsets)``, 32 bits per int64 word.

    Level ``l`` holds one bit per word of level ``l - 1`` (set iff that word is non-zero);
    ``offsets[l]`` is where level ``l`` starts in ``words``; the last level is one word.
    """
    sizes = [(size + 31) // 32]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 31) // 32)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    for level in range(len(sizes)):
        offsets[level + 1] = offsets[level] + sizes[level]
    return np.zeros(offsets[-1], dtype=np.int64), offsets


@numba.njit(cache=True, inline="always")
def _highest(word):
    """Index of the highest set bit of a non-zero word below ``2^32``."""
    bit = 0
    for shift in (16, 8, 4, 2, 1):
        if word >> shift:
            word >>= shift
            bit += shift
    return bit


@numba.njit(cache=True, inline="always")
def bits_add(words, offsets, i):
    """Insert position ``i``."""
    for level in range(offsets.shape[0] - 1):
        w = offsets[level] + (i >> 5)
        before = words[w]
        words[w] = before | (1 << (i & 31))
        if before != 0:
            return
        i >>= 5


@numba.njit(cache=True)
def bits_pred(words, offsets, i):
    """The largest member below ``i`` (-1 if none)."""
    levels = offsets.shape[0] - 1
    level = 0
    while level < levels:
        word = words[offsets[level] + (i >> 5)] & ((1 << (i & 31)) - 1)
        if word != 0:
            i = ((i >> 5) << 5) + _highest(word)
            while level > 0:  # down to the largest member below this word
                level -= 1
                i = (i << 5) + _highest(words[offsets[level] + i])
            return i
        i >>= 5
        level += 1
    return -1


@numba.njit(cache=True)
def bits_succ(words, offsets, i, size):
    """The least member above ``i`` (``size`` if none)."""
    levels = offsets.shape[0] - 1
    level = 0
    i += 1
    while level < levels:
        if (i >> 5) >= offsets[level + 1] - offsets[level]:
            return size
        word = words[offsets[level] + (i >> 5)] & ~((1 << (i & 31)) - 1)
        if word != 0:
            i = ((i >> 5) << 5) + _highest(word & -word)
            while level > 0:  # down to the least member of this word
                level -= 1
                word = words[offsets[level] + i]
                i = (i << 5) + _highest(word & -word)
            return i
        i = (i >> 5) + 1
        level += 1
    return size


# ------------------------------------------------------------------ one step
@numba.njit(cache=True)
def work_new(length):
    """Scratch of :func:`choose`: ``(emit_keys, emit_pos, sure, tied, merged, stack)``."""
    return (np.empty(length), np.empty(length, dtype=np.int64), np.empty(length, dtype=np.int64),
            np.empty(length, dtype=np.int64), np.empty(length, dtype=np.int64), np.empty(130, dtype=np.int64))


@numba.njit(cache=True)
def sort_prefix(values, n):
    """Sort ``values[:n]`` in place: insertion sort when short (numba's quicksort costs more there)."""
    if n > 16:
        values[:n].sort()
        return
    for i in range(1, n):
        item = values[i]
        j = i - 1
        while j >= 0 and values[j] > item:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = item


@numba.njit(cache=True, inline="always")
def _collect(tree, limit, work, emitted):
    """Append every position with key ``<= limit`` to the emitted keys, by position (depth-first, pruned)."""
    val, block_val, node = tree[0], tree[1], tree[3]
    emit_keys, emit_pos, stack = work[0], work[1], work[5]
    width = node.shape[0] // 2
    top = 1
    stack[0] = 1
    while top > 0:
        top -= 1
        p = stack[top]
        c = node[p]
        if block_val[c] > limit:
            continue  # nothing below qualifies
        if p < width:
            stack[top] = 2 * p + 1
            stack[top + 1] = 2 * p
            top += 2
            continue
        for i in range(c << BLOCK_SHIFT, min((c + 1) << BLOCK_SHIFT, val.shape[0])):
            if val[i] <= limit:
                emit_keys[emitted] = val[i]
                emit_pos[emitted] = i
                emitted += 1
    return emitted


@numba.njit(cache=True, inline="always")
def _merge(values, head, n, out):
    """Sort ``values[:n]`` whose tail ``values[head:n]`` is already sorted: sort the head, merge into ``out``."""
    sort_prefix(values, head)
    i, j = 0, head
    for m in range(n):
        if j >= n or (i < head and values[i] <= values[j]):
            out[m] = values[i]
            i += 1
        else:
            out[m] = values[j]
            j += 1


@numba.njit(cache=True, inline="always")
def _smallest(rule, size, gamma, tree, emit_keys, emit_pos):
    """Remove keys from the tree in ascending order while :func:`.adaptive.takes` accepts them; return how many."""
    k = 0
    acc = 0.0
    while True:
        i, key = tree_top(tree)
        if key == np.inf or not takes(rule, k, acc, size, gamma):
            return k
        acc += key
        emit_keys[k] = key
        emit_pos[k] = i
        k += 1
        tree_set(tree, i, np.inf)


@numba.njit(cache=True, inline="always")
def _put_back(tree, emit_keys, emit_pos, k, out):
    """After choosing ``out[:k]`` (sorted): the first ``k`` removed keys (``emit_keys``, ``emit_pos``) that are
    not revealed go back in the tree, and the revealed ones that were only collected go out."""
    val = tree[0]
    for j in range(k):
        if not _contains(out, k, emit_pos[j]):
            tree_set(tree, emit_pos[j], emit_keys[j])
    for j in range(k):
        if val[out[j]] < np.inf:
            tree_set(tree, out[j], np.inf)


@numba.njit(cache=True, inline="always")
def choose(rule, size, gamma, stream, tree, work, out):
    """SPEC's adaptive choice from the keys in ``tree``; positions ascending in ``out``, return ``k``.

    Same result as :func:`.adaptive.select` on the array of all keys (module docstring):
    keys leave the tree in ascending order while :func:`.adaptive.takes` accepts them
    (``k`` of them, the last one ``b``); then every remaining key up to ``b + TIE`` is
    collected by a pruned walk of the tree, in position order, without removing it.
    The revealed positions keep ``val = +inf``; the others taken are put back.
    """
    emit_keys, emit_pos, sure, tied, merged = work[0], work[1], work[2], work[3], work[4]
    k = _smallest(rule, size, gamma, tree, emit_keys, emit_pos)
    bound = emit_keys[k - 1]
    emitted = _collect(tree, bound + TIE, work, k)
    num_sure, num_tied = classify(emit_keys, emit_pos, emitted, bound, sure, tied)
    # The tied keys among the first k come first in ``tied``; the collected ones follow, sorted.
    head = num_tied - (emitted - k)
    _merge(tied, head, num_tied, merged)
    for j in range(num_sure):
        out[j] = sure[j]
    draw_ties(stream, k - num_sure, merged, num_tied, out, num_sure)
    sort_prefix(out, k)
    _put_back(tree, emit_keys, emit_pos, k, out)
    return k


@numba.njit(cache=True, inline="always")
def _contains(values, n, item):
    """Whether ``item`` is among the sorted ``values[:n]`` (binary search)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < item:
            lo = mid + 1
        else:
            hi = mid
    return lo < n and values[lo] == item
