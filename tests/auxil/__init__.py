"""Test helpers: local servers and database provisioning."""
