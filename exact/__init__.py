"""sigprop's exact finite-width package (Gaussian ReLU networks).

Imports meanfield, never the other way round.  The laws themselves are not implemented yet; the
``exact`` command says so.
"""
