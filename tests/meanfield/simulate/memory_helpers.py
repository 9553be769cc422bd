"""Shared by the sweep tests of both packages: the peak memory tracemalloc sees while a quantity samples."""
import tracemalloc

from meanfield import simulate as sim


def sampled_peak(quantity, config, n: int = 3) -> int:
    """Peak bytes traced while ``quantity`` samples a chunk of ``n`` networks of ``config`` (numpy reports its
    allocations to tracemalloc), after one untraced chunk: one-time costs of a first call (lazy imports and
    their caches) are not the per-task memory the quantity states, and made the bound depend on test order."""
    quantity.sample(config, sim.NetworkStreams.spawn(0, (0,), 0, n))
    tracemalloc.start()
    try:
        quantity.sample(config, sim.NetworkStreams.spawn(0, (0,), 0, n))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
