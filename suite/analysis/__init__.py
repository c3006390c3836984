"""Analysis: stored runs are read into tidy tables (`collect`), summarised (`stats`) and compared
(`significance`, with the exact tests in `exact` and the Bayesian comparison in `bayesian`). It reads stores
only: it never runs a search, and it renders nothing."""
