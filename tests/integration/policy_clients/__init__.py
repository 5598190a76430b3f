"""Helpers of the policy integration tests (test_policy_*.py): the example
policy of policies/readonly-agent.yaml served by a real pgwarden, its
statement corpus, a database to run it in, and the fingerprint that shows a
refused statement changed nothing. Client programs for node-postgres and
JDBC live next to this file."""
