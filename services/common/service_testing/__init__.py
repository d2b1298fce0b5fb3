"""Test support shared by the services' tests: real servers started per session; never in an image."""
