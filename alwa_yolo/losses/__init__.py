"""Detection criteria whose terms are combined by a loss-weighting strategy."""
