"""Checks of a method, built-in or plugin, against the protocol that makes comparisons fair
(`nasrepro check-method`): protocol.py runs them, reach.py walks what a method can reach, trace.py is
the child process that reruns a method for the determinism check."""
