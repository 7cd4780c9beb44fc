"""Smoke tests of the endpoint: a deploy-time check behind a CDK trigger and a scheduled canary.

The construct is in ``construct``, the Lambda code in ``runtime/`` (deployed as it is, with
no build step), and the handlers' environment in ``environment``, which imports no CDK
module so that the rehearsal can use it cheaply.
"""
