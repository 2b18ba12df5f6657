"""Introducing brokers: partners, the effective-dated tree, attribution, schemes, the commission engine,
recomputes, the scheme simulator and payouts (DESIGN.md §8).

The calculation core (:mod:`ib.network`, :mod:`ib.rules`, :mod:`ib.calculation`) is pure: it knows no
database. The engine, recompute and simulator all feed it, so production and the simulator can't
disagree. Everything that moves money goes through :mod:`ledger.posting`.
"""
