"""Risk and abuse monitoring: scheduled rules raise alerts that staff assign and resolve (issue 9).

Rules read the cashier, the bridge's deals, KYC documents, sessions and IB attribution; they never
move money.
"""
