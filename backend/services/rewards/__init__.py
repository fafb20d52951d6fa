"""有奖举报 (citizens' rewards): the reward rules, the abuse signals on a claim, claims with their decisions,
the ledger, suspensions and the identity reveal, and the payouts (WeChat Pay merchant transfer or offline)."""
