"""Sales incentives on recognised revenue: plans as data, accrual, clawback and statements."""
