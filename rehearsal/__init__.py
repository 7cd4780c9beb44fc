"""Local stand-ins for AWS, used by the tests and by `make rehearse`."""
