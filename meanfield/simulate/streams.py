"""Random streams of the samplers: one Generator for a whole stack of networks, or one per network.

The samplers of :mod:`meanfield.simulate` draw layer by layer for a stack of networks.  From one
numpy Generator (docs/conventions.md §8) network k's draws then depend on how many networks are
drawn together; from a :class:`NetworkStreams` (one Generator per network) they do not, which is what
makes :func:`meanfield.simulate.sweep` independent of how its networks are split into tasks.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from .. import validation as check
from ..errors import ParameterError
from ..validation import generator

__all__ = ["NetworkStreams"]


def _lead(n_networks: int | None) -> tuple[int, ...]:
    return () if n_networks is None else (n_networks,)


def _n_networks(n_networks) -> int | None:
    return None if n_networks is None else check.positive_int("n_networks", n_networks)


class NetworkStreams:
    """One random stream per network: network k draws only from ``generators[k]``.

    From one Generator the samplers draw layer by layer for the whole stack, so network k's weights
    depend on how many networks are sampled together (docs/conventions.md §8).  Every sampler of
    :mod:`meanfield.simulate` that takes ``rng``/``seed`` also takes a NetworkStreams; each array is then
    drawn network by network, network k from its own Generator, into one stacked array.  The draws of
    network k come in the same order as for a one-network sample, so network k of a stack sampled
    with ``NetworkStreams(gens)`` is exactly the one-network sample with ``seed=gens[k]``, whatever the
    other networks of the stack.  :func:`meanfield.simulate.sweep` relies on this: its results do not
    depend on how the networks are split into tasks.

    Parameters
    ----------
    generators : sequence of numpy.random.Generator
        At least one; the stack has ``len(generators)`` networks.
    """

    def __init__(self, generators: Sequence[np.random.Generator]):
        try:
            gens = tuple(generators)
        except TypeError:
            gens = ()
        if not gens or not all(isinstance(g, np.random.Generator) for g in gens):
            raise ParameterError(f"NetworkStreams needs a non-empty sequence of numpy Generators, got {generators!r}")
        self.generators = gens

    @classmethod
    def spawn(cls, seed: Union[int, np.random.SeedSequence], key: Sequence[int] = (), start: int = 0,
              stop: int = 1) -> "NetworkStreams":
        """The streams of networks ``start .. stop - 1`` in the spawn tree of ``seed`` under ``key``.

        Network k gets ``default_rng(SeedSequence(entropy, spawn_key=spawn_key + key + (k,)))`` where
        (entropy, spawn_key) are those of ``SeedSequence(seed)`` (or of ``seed`` itself): the same
        streams as ``SeedSequence(seed).spawn(...)`` along the path ``key`` then ``k``, so networks
        are independent of each other and of every other key (O'Neill's SeedSequence hashing).
        """
        root = _seed_sequence(seed)
        key = tuple(check.positive_int("key", k, 0) for k in key)
        start = check.positive_int("start", start, 0)
        stop = check.positive_int("stop", stop, start + 1)
        return cls(
            np.random.default_rng(
                np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + key + (k,), pool_size=root.pool_size)
            )
            for k in range(start, stop)
        )

    def __len__(self) -> int:
        return len(self.generators)

    def __getitem__(self, index: slice) -> "NetworkStreams":
        if not isinstance(index, slice):
            raise ParameterError(f"NetworkStreams are sliced (streams[a:b]), got the index {index!r}")
        return NetworkStreams(self.generators[index])

    def __repr__(self) -> str:
        return f"NetworkStreams({len(self)} networks)"

    def standard_normal(self, shape: tuple[int, ...]) -> np.ndarray:
        """Standard normal draws of shape (len(self),) + shape; row k from ``generators[k]``."""
        out = np.empty((len(self),) + tuple(shape))
        for row, gen in zip(out, self.generators):
            gen.standard_normal(tuple(shape), out=row)
        return out


def _seed_sequence(seed) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence: an integer >= 0 or a SeedSequence (a reproducible spawn tree needs one)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(
            f"seed must be an integer >= 0 or a numpy SeedSequence (the root of a spawn tree of per-network "
            f"streams; a Generator's state cannot be split reproducibly), got {seed!r}"
        )
    return np.random.SeedSequence(int(seed))


def _source(rng, n_networks: int | None):
    """(stream, n_networks): a NetworkStreams with its length (n_networks must match if given), or a
    Generator from ``rng`` (see :func:`meanfield.validation.generator`) with n_networks checked."""
    n_networks = _n_networks(n_networks)
    if isinstance(rng, NetworkStreams):
        if n_networks is not None and n_networks != len(rng):
            raise ParameterError(f"n_networks={n_networks} but {len(rng)} network streams were given")
        return rng, len(rng)
    return generator(rng), n_networks


def _normal(rng, n_networks: int | None, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals of shape lead + shape from a Generator (lead = (n_networks,) or ()) or from
    one stream per network (lead = (len(rng),))."""
    if isinstance(rng, NetworkStreams):
        return rng.standard_normal(shape)
    return rng.standard_normal(_lead(n_networks) + tuple(shape))
