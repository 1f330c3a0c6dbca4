"""The write path: the recorder, the agent loop, providers, spool and crash safety."""
