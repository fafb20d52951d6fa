"""Accountability (考核、通报、月报): the assignment ledger the state machine writes, the figures read from it,
the composite ranking, the briefings built from both, and the case export."""
